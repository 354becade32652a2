"""The model plus the live pipeline built from its card: what the inference thread holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fer_desktop.results import ModelInfo
from trainer.inference.live import LiveConfig, LivePipeline

if TYPE_CHECKING:
    from trainer.inference.predictor import Predictor


@dataclass
class Engine:
    predictor: Predictor
    live: LivePipeline
    info: ModelInfo


def load_engine(path: str | Path | None = None, config: LiveConfig | None = None, *,
                device: str = "auto", detector: str | None = None, backend: str = "auto",
                warm_up: bool = True) -> Engine:
    """Load the model at ``path`` (None: the bundled default) on ``backend`` (auto, onnx,
    torch), its detector and aligner.

    Raises trainer.models.card.ModelLoadError (and the detector's and back-end's errors) with a
    message for the user. ``warm_up`` runs one dummy batch: the first call is slow."""
    from trainer.inference.predictor import Predictor

    # The detector runs in a background thread beside classification: one classifier
    # thread keeps the cores busy without oversubscribing them (docs/speed.md).
    predictor = Predictor.from_path(path, backend=backend, device=device, detector=detector, threads=1)
    # The card's detector and aligner, built once: the live view shares them with the
    # predictor's own predict_image instead of loading a second detector.
    face_detector, aligner = predictor.pipeline.detector, predictor.pipeline.aligner
    if warm_up:
        size = predictor.card.input_size
        predictor.predict_crops([np.zeros((size, size), np.uint8)])
    live = LivePipeline(face_detector, aligner, predictor.predict_crops, config)
    info = ModelInfo(predictor.name, predictor.path, predictor.classifier.label, predictor.classes, predictor.card)
    return Engine(predictor, live, info)
