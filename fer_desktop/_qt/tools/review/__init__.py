"""The review workspace: browse a model's mistakes on a labelled dataset, rank likely label
errors, relabel with undo, export. Installs the main window's *Review* menu; the work happens
in a :class:`~fer_desktop._qt.tools.review.window.ReviewWindow` of its own."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu, QWidget

from fer_desktop._qt.context import AppContext
from fer_desktop._qt.panels import ToolSpec, menu_action
from fer_desktop._qt.tools.review.recent import fill_recent_menu
from fer_desktop.review import DatasetRequest


class ReviewTool(QObject):
    """The Review menu of the main window, and the review window it opens (made on first use)."""

    def __init__(self, ctx: AppContext, menu: QMenu) -> None:
        super().__init__(menu)
        self.ctx = ctx
        self._window = None
        self.act_open = menu_action(menu, "&Open Dataset…", lambda: self.window().open_dialog(), "Ctrl+R")
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(self.recent_menu, ctx.settings, self.open))
        self.act_every_face = menu_action(
            menu, "Review Every &Face Here", lambda: self.every_face_here(),
            tip="Every face of the video on screen (one frame a second), or of the photos in the folder of the "
                "image on screen, one sample a face, to label and retrain on")
        self.act_show = menu_action(menu, "&Show Review Window", self.show_window)
        menu.addSeparator()
        self.act_export_journal = menu_action(menu, "Export &Journal…", lambda: self.window().export_journal())
        self.act_export_csv = menu_action(menu, "Export Ranked &CSV…", lambda: self.window().export_csv())
        self.act_export_data = menu_action(menu, "Export Corrected &Dataset…", lambda: self.window().export_dataset())
        for act in (self.act_export_journal, self.act_export_csv, self.act_export_data):
            act.setEnabled(False)
        ctx.openDatasetRequested.connect(self.open)
        ctx.showSamplesRequested.connect(self.show_ids)
        ctx.datasetOpened.connect(self._dataset_opened)

    def window(self):
        """The review window (one per app), beside the main window and closed with it."""
        if self._window is None:
            from fer_desktop._qt.tools.review.window import ReviewWindow

            parent = self.ctx.parent()
            self._window = ReviewWindow(self.ctx, parent if isinstance(parent, QWidget) else None)
        return self._window

    def show_window(self):
        win = self.window()
        win.show()
        win.raise_()
        win.activateWindow()
        return win

    def open(self, request: DatasetRequest) -> None:
        self.show_window().open_dataset(request)

    def every_face_here(self) -> DatasetRequest | None:
        """Open the source on screen in the review window with every face (a camera has no files)."""
        packet = self.ctx.result.packet if self.ctx.result is not None else None
        if packet is None or packet.kind == "camera":
            self.ctx.message.emit("Open a video, an image or a folder of images first: their faces are then "
                                  "reviewed one by one.", "warning")
            return None
        source = packet.name if packet.kind == "video" else str(Path(packet.path or packet.name).parent)
        model = self.ctx.model.path if self.ctx.model is not None else None
        request = DatasetRequest(source, model=str(model) if model else None, every_face=True)
        self.open(request)
        return request

    def show_ids(self, ids: list[str], title: str) -> int:
        return self.show_window().show_ids(ids, title)

    def _dataset_opened(self, _session) -> None:
        for act in (self.act_export_journal, self.act_export_csv, self.act_export_data):
            act.setEnabled(True)


def review_tool() -> ToolSpec:
    return ToolSpec("Review", "&Review", ReviewTool)
