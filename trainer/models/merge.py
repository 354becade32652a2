"""Weight-space averages of fine-tunings of one network: WiSE-FT between two models
(Wortsman et al., CVPR 2022) and uniform "model soups" of several (Wortsman et al., ICML 2022)."""

from __future__ import annotations

from typing import Sequence

from torch import nn

from trainer.errors import UsageError
from trainer.models.card import ModelCard, check_same


# What weights must share for their average to mean anything.
SAME_NETWORK = ("backbone", "classes", "input_size", "mean", "std", "members")


def average(models: Sequence[nn.Module], cards: Sequence[ModelCard], weights: Sequence[float]) -> nn.Module:
    """Return the last model holding sum(w_i * model_i). The models must share backbone,
    classes and input preprocessing, else the average means nothing; weights are >= 0 and
    sum to 1."""
    if len(models) < 2 or len(models) != len(cards) or len(models) != len(weights):
        raise UsageError("merge needs two or more models, each with a card and a weight")
    if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise UsageError(f"merge weights must be >= 0 and sum to 1, got {list(weights)}")
    check_same(cards, SAME_NETWORK, "merge")
    states = [m.state_dict() for m in models]
    merged = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            merged[key] = sum(w * s[key].float() for w, s in zip(weights, states)).to(last.dtype)
        else:  # integer buffers (BatchNorm's num_batches_tracked) are counters, not weights
            merged[key] = last
    models[-1].load_state_dict(merged)
    return models[-1]


def interpolate(model_a: nn.Module, card_a: ModelCard, model_b: nn.Module, card_b: ModelCard,
                alpha: float) -> nn.Module:
    """Return model_b holding (1 - alpha) * A + alpha * B."""
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"alpha must be in [0, 1], got {alpha}")
    return average([model_a, model_b], [card_a, card_b], [1.0 - alpha, alpha])
