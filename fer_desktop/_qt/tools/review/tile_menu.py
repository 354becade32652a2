"""A tile's right-click menu: the window's own label actions for the selection, then what to do
with the files behind it (copy ids or paths, open the image, or the photo a face was cut from)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from fer_desktop._qt.tools.review.window import ReviewWindow


def tile_menu(win: ReviewWindow, samples: list[int]) -> QMenu:
    """The menu for ``samples`` (the selection the right click made or kept)."""
    s = win.session
    menu = QMenu(win)
    if s is None or not samples:
        return menu
    n = len(samples)
    labels = menu.addMenu("&Label" if n == 1 else f"&Label {n} Faces")
    for act in win.label_actions[: len(s.classes)]:
        labels.addAction(act)
    for act in (win.act_accept, win.act_exclude, win.act_withdraw):
        menu.addAction(act)
    menu.addSeparator()
    if n == 1:
        menu.addAction(win.act_copies)
        origin = s.origins[samples[0]]
        if origin is not None and origin.track is not None:
            menu.addAction(win.act_track)
    ids = [s.ids[i] for i in samples]
    paths = [p for p in (s.paths[i] for i in samples) if p]
    menu.addAction(f"Copy Id{'s' * (n > 1)}", lambda: _copy("\n".join(ids)))
    if paths:
        menu.addAction(f"Copy Path{'s' * (len(paths) > 1)}", lambda: _copy("\n".join(paths)))
    if n == 1 and paths:
        menu.addAction("Open Image File", lambda: _open(paths[0]))
        menu.addAction("Show in Folder", lambda: _open(str(Path(paths[0]).parent)))
    origin = s.origins[samples[0]] if n == 1 else None
    if origin is not None:
        menu.addAction(f"Open {Path(origin.image).name}", lambda: _open(origin.image))
    return menu


def _copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def _open(path: str) -> None:
    """The desktop's own viewer or file manager (a sandbox without one: nothing happens)."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(path))
