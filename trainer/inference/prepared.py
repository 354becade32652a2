"""An image and what it is (photo, face crop, auto) -> its faces and their probabilities,
through the one preprocessing path (:mod:`trainer.faces.prepare`): what ``fer-desktop
predict``, ``fer-train predict`` and the app's still images call, so that the same image
gets the same crops, and so the same probabilities, as ``fer-train evaluate`` gives it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trainer.faces.prepare import DEFAULT_INPUT, PreparedFace, prepare_faces

if TYPE_CHECKING:
    from trainer.inference.live import LiveFace, LivePipeline


@dataclass
class InputPrediction:
    face: PreparedFace  # where the face is, the crop the model saw and how it was made
    probs: np.ndarray  # (C,) sums to 1, in the predictor's class order


def predict_input(predictor: Any, image: np.ndarray, kind: str = DEFAULT_INPUT,
                  tta_flip: bool | None = None) -> list[InputPrediction]:
    """Every face of ``image`` (largest first) with its probabilities. ``predictor`` is a
    :class:`trainer.inference.predictor.Predictor` (its ``pipeline`` finds and aligns the faces,
    its ``predict_crops`` classifies them); ``kind``: auto | photo | crop."""
    prepared = prepare_faces(predictor.pipeline, image, kind)
    probs = predictor.predict_crops([f.crop for f in prepared.faces], tta_flip)
    return [InputPrediction(face, p) for face, p in zip(prepared.faces, probs)]


def still_faces(predictor: Any, live: LivePipeline, image: np.ndarray, kind: str = DEFAULT_INPUT) -> list[LiveFace]:
    """A still image in the app (a photo, a folder's image): its faces as the live view shows
    them (numbered from 1, nothing smoothed), made by the one path, so the window shows the
    probabilities ``predict`` prints. The detector is the live view's, used from one thread
    at a time (``live.exclusive``); ``live.timings`` records the work."""
    from trainer.inference.live import LiveFace, LiveTimings

    live.reset()
    t0 = time.perf_counter()
    prepared = live.exclusive(prepare_faces, predictor.pipeline, image, kind)
    t1 = time.perf_counter()
    probs = predictor.predict_crops([f.crop for f in prepared.faces])
    live.timings = LiveTimings(detect_ms=(t1 - t0) * 1000, classify_ms=(time.perf_counter() - t1) * 1000,
                               detected=True)
    return [LiveFace(n, f.face, f.crop, p, p.copy(), detected=True, method=f.method)
            for n, (f, p) in enumerate(zip(prepared.faces, probs), 1)]
