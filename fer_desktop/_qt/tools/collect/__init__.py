"""Collect faces from the live view into a dataset of one's own: *Collect ▸ Save Face as …*
(Alt+1…7, Alt+0 unlabelled) saves the selected face of the frame on screen into a folder of
class folders (:class:`fer_desktop.collect.FaceCollection`), which the review window opens to
check and label, and *Training ▸ Retrain…* trains on. Talks to the rest only through the
AppContext: the frame and the selected face come from it, the review is asked for by request."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from fer_desktop._qt.context import AppContext
from fer_desktop._qt.errors import guarded
from fer_desktop._qt.panels import ToolSpec, menu_action
from fer_desktop._qt.settings import value
from fer_desktop.collect import FaceCollection
from fer_desktop.review import DatasetRequest
from trainer.classes import BASIC_CLASSES

FOLDER_KEY = "collect/folder"


def default_folder() -> Path:
    from trainer.data.relabel import user_data_dir

    return user_data_dir() / "faces"


class CollectTool(QObject):
    """The Collect menu: where faces go, one action per label, and a way to review them."""

    def __init__(self, ctx: AppContext, menu: QMenu) -> None:
        super().__init__(menu)
        self.ctx = ctx
        self.menu = menu
        self.act_folder = menu_action(menu, "Choose &Folder…", lambda: self.choose_folder(),
                                      tip="Where saved faces go: one folder per class, unlabelled/ for the rest")
        menu.addSeparator()
        self.label_actions: list[QAction] = []
        self.act_unlabelled = menu_action(menu, "Save Face &Unlabelled", lambda: self.save(None), "Alt+0",
                                          "Save the selected face without a label, to label later in the review")
        menu.addSeparator()
        self.act_review = menu_action(menu, "&Review Collected Faces", self.review,
                                      tip="Open the folder in the review window: check, label, export, retrain")
        self.ctx.modelChanged.connect(lambda _model: self._fill_label_actions())
        self._fill_label_actions()

    @property
    def classes(self) -> tuple[str, ...]:
        model = self.ctx.model
        return tuple(model.classes) if model is not None else BASIC_CLASSES

    def _fill_label_actions(self) -> None:
        """One "Save Face as <class>" per class of the model in use (Alt+1 …)."""
        for act in self.label_actions:
            self.menu.removeAction(act)
            act.deleteLater()
        self.label_actions = [
            menu_action(self.menu, f"Save Face as {name}", lambda _=False, c=name: self.save(c),
                        f"Alt+{k + 1}" if k < 9 else None, f"Save the selected face into {name.capitalize()}/",
                        before=self.act_unlabelled)
            for k, name in enumerate(self.classes)]

    @property
    def folder(self) -> Path:
        return Path(value(self.ctx.settings, FOLDER_KEY, str(default_folder()), str))

    def choose_folder(self, path: str | None = None) -> None:
        parent = self.ctx.parent()
        path = path or QFileDialog.getExistingDirectory(parent if isinstance(parent, QWidget) else None,
                                                        "Collect faces into", str(self.folder))
        if path:
            self.ctx.settings.setValue(FOLDER_KEY, str(path))
            self.ctx.message.emit(f"Faces will be saved into {path}", "info")

    @guarded
    def save(self, label: str | None) -> Path | None:
        """Save the selected face of the frame on screen (the largest when none is selected)."""
        result = self.ctx.result
        face = None if result is None else result.face(self.ctx.selected_id) or (result.faces[0] if result.faces
                                                                                  else None)
        if face is None:
            self.ctx.message.emit("No face to save: open the webcam, a video or an image with a face.", "warning")
            return None
        collection = FaceCollection(self.folder, self.classes)
        others = [f.face.box for f in result.faces if f is not face]
        path = collection.save(result.frame, face.face.box, label, others)
        counts = ", ".join(f"{name} {n}" for name, n in collection.counts().items())
        self.ctx.message.emit(f"Saved {path.parent.name}/{path.name} in {collection.root} ({counts})", "info")
        return path

    def review(self) -> None:
        if not self.folder.is_dir():
            self.ctx.message.emit(f"No faces collected yet in {self.folder}.", "warning")
            return
        self.ctx.openDatasetRequested.emit(DatasetRequest(str(self.folder)))


def collect_tool() -> ToolSpec:
    return ToolSpec("Collect", "&Collect", CollectTool)
