"""Inference: load a model by its card, find and align faces, give class probabilities.

Exports are lazy so that ``trainer.inference.live`` (numpy/OpenCV only) can be imported
without loading torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FacePrediction", "Predictor", "default_model_path", "resources_dir"]


def __getattr__(name: str) -> Any:
    if name in ("default_model_path", "resources_dir"):
        from trainer.inference import bundled

        return getattr(bundled, name)
    if name in __all__:
        from trainer.inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'trainer.inference' has no attribute {name!r}")
