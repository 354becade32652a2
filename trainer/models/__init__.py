"""Model registry, pretrained-weight resolution, and the safetensors + JSON card format.

Exports are lazy: reading a card (``trainer.models.card``) must not import torch, which the
registry needs, because the ONNX Runtime path never loads it."""

from __future__ import annotations

from typing import Any

_CARD = ("ModelCard", "ModelLoadError", "load_model", "save_model")
_REGISTRY = ("UnknownModelError", "available_models", "create_model")
__all__ = sorted(_CARD + _REGISTRY)


def __getattr__(name: str) -> Any:
    if name in _CARD:
        from trainer.models import card

        return getattr(card, name)
    if name in _REGISTRY:
        from trainer.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'trainer.models' has no attribute {name!r}")
