"""What travels between the threads: a captured frame, a loaded model's summary, a result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # at run time these arrive from the inference thread, which imports them
    from trainer.inference.live import LiveFace, LiveTimings


@dataclass
class FramePacket:
    frame: np.ndarray  # BGR (or grey), owned by the packet
    timestamp: float  # time.perf_counter() at capture, for the latency
    kind: str  # "camera" | "video" | "image"
    name: str  # what the user opened: a path or "camera 0"
    generation: int  # changes when the stream jumps (new source, seek): tracking restarts
    index: int | None = None  # frame number in a video, file number in a folder
    count: int | None = None  # frames in the video, files in the folder
    still: bool = False  # a lone picture: detect, no tracking or smoothing
    path: Path | None = None  # the image file shown


@dataclass
class ModelInfo:
    name: str
    path: Path | None
    device: str  # where the classifier runs, for people: "ONNX Runtime 1.x (CPU)", "PyTorch CUDA (...)"
    classes: list[str]
    card: Any  # trainer.models.card.ModelCard


@dataclass
class FrameResult:
    packet: FramePacket
    faces: list[LiveFace]
    classes: list[str]
    model_name: str | None
    compute_ms: float  # detection + tracking + alignment + classification
    latency_ms: float  # capture to result
    timings: LiveTimings | None = None  # None: no model, nothing was computed
    model_loading: bool = False  # no model yet, but one is on its way

    def face(self, track_id: int | None) -> LiveFace | None:
        for f in self.faces:
            if f.track_id == track_id:
                return f
        return None

    @property
    def frame(self) -> np.ndarray:
        return self.packet.frame


def face_label(classes: list[str], probs: np.ndarray) -> tuple[str, float]:
    """The top class and its probability."""
    if len(probs) == 0 or not classes:
        return "", 0.0
    i = int(np.argmax(probs))
    return classes[i], float(probs[i])


def result_to_dict(result: FrameResult, *, smoothed: bool) -> dict[str, Any]:
    """The JSON of a snapshot: per face its box, eyes, label and both probability sets."""
    p = result.packet
    faces = []
    for f in result.faces:
        shown = f.probabilities(smoothed)
        label, conf = face_label(result.classes, shown)
        faces.append({
            "track_id": f.track_id,
            "box": [int(v) for v in f.face.box],
            "score": float(getattr(f.face, "score", 1.0)),
            "left_eye": [float(v) for v in f.face.left_eye],
            "right_eye": [float(v) for v in f.face.right_eye],
            "label": label,
            "confidence": conf,
            "probs": {c: float(v) for c, v in zip(result.classes, f.probs)},
            "smoothed_probs": {c: float(v) for c, v in zip(result.classes, f.smoothed)},
        })
    return {
        "source": {"kind": p.kind, "name": p.name, "index": p.index, "count": p.count},
        "image_size": [int(p.frame.shape[1]), int(p.frame.shape[0])],
        "model": result.model_name,
        "classes": list(result.classes),
        "smoothing": smoothed,
        "faces": faces,
    }
