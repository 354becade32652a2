"""An image and what it is (photo, face crop, auto) -> its faces and their probabilities,
through the one preprocessing path (:mod:`trainer.faces.prepare`): what ``fer-desktop
predict``, ``fer-train predict`` and the app's still images call, so that the same image
gets the same crops, and so the same probabilities, as ``fer-train evaluate`` gives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer.faces.prepare import DEFAULT_INPUT, PreparedFace, prepare_faces


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
