"""Saving what is shown: a snapshot (annotated PNG + JSON), a video's per-frame probabilities
as CSV, and the video with its faces drawn as in the window (functions a ThreadJob runs off the
GUI thread, with progress)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

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


def _export_engine(model_path: str | None, detector: str | None):
    """Its own model instance (the live view keeps going), detecting and classifying every face
    on every frame: an export is for analysis and sharing, not for speed."""
    from fer_desktop.engine import load_engine
    from trainer.inference.live import LiveConfig

    return load_engine(model_path, LiveConfig(detect_every=1, classify_budget_ms=None), detector=detector,
                       warm_up=False)


def export_video_job(video: str, out: str, model_path: str | None, detector: str | None = None, *,
                     progress: Callable[[int, int], None] | None = None,
                     cancelled: Callable[[], bool] | None = None) -> tuple[str, int]:
    """For a ThreadJob: writes the CSV; returns (path, rows). Cancelled: raises JobCancelled
    saying how much was written."""
    from fer_desktop._qt.jobs import JobCancelled
    from fer_desktop.video_export import export_video_csv

    engine = _export_engine(model_path, detector)
    rows = export_video_csv(video, out, engine.live, engine.info.classes, progress=progress, cancelled=cancelled)
    if cancelled is not None and cancelled():
        raise JobCancelled(f"CSV export cancelled ({rows} rows written to {out}).")
    return out, rows


def annotated_video_job(video: str, out: str, model_path: str | None, detector: str | None = None, *,
                        smoothed: bool = True, progress: Callable[[int, int], None] | None = None,
                        cancelled: Callable[[], bool] | None = None) -> tuple[str, int]:
    """For a ThreadJob: the video with every face's box and label drawn as the window draws them
    (QImage painting is safe off the GUI thread); returns (path, frames)."""
    from fer_desktop._qt.annotate import annotated_image, to_bgr
    from fer_desktop._qt.jobs import JobCancelled
    from fer_desktop.video_export import export_annotated_video

    engine = _export_engine(model_path, detector)
    classes = list(engine.info.classes)

    def annotate(frame, faces):
        return to_bgr(annotated_image(frame, faces, classes, selected_id=None, smoothed=smoothed))

    if Path(out).suffix.lower() not in (".mp4", ".avi"):
        out = str(Path(out).with_suffix(".mp4"))
    frames = export_annotated_video(video, out, engine.live, annotate, progress=progress, cancelled=cancelled)
    if cancelled is not None and cancelled():
        raise JobCancelled(f"Video export cancelled ({frames} frames written to {out}).")
    return out, frames
