"""A loaded model plus the face pipeline its card asks for: image in, faces and
probabilities out. The GUI and ``fer-train predict`` / ``evaluate`` all go through here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from trainer.data.transforms import eval_transform
from trainer.device import choose_device
from trainer.evaluation.predict import predict_batch
from trainer.models.card import ModelCard, ModelLoadError, load_model

from trainer.inference.bundled import DEFAULT_MODEL_NAME, default_model_path, resources_dir  # noqa: F401 (re-exported)


@dataclass
class FacePrediction:
    face: Any  # trainer.faces.Face
    crop: np.ndarray  # the aligned grey crop the model saw (before resizing to its input)
    probs: np.ndarray  # (C,) sums to 1


class Predictor:
    """Thread-compatible: one instance per worker thread (torch modules are not re-entrant
    across threads that change their state, but inference is read-only)."""

    def __init__(self, model: torch.nn.Module, card: ModelCard, *, device: str = "auto",
                 detector: str | None = None, tta_flip: bool = True, path: Path | None = None) -> None:
        self.card = card
        self.path = path
        self.device = choose_device(device)
        self.half = self.device.type == "cuda"
        self.model = model.to(self.device).eval()
        if self.half:
            self.model = self.model.half().to(memory_format=torch.channels_last)
        self.tta_flip = tta_flip
        self._detector_name = detector or card.detector_name()
        self._pipeline = None  # built on first use: detectors are slow to load
        self._transform = eval_transform(card.input_size, float(np.mean(card.mean)), float(np.mean(card.std)))

    @classmethod
    def from_path(cls, path: str | Path | None = None, **kwargs: Any) -> "Predictor":
        path = Path(path) if path is not None else default_model_path()
        if path.suffix not in (".safetensors", ".json"):
            path = path.with_suffix(".safetensors")
        if not path.is_file() and not path.with_suffix(".json").is_file():
            raise ModelLoadError(f"model not found: {path}")
        model, card = load_model(path)
        return cls(model, card, path=path, **kwargs)

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def pipeline(self):
        if self._pipeline is None:
            from trainer.faces import FaceAligner, FacePipeline, create_detector

            self._pipeline = FacePipeline(create_detector(self._detector_name), FaceAligner(self.card.align_config()))
        return self._pipeline

    def _to_batch(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        # The same resize + normalisation as training's evaluation, so a crop is fed exactly
        # as the validation numbers on the card were measured.
        tensors = [
            self._transform(torch.from_numpy(np.ascontiguousarray(
                c if c.ndim == 2 else cv2.cvtColor(c, cv2.COLOR_BGR2GRAY)))[None])
            for c in crops
        ]
        return torch.stack(tensors)

    @torch.inference_mode()
    def predict_crops(self, crops: Sequence[np.ndarray], tta_flip: bool | None = None) -> np.ndarray:
        """Grey (or BGR) face crops of any size -> (N, C) probabilities. ``tta_flip`` (default:
        the predictor's setting) averages in the mirror image: better, but twice the work."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        x = self._to_batch(crops).to(self.device)
        if self.half:
            x = x.half()
        probs = predict_batch(self.model, x, self.tta_flip if tta_flip is None else tta_flip)
        return probs.cpu().numpy()

    def predict_image(self, image: np.ndarray, tta_flip: bool | None = None) -> list[FacePrediction]:
        """BGR or grey image -> one prediction per face, largest face first."""
        aligned = self.pipeline.process(image)
        probs = self.predict_crops([a.crop for a in aligned], tta_flip)
        return [FacePrediction(a.face, a.crop, p) for a, p in zip(aligned, probs)]
