"""Several trained networks as one model: their class probabilities averaged.

A soup (``trainer.models.merge``) averages weights and costs nothing at run time, but only
works for fine-tunings that stay close in weight space; runs from different starts (a FER+
and a FER-2013 stage 1, two seeds) average to nonsense there, yet their *predictions*
average well. An ensemble keeps every member and costs one classifier pass each. It is a
plain ``nn.Module`` whose output is the log of the mean probability, so every path that
applies a softmax (the app, predict, evaluate, the ONNX graph, training from it) gets the
mean back unchanged. The card records the count (``members``); the weights file holds
``members.0.*``, ``members.1.*`` ...
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from trainer.errors import UsageError
from trainer.models.card import MAX_MEMBERS, ModelCard, check_same

# What must agree for one input to mean the same to every member.
SAME_INPUT = ("backbone", "classes", "input_size", "mean", "std", "preprocessing", "test_views")


class Ensemble(nn.Module):
    """Networks of one backbone and class list. ``forward`` returns log(mean of the members'
    softmax): logits whose softmax is the members' mean probability."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not 2 <= len(members) <= MAX_MEMBERS:
            raise UsageError(f"an ensemble has 2 to {MAX_MEMBERS} members, not {len(members)}")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([m(x).float().softmax(dim=1) for m in self.members]).mean(dim=0)
        # The floor keeps a class every member rules out finite (log 0); it moves no probability
        # by more than 1e-30.
        return probs.clamp_min(1e-30).log()


def member_count(model: nn.Module) -> int:
    return len(model.members) if isinstance(model, Ensemble) else 1


def ensemble_of(models: Sequence[nn.Module], cards: Sequence[ModelCard], sources: Sequence[str]) -> tuple[Ensemble, ModelCard]:
    """One model of ``models`` (each a single network, all fed the same input) and its card: the
    first card's input description, the members' names and training recorded, no metrics (an
    ensemble is measured on its own)."""
    if len(models) != len(cards) or len(models) != len(sources):
        raise UsageError("every member needs its card")
    for card, source in zip(cards, sources):
        if card.members != 1:
            raise UsageError(f"{source} is already an ensemble of {card.members}: list its members instead")
    check_same(cards, SAME_INPUT, "ensemble", sources)
    first = cards[0]
    card = ModelCard(name=first.name, backbone=first.backbone, classes=list(first.classes),
                     input_size=first.input_size, mean=list(first.mean), std=list(first.std),
                     preprocessing=dict(first.preprocessing), test_views=list(first.test_views),
                     members=len(models))
    card.training = {"ensemble": [{"model": source, "name": c.name, "training": c.training}
                                  for source, c in zip(sources, cards)]}
    return Ensemble(models), card
