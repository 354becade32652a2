"""Model registry, pretrained-weight resolution, and the safetensors + JSON card format."""

from trainer.models.card import ModelCard, ModelLoadError, load_model, save_model
from trainer.models.registry import UnknownModelError, available_models, create_model

__all__ = [
    "ModelCard",
    "ModelLoadError",
    "UnknownModelError",
    "available_models",
    "create_model",
    "load_model",
    "save_model",
]
