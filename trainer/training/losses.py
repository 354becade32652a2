"""Cross-entropy for hard labels and vote distributions alike, with label smoothing and
class weights that mean the same thing in both cases.

Why not ``nn.CrossEntropyLoss``: with probability targets it weights each class's *term*
(``-w_c q_c log p_c``) and averages over the batch size, while with class-index targets it
weights each *sample* and averages over the summed weights; label smoothing's uniform part is
then weighted per class too, so rare classes get a larger smoothing pull. Here every target
becomes a distribution ``q = (1 - eps) * y + eps / C`` and a class weight is a *sample*
weight, ``s_i = sum_c w_c y_ic`` (the expected weight under the votes; ``w[label]`` for a hard
label): ``loss = sum_i s_i * H(q_i, p_i) / sum_i s_i``. Without weights this equals
``nn.CrossEntropyLoss(label_smoothing=eps)`` exactly for hard labels.
"""

from __future__ import annotations

import torch
from torch import nn


class SoftTargetCrossEntropy(nn.Module):
    def __init__(self, weight: torch.Tensor | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label smoothing {label_smoothing} outside [0, 1)")
        self.register_buffer("weight", weight, persistent=False)
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``logits`` (B, C); ``target`` (B,) class indices or (B, C) distributions."""
        num_classes = logits.shape[1]
        if target.ndim == 1:
            y = torch.nn.functional.one_hot(target.long(), num_classes).to(logits.dtype)
        else:
            y = target.to(logits.dtype)
            y = y / y.sum(dim=1, keepdim=True).clamp_min(1e-12)  # votes need not be normalised
        q = y * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        per_sample = -(q * torch.log_softmax(logits, dim=1)).sum(dim=1)
        if self.weight is None:
            return per_sample.mean()
        s = y @ self.weight.to(logits.dtype)
        return (s * per_sample).sum() / s.sum().clamp_min(1e-12)


def mixup(x: torch.Tensor, y: torch.Tensor, num_classes: int, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al., ICLR 2018): each image blended with another of the batch,
    lam ~ Beta(alpha, alpha), and their targets blended alike. Returns (images, distributions);
    hard labels become one-hot first. Draws from torch's global generator, which checkpoints
    save, so a resumed run mixes the same pairs."""
    target = torch.nn.functional.one_hot(y.long(), num_classes).float() if y.ndim == 1 else y.float()
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x), device=x.device)
    return lam * x + (1.0 - lam) * x[perm], lam * target + (1.0 - lam) * target[perm]
