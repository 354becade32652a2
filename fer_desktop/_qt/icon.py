"""The application icon (fer_desktop/icons/: SVG, and a 256-px PNG for desktop files)."""

from __future__ import annotations

from importlib.resources import files

from PySide6.QtGui import QIcon


def app_icon() -> QIcon:
    """The icon, or an empty one when the package data is missing (the app still runs)."""
    icons = files("fer_desktop") / "icons"
    for name in ("fer-desktop.svg", "fer-desktop.png"):
        path = icons / name
        if path.is_file():
            return QIcon(str(path))
    return QIcon()
