"""Face crops -> the network's input batch, in numpy: every inference back-end is fed the
same array, so ONNX Runtime and PyTorch see identical inputs. No torch here (the ONNX path
must not import it: torch alone costs 1.5 s of start-up)."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from PIL import Image


def to_grey(crop: np.ndarray) -> np.ndarray:
    """Grey, BGR or BGRA uint8 -> grey uint8, contiguous."""
    if crop.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if crop.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        crop = cv2.cvtColor(crop, code) if crop.shape[2] != 1 else crop[..., 0]
    return np.ascontiguousarray(crop)


def resize_grey(grey: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of a uint8 image. Pillow's BILINEAR is the filter
    torchvision's ``Resize(antialias=True)`` reproduces on uint8 (the training and evaluation
    transform): the two agree to within one grey level."""
    if grey.shape == (size, size):
        return grey
    return np.asarray(Image.fromarray(grey).resize((size, size), Image.BILINEAR))


def crops_to_batch(crops: Sequence[np.ndarray], input_size: int, mean: float, std: float) -> np.ndarray:
    """(N, 1, S, S) float32: resized to the card's input size, scaled to [0, 1], then
    ``(x - mean) / std``, as ``trainer.data.transforms.eval_transform`` does in training."""
    batch = np.empty((len(crops), 1, input_size, input_size), dtype=np.float32)
    for i, crop in enumerate(crops):
        batch[i, 0] = resize_grey(to_grey(crop), input_size)
    batch /= 255.0
    batch -= mean
    batch /= std
    return batch
