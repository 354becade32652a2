"""Crop -> tensor transforms for training (augmentation) and evaluation, from torchvision v2.

torch and torchvision are imported inside the functions: the training config (and with it
every ``fer-train`` command's argument parser) needs ``AugmentConfig`` but not torch, whose
import takes seconds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, Strict

if TYPE_CHECKING:
    from torchvision.transforms import v2


@dataclass
class AugmentConfig:
    # Ranges are checked when a config is read (trainer.training.config.TrainConfig.from_dict).
    flip: Annotated[bool, Strict()] = True
    rotate_degrees: Annotated[float, Strict(), Field(ge=0, le=180, allow_inf_nan=False)] = 10.0
    scale: Annotated[float, Strict(), Field(ge=0, lt=1, allow_inf_nan=False)] = 0.1  # random scale in [1 - scale, 1 + scale]
    shift: Annotated[float, Strict(), Field(ge=0, lt=1, allow_inf_nan=False)] = 0.08  # fraction of the side
    brightness: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.3
    contrast: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.3
    erasing: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.25  # probability of random erasing


def normalise(mean: float, std: float) -> v2.Transform:
    from torchvision.transforms import v2

    return v2.Normalize([mean], [std])


def eval_transform(input_size: int, mean: float, std: float) -> v2.Transform:
    """(1, H, W) uint8 -> (1, S, S) float, normalised."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose([
        v2.Resize((input_size, input_size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        normalise(mean, std),
    ])


def train_transform(input_size: int, mean: float, std: float, aug: AugmentConfig) -> v2.Transform:
    import torch
    from torchvision.transforms import v2

    steps: list[v2.Transform] = [v2.Resize((input_size, input_size), antialias=True)]
    if aug.flip:
        steps.append(v2.RandomHorizontalFlip())
    if aug.rotate_degrees or aug.scale or aug.shift:
        steps.append(v2.RandomAffine(
            degrees=aug.rotate_degrees,
            translate=(aug.shift, aug.shift) if aug.shift else None,
            scale=(1 - aug.scale, 1 + aug.scale) if aug.scale else None,
        ))
    if aug.brightness or aug.contrast:
        steps.append(v2.ColorJitter(brightness=aug.brightness, contrast=aug.contrast))
    steps += [v2.ToDtype(torch.float32, scale=True), normalise(mean, std)]
    if aug.erasing:
        steps.append(v2.RandomErasing(p=aug.erasing, scale=(0.02, 0.15)))
    return v2.Compose(steps)
