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
    # What webcams do to a face, each a probability per image (0: off, the default, so recipes
    # written before these existed train exactly as they did): defocus and motion blur, sensor
    # noise, JPEG/video compression, and a dim room (gamma darkening).
    blur: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    noise: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    jpeg: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    low_light: Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)] = 0.0


# ``--augment-webcam``: the webcam degradations on top of the usual geometric/colour ones.
WEBCAM_AUGMENT = {"blur": 0.2, "noise": 0.2, "jpeg": 0.3, "low_light": 0.15}


class LowLight:
    """A dim room: a random gamma in [gamma_min, gamma_max] darkens the mid-tones (uint8 in,
    uint8 out). A class, not a lambda, so DataLoader workers can pickle it."""

    def __init__(self, gamma_min: float = 1.4, gamma_max: float = 2.5) -> None:
        self.gamma_min, self.gamma_max = gamma_min, gamma_max

    def __call__(self, image):
        import random

        from torchvision.transforms.v2 import functional as F

        return F.adjust_gamma(image, random.uniform(self.gamma_min, self.gamma_max))


class Jpeg:
    """JPEG compression at a random quality in [quality_min, quality_max] ((1, H, W) uint8 in
    and out), through OpenCV: torchvision's own JPEG codec is deprecated since 0.29."""

    def __init__(self, quality_min: int = 25, quality_max: int = 85) -> None:
        self.quality_min, self.quality_max = quality_min, quality_max

    def __call__(self, image):
        import random

        import cv2
        import torch

        quality = random.randint(self.quality_min, self.quality_max)
        ok, encoded = cv2.imencode(".jpg", image[0].numpy(), [cv2.IMWRITE_JPEG_QUALITY, quality])
        return torch.from_numpy(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE))[None] if ok else image


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
    if aug.low_light:
        steps.append(v2.RandomApply([v2.Lambda(LowLight())], p=aug.low_light))
    if aug.blur:
        steps.append(v2.RandomApply([v2.GaussianBlur(5, sigma=(0.3, 1.5))], p=aug.blur))
    if aug.jpeg:
        steps.append(v2.RandomApply([v2.Lambda(Jpeg())], p=aug.jpeg))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if aug.noise:
        steps.append(v2.RandomApply([v2.GaussianNoise(sigma=0.04)], p=aug.noise))
    steps.append(normalise(mean, std))
    if aug.erasing:
        steps.append(v2.RandomErasing(p=aug.erasing, scale=(0.02, 0.15)))
    return v2.Compose(steps)
