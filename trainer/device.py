"""Which torch device to run on: one rule for training, evaluation, inference and detectors."""

from __future__ import annotations

import torch


def choose_device(name: str = "auto") -> torch.device:
    """``auto`` means CUDA when a GPU is usable, else the CPU; any other name is taken as is."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
