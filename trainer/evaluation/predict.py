"""Class probabilities for a set of crops, fed exactly as the model was trained."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from trainer.data.samples import SampleSet
from trainer.data.torch_dataset import CropDataset
from trainer.data.transforms import eval_transform
from trainer.models.registry import grey_to_model_input


@torch.inference_mode()
def predict_batch(model: nn.Module, batch: torch.Tensor, tta_flip: bool = True) -> torch.Tensor:
    """(B, 1, S, S) normalised -> (B, C) probabilities; with ``tta_flip`` the mirror image's
    probabilities are averaged in (faces are left-right symmetric, expressions mostly too)."""
    x = grey_to_model_input(batch)
    probs = model(x).float().softmax(dim=1)
    if tta_flip:
        probs = (probs + model(x.flip(-1)).float().softmax(dim=1)) / 2
    return probs


def predict_probs(
    model: nn.Module,
    samples: SampleSet,
    input_size: int,
    mean: float,
    std: float,
    device: torch.device | str = "cpu",
    tta_flip: bool = True,
    batch_size: int = 256,
) -> np.ndarray:
    model.eval()
    device = torch.device(device)
    loader = DataLoader(CropDataset(samples, eval_transform(input_size, mean, std)), batch_size=batch_size)
    out = []
    for x, _ in loader:
        x = x.to(device)
        if device.type == "cuda":
            x = x.to(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.float16):
                out.append(predict_batch(model, x, tta_flip).cpu())
        else:
            out.append(predict_batch(model, x, tta_flip).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, len(samples.classes)), dtype=np.float32)
