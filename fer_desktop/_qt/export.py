"""Saving what is shown: a snapshot (annotated PNG + JSON), and a video's per-frame
probabilities as CSV in a worker thread with progress."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from fer_desktop.results import FrameResult, result_to_dict


def save_snapshot(result: FrameResult, png_path: str | Path, *, selected_id: int | None,
                  smoothed: bool) -> tuple[Path, Path]:
    """``NAME.png`` (the frame with boxes and labels) and ``NAME.json`` (the probabilities)."""
    from fer_desktop._qt.annotate import annotated_image

    png = Path(png_path)
    if png.suffix.lower() != ".png":
        png = png.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    image = annotated_image(result.frame, result.faces, result.classes, selected_id=selected_id, smoothed=smoothed)
    if not image.save(str(png), "PNG"):
        raise OSError(f"could not write {png}")
    data = result_to_dict(result, smoothed=smoothed)
    data["selected_track_id"] = selected_id
    js = png.with_suffix(".json")
    js.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return png, js


class CsvExportWorker(QObject):
    """Runs in its own thread with its own model instance: the live view keeps going."""

    progress = Signal(int, int)  # frames done, total
    finished = Signal(str, int)  # csv path, rows
    failed = Signal(str)

    def __init__(self, video: str, out: str, model_path: str | None, detector: str | None = None) -> None:
        super().__init__()
        self.video = video
        self.out = out
        self.model_path = model_path
        self.detector = detector
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: called directly from the GUI thread (the worker's loop never yields)."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        try:
            from fer_desktop.engine import load_engine
            from fer_desktop.export_csv import export_video_csv
            from trainer.inference.live import LiveConfig

            # Every frame detected: the export is for analysis, not for speed.
            engine = load_engine(self.model_path, LiveConfig(detect_every=1), detector=self.detector, warm_up=False)
            rows = export_video_csv(self.video, self.out, engine.live, engine.info.classes,
                                    progress=self.progress.emit, cancelled=self._cancel.is_set)
        except Exception as exc:
            self.failed.emit(f"CSV export failed: {exc}")
            return
        if self._cancel.is_set():
            self.failed.emit(f"CSV export cancelled ({rows} rows written to {self.out}).")
            return
        self.finished.emit(self.out, rows)
