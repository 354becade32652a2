"""A loaded model plus the face pipeline its card asks for: image in, faces and
probabilities out. The GUI and ``fer-train predict`` / ``evaluate`` all go through here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from trainer.inference.backends import Classifier, TorchClassifier, create_classifier
from trainer.inference.bundled import resolve_model
from trainer.inference.preprocess import crops_to_batch
from trainer.inference.views import crop_probs
from trainer.models.card import ModelCard, ModelLoadError, read_card

if TYPE_CHECKING:
    from torch import nn


@dataclass
class FacePrediction:
    face: Any  # trainer.faces.Face
    crop: np.ndarray  # the aligned grey crop the model saw (before resizing to its input)
    probs: np.ndarray  # (C,) sums to 1


class Predictor:
    """One instance per worker thread: back-end sessions and detectors are not shared."""

    def __init__(self, classifier: Classifier, card: ModelCard, *, detector: str | None = None,
                 tta_flip: bool = True, path: Path | None = None) -> None:
        self.card = card
        self.path = path
        self.classifier = classifier
        self.tta_flip = tta_flip
        self._detector_name = detector or card.detector_name()
        self._pipeline = None  # built on first use: detectors are slow to load
        self._mean, self._std = float(np.mean(card.mean)), float(np.mean(card.std))

    @classmethod
    def from_path(cls, path: str | Path | None = None, *, backend: str = "auto", device: str = "auto",
                  threads: int | None = 1, **kwargs: Any) -> "Predictor":
        """The model at ``path`` (None: the bundled one) on ``backend`` (trainer.inference.backends:
        auto, onnx, torch). ``threads``: CPU threads for the classifier (None: every core)."""
        path = resolve_model(path)
        if path.suffix not in (".safetensors", ".json"):
            path = path.with_suffix(".safetensors")
        if not path.is_file() and not path.with_suffix(".json").is_file():
            raise ModelLoadError(f"model not found: {path}")
        card = read_card(path)
        return cls(create_classifier(path, card, backend, device, threads), card, path=path, **kwargs)

    @classmethod
    def from_model(cls, model: nn.Module, card: ModelCard, *, device: str = "cpu", **kwargs: Any) -> "Predictor":
        """A network already in memory (tests, a model being trained), run in PyTorch."""
        return cls(TorchClassifier(model, device), card, **kwargs)

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def backend_name(self) -> str:
        return self.classifier.name

    @property
    def pipeline(self):
        if self._pipeline is None:
            from trainer.faces import FaceAligner, FacePipeline, create_detector

            self._pipeline = FacePipeline(create_detector(self._detector_name), FaceAligner(self.card.align_config()))
        return self._pipeline

    def to_batch(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Crops as the network's input: the resize and normalisation training evaluates with."""
        return crops_to_batch(crops, self.card.input_size, self._mean, self._std)

    def predict_crops(self, crops: Sequence[np.ndarray], tta_flip: bool | None = None) -> np.ndarray:
        """Grey (or BGR) face crops of any size -> (N, C) probabilities, all in one batch.
        ``tta_flip`` (default: the predictor's setting) averages in the mirror image: better,
        but twice the work; the card's test views are averaged in too (trainer.inference.views)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        probs, _ = crop_probs(self.classifier, crops, self.card, self.tta_flip if tta_flip is None else tta_flip)
        return probs

    def predict_image(self, image: np.ndarray, tta_flip: bool | None = None) -> list[FacePrediction]:
        """A photo (BGR or grey) -> one prediction per face, largest face first: the ``photo``
        path of trainer.inference.prepared.predict_input, which the commands and the app take."""
        from trainer.inference.prepared import predict_input

        found = predict_input(self, image, "photo", tta_flip)
        return [FacePrediction(p.face.face, p.face.crop, p.probs) for p in found]
