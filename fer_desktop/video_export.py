"""A whole video through the live pipeline, off the GUI thread (Qt-free; the GUI runs these in
a worker): per-frame class probabilities as CSV, or the video with its faces annotated."""

from __future__ import annotations

import csv
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from fer_desktop.results import face_label
from fer_desktop.sources import VideoSource

if TYPE_CHECKING:
    from trainer.inference.live import LiveFace, LivePipeline

Progress = Callable[[int, int], None]
Annotate = Callable[[np.ndarray, "list[LiveFace]"], np.ndarray]  # frame, faces -> BGR frame drawn on


def video_frames(source: VideoSource, live: LivePipeline, *, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Iterator[tuple[int, float, np.ndarray, list[LiveFace]]]:
    """(index, seconds, frame, faces) for every frame of an opened ``source``, until the end or
    ``cancelled()``; the caller closes the source."""
    live.reset()
    index = 0
    while not (cancelled is not None and cancelled()):
        frame = source.read()
        if frame is None:
            break
        yield index, index / source.fps, frame, live.process(frame)
        index += 1
        if progress is not None:
            progress(index, max(source.frame_count, index))


def csv_header(classes: list[str]) -> list[str]:
    return ["frame", "time_s", "track_id", "x", "y", "w", "h", "score", "label", "confidence"] + \
        [f"p_{c}" for c in classes]


def export_video_csv(video: str | Path, out: str | Path, live: LivePipeline, classes: list[str], *,
                     progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> int:
    """One row per face per frame (a frame without faces gets one row with empty face
    columns, so every frame is there). The raw, unsmoothed probabilities. Returns the rows
    written; a cancelled export leaves the rows written so far."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with closing(VideoSource(video)) as source, out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(csv_header(classes))
        for index, seconds, _frame, faces in video_frames(source, live, progress=progress, cancelled=cancelled):
            t = f"{seconds:.3f}"
            if not faces:
                writer.writerow([index, t] + [""] * (len(classes) + 8))
                rows += 1
            for f in faces:
                label, conf = face_label(classes, f.probs)
                writer.writerow([index, t, f.track_id, *[int(v) for v in f.face.box],
                                 f"{float(getattr(f.face, 'score', 1.0)):.4f}", label, f"{conf:.4f}",
                                 *[f"{float(p):.5f}" for p in f.probs]])
                rows += 1
    return rows


def export_annotated_video(video: str | Path, out: str | Path, live: LivePipeline, annotate: Annotate, *,
                           progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> int:
    """The video with each frame's faces drawn by ``annotate``, at its frame rate, in MPEG-4
    Part 2 (which every OpenCV build writes) inside ``out`` (.mp4; no sound: OpenCV reads none).
    Returns the frames written; a cancelled export leaves a playable file of the frames so far."""
    import cv2

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    frames = 0
    try:
        with closing(VideoSource(video)) as source:
            for _index, _seconds, frame, faces in video_frames(source, live, progress=progress, cancelled=cancelled):
                drawn = annotate(frame, faces)
                if writer is None:
                    h, w = drawn.shape[:2]
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (w, h))
                    if not writer.isOpened():
                        raise OSError(f"could not write a video to {out} (no MPEG-4 encoder in this OpenCV build, "
                                      "or the folder is not writable)")
                writer.write(drawn)
                frames += 1
    finally:
        if writer is not None:
            writer.release()
    return frames
