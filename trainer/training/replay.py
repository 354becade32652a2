"""Rehearsal: mixing samples of an earlier stage's data into a later stage's epochs.

Fine-tuning a FER-trained model on a few hundred SFEW images makes it forget FER-2013 (68% ->
45% on PrivateTest; docs/RESULTS.md). Each epoch here is every target sample once plus a fresh
random draw of ``ratio`` x as many samples from the replay set, so the model keeps seeing the
old task while it learns the new one; the replay set is never exhausted or repeated within
an epoch.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler


class ReplaySampler(Sampler[int]):
    """Indices into ``target + replay`` (the replay set's indices follow the target's)."""

    def __init__(self, n_target: int, n_replay: int, ratio: float, generator: torch.Generator) -> None:
        if n_target <= 0:
            raise ValueError("replay needs at least one target sample")
        if ratio < 0:
            raise ValueError(f"replay ratio must be >= 0, got {ratio}")
        self.n_target = n_target
        self.n_replay = n_replay
        self.per_epoch = min(n_replay, int(round(ratio * n_target)))
        self.generator = generator

    def __len__(self) -> int:
        return self.n_target + self.per_epoch

    def __iter__(self) -> Iterator[int]:
        replay = torch.randperm(self.n_replay, generator=self.generator)[: self.per_epoch] + self.n_target
        order = torch.cat([torch.arange(self.n_target), replay])
        yield from order[torch.randperm(len(order), generator=self.generator)].tolist()
