"""Inference: load a model by its card, find and align faces, give class probabilities.

Exports are lazy so that ``trainer.inference.live`` (numpy/OpenCV only) can be imported
without loading torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FacePrediction", "Predictor", "default_model_path"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from trainer.inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'trainer.inference' has no attribute {name!r}")
