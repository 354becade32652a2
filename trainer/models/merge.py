"""Weight-space interpolation of two fine-tunings of one network."""

from __future__ import annotations

import torch
from torch import nn

from trainer.models.card import ModelCard


def interpolate(model_a: nn.Module, card_a: ModelCard, model_b: nn.Module, card_b: ModelCard,
                alpha: float) -> nn.Module:
    """Return model_b holding (1 - alpha) * A + alpha * B. Both must share backbone, classes
    and input preprocessing, else the average means nothing."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    for field in ("backbone", "classes", "input_size", "mean", "std"):
        if getattr(card_a, field) != getattr(card_b, field):
            raise ValueError(f"cannot merge: the models differ in {field} "
                             f"({getattr(card_a, field)!r} vs {getattr(card_b, field)!r})")
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    merged = {}
    for key, b in state_b.items():
        a = state_a[key]
        # Integer buffers (BatchNorm's num_batches_tracked) are counters, not weights.
        merged[key] = torch.lerp(a.float(), b.float(), alpha).to(b.dtype) if b.is_floating_point() else b
    model_b.load_state_dict(merged)
    return model_b
