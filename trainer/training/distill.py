"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a student learns from the softened
class probabilities of one or more teacher models as well as from the labels.

Why here: a bigger or slower model (a larger backbone or input, an ensemble of seeds) can be
trained where there is time or a GPU, and its knowledge moved into the small model the app
ships. The teachers are fer-desktop models (safetensors + card); each sees the student's own
augmented batch, converted to its input size and normalisation, so teacher and student judge
the same pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from trainer.errors import UsageError
from trainer.models.card import load_model
from trainer.models.registry import get_spec


class Teachers(nn.Module):
    """Frozen teacher models whose softened probabilities are averaged (an ensemble teacher)."""

    def __init__(self, paths: Sequence[str | Path], classes: Sequence[str], student_mean: float,
                 student_std: float) -> None:
        super().__init__()
        if not paths:
            raise UsageError("distillation needs at least one teacher model")
        self.models = nn.ModuleList()
        self.sizes: list[int] = []
        self.norms: list[tuple[float, float]] = []
        for path in paths:
            model, card = load_model(path)
            if list(card.classes) != list(classes):
                raise UsageError(f"teacher {path} predicts {', '.join(card.classes)}; the training data has "
                                 f"{', '.join(classes)} (a teacher must have the student's classes, in order)")
            spec = get_spec(card.backbone)
            mean = float(sum(card.mean) / len(card.mean)) if card.mean else float(sum(spec.mean) / 3)
            std = float(sum(card.std) / len(card.std)) if card.std else float(sum(spec.std) / 3)
            model.eval().requires_grad_(False)
            self.models.append(model)
            self.sizes.append(int(card.input_size))
            self.norms.append((mean, std))
        self.student_mean, self.student_std = student_mean, student_std

    def train(self, mode: bool = True) -> "Teachers":
        return super().train(False)  # teachers stay in eval mode (batch norm, dropout) whatever the caller does

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, temperature: float) -> torch.Tensor:
        """Mean of the teachers' softmax(logits / T) on the student's batch ``x`` (B, 3, H, W),
        normalised the student's way."""
        raw = x.float() * self.student_std + self.student_mean  # back to [0, 1] pixels
        total = None
        for model, size, (mean, std) in zip(self.models, self.sizes, self.norms):
            xt = raw if raw.shape[-1] == size else F.interpolate(raw, size=(size, size), mode="bilinear",
                                                                 align_corners=False, antialias=True)
            logits = model((xt - mean) / std).float()
            p = torch.softmax(logits / temperature, dim=1)
            total = p if total is None else total + p
        return total / len(self.models)


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(teacher ‖ student) at temperature T, averaged over the batch; the T² keeps its
    gradients on the scale of the label loss whatever T is (Hinton et al.)."""
    log_student = torch.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_student, teacher_probs, reduction="batchmean") * temperature ** 2
