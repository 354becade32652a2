"""Per-frame class probabilities of a whole video, as CSV (Qt-free; the GUI runs it in a worker)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

from fer_desktop.results import face_label
from fer_desktop.sources import VideoSource
from trainer.inference.live import LivePipeline

Progress = Callable[[int, int], None]


def csv_header(classes: list[str]) -> list[str]:
    return ["frame", "time_s", "track_id", "x", "y", "w", "h", "score", "label", "confidence"] + \
        [f"p_{c}" for c in classes]


def export_video_csv(video: str | Path, out: str | Path, live: LivePipeline, classes: list[str], *,
                     progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> int:
    """One row per face per frame (a frame without faces gets one row with empty face
    columns, so every frame is there). The raw, unsmoothed probabilities. Returns the rows
    written; a cancelled export leaves the rows written so far."""
    source = VideoSource(video)
    live.reset()
    rows = 0
    total = source.frame_count
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(csv_header(classes))
            index = 0
            while True:
                if cancelled is not None and cancelled():
                    break
                frame = source.read()
                if frame is None:
                    break
                t = f"{index / source.fps:.3f}"
                faces = live.process(frame)
                if not faces:
                    writer.writerow([index, t] + [""] * (len(classes) + 8))
                    rows += 1
                for f in faces:
                    label, conf = face_label(classes, f.probs)
                    writer.writerow([index, t, f.track_id, *[int(v) for v in f.face.box],
                                     f"{float(getattr(f.face, 'score', 1.0)):.4f}", label, f"{conf:.4f}",
                                     *[f"{float(p):.5f}" for p in f.probs]])
                    rows += 1
                index += 1
                if progress is not None:
                    progress(index, max(total, index))
    finally:
        source.close()
    return rows
