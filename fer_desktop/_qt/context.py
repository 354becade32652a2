"""The state every panel may read and the signals it may listen to. Panels get this, never
the main window: a new panel (confusion browser, relabeling, retraining) plugs in without
the window knowing it (Spyder's plugin / napari's viewer model)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from fer_desktop.results import FrameResult, ModelInfo


class AppContext(QObject):
    resultShown = Signal(object)  # FrameResult, after the frame view shows it
    modelChanged = Signal(object)  # ModelInfo
    modelFailed = Signal(str)  # a model could not be loaded (the one before, if any, stays)
    selectionChanged = Signal(object)  # track id or None
    smoothingChanged = Signal(bool)
    message = Signal(str, str)  # text, level ("info" | "warning" | "error")
    # Requests a panel or tool makes; whoever can serve one listens (the review tool opens
    # datasets and shows samples, the main window loads models).
    openDatasetRequested = Signal(object)  # DatasetRequest
    showSamplesRequested = Signal(list, str)  # sample ids, title
    modelRequested = Signal(str)  # model path for the live view ("" = the bundled one)
    jobStarted = Signal(object)  # fer_desktop._qt.jobs.Job, just started
    # What changed in the data under review.
    datasetOpened = Signal(object)  # fer_desktop.review.ReviewSession
    labelsChanged = Signal(str, list)  # dataset key, ids whose label state changed (journal written)

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: FrameResult | None = None
        self.model: ModelInfo | None = None
        self.selected_id: int | None = None
        self.smoothing = True
        self.jobs: list = []  # running Jobs
        self.review = None  # the open ReviewSession, if any

    # -- state changes; each emits its signal --

    def show_result(self, result: FrameResult) -> None:
        self.result = result
        # Keep the user's choice while that face is tracked; otherwise the largest face.
        if result.face(self.selected_id) is None:
            new = result.faces[0].track_id if result.faces else None
            if new != self.selected_id:
                self.selected_id = new
                self.selectionChanged.emit(new)
        self.resultShown.emit(result)

    def select(self, track_id: int | None) -> None:
        if track_id != self.selected_id:
            self.selected_id = track_id
            self.selectionChanged.emit(track_id)
            if self.result is not None:
                self.resultShown.emit(self.result)

    def set_smoothing(self, on: bool) -> None:
        if on != self.smoothing:
            self.smoothing = on
            self.smoothingChanged.emit(on)
            if self.result is not None:
                self.resultShown.emit(self.result)

    def set_model(self, info: ModelInfo) -> None:
        self.model = info
        self.modelChanged.emit(info)

    def report(self, text: str, level: str = "info") -> None:
        self.message.emit(text, level)

    # -- requests --

    def request_open_dataset(self, path: str, split: str | None = None, model: str | None = None,
                             journal: str | None = None) -> None:
        """Open a labelled dataset for review (the review tool serves it)."""
        from fer_desktop.review import DatasetRequest

        self.openDatasetRequested.emit(DatasetRequest(str(path), split, model, journal))

    def request_show_samples(self, ids: list[str], title: str) -> None:
        """Show these sample ids of the open dataset in the review grid."""
        self.showSamplesRequested.emit(list(ids), title)

    def request_model(self, path: str) -> None:
        self.modelRequested.emit(path)

    def start_job(self, job):
        """Start a Job (fer_desktop._qt.jobs) and announce it: status bars show its progress."""
        self.jobs.append(job)
        job.finished.connect(lambda: self.jobs.remove(job) if job in self.jobs else None)
        job.start()
        self.jobStarted.emit(job)
        return job

    def dataset_opened(self, session) -> None:
        self.review = session
        self.datasetOpened.emit(session)

    def labels_changed(self, dataset: str, ids: list[str]) -> None:
        self.labelsChanged.emit(dataset, list(ids))

    # -- queries --

    def classes(self) -> list[str]:
        if self.result is not None and self.result.classes:
            return self.result.classes
        return self.model.classes if self.model is not None else []
