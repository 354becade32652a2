"""A torch Dataset over a SampleSet."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from trainer.data.samples import SampleSet


class CropDataset(Dataset):
    """Yields (image (1, S, S) float, target) where target is a class index, or a vote
    distribution when ``soft`` and the set has soft labels."""

    def __init__(self, samples: SampleSet, transform: Callable[[torch.Tensor], torch.Tensor], soft: bool = False) -> None:
        self.samples = samples
        self.transform = transform
        self.soft = soft and samples.soft_labels is not None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(np.ascontiguousarray(self.samples.images[index]))[None]
        x = self.transform(image)
        if self.soft:
            return x, torch.from_numpy(self.samples.soft_labels[index].astype(np.float32))
        return x, torch.tensor(int(self.samples.labels[index]))
