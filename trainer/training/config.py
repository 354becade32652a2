"""One training stage's settings, the named presets, and how they are resolved.

Presets (``--preset`` / ``preset =`` in a cascade stage); explicit settings override them:

* ``paper``: Ng et al. 2015's fine-tuning recipe: SGD, momentum 0.9, lr 0.001 divided by 10
  every 10 epochs, weight decay 5e-4, plain cross-entropy, model chosen by validation accuracy.
* ``modern``: AdamW (lr 1e-3, weight decay 0.05), one warm-up epoch then cosine decay, label
  smoothing 0.1, last epoch kept (cosine ends at a low lr; picking the best epoch on the
  validation set would tune on it). Our default for the large first stage (FER32).
* ``small-target``: for a few hundred images (SFEW): AdamW at lr 3e-4, cosine, label smoothing
  0.1 and inverse-frequency class weights (SFEW has 50 disgust vs 179 happy training images).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from trainer.data.transforms import AugmentConfig


@dataclass
class TrainConfig:
    model: str = "efficientnet-lite0"
    pretrained: bool = True
    weights: str | None = None  # a file with ImageNet (or earlier-stage) weights
    init_from: str | None = None  # a fer-desktop model to start from (the cascade's stage 2)
    allow_download: bool = False
    input_size: int = 64
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "step"  # step | cosine | none
    step_epochs: int = 10
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    epochs: int = 30
    batch_size: int = 64
    label_smoothing: float = 0.0
    class_balance: str = "none"  # none | weights | sampler
    soft_labels: bool = False  # train on vote distributions when the data has them
    replay_ratio: float = 1.0  # with replay data: replay samples drawn per target sample each epoch
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mixup_alpha: float = 0.0  # > 0: mixup with lam ~ Beta(alpha, alpha) (e.g. 0.2)
    ema_decay: float = 0.0  # > 0: keep an exponential moving average of the weights (e.g. 0.998)
    select: str = "best"  # best (on validation) | last
    early_stopping: int = 0  # epochs without improvement before stopping; 0 = off
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # only on CUDA
    channels_last: bool = True  # only on CUDA
    num_workers: int = 0
    max_train_samples: int = 0  # 0 = all; for smoke runs
    tta_flip: bool = True  # evaluation averages the crop and its mirror

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        data = dict(data)
        for key, allowed in _CHOICES.items():
            if key in data and data[key] not in allowed:
                raise ValueError(f"{key} = {data[key]!r}; known: {', '.join(allowed)}")
        if isinstance(data.get("augment"), dict):
            aug_known = {f.name for f in fields(AugmentConfig)}
            bad = sorted(set(data["augment"]) - aug_known)
            if bad:
                raise ValueError(f"unknown augment setting(s): {', '.join(bad)}; known: {', '.join(sorted(aug_known))}")
            data["augment"] = AugmentConfig(**data["augment"])
        return cls(**data)


_CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("sgd", "adamw"),
    "scheduler": ("step", "cosine", "none"),
    "class_balance": ("none", "weights", "sampler"),
    "select": ("best", "last"),
}

# The paper's recipe (Ng et al. 2015) and the ones we measured to do better.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(optimizer="sgd", lr=0.001, momentum=0.9, weight_decay=5e-4, scheduler="step",
                  step_epochs=10, gamma=0.1, label_smoothing=0.0, class_balance="none"),
    "modern": dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, scheduler="cosine", warmup_epochs=1.0,
                   label_smoothing=0.1, class_balance="none", select="last"),
    "small-target": dict(optimizer="adamw", lr=3e-4, weight_decay=0.05, scheduler="cosine", warmup_epochs=1.0,
                         label_smoothing=0.1, class_balance="weights"),
}


def resolve_config(preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults <- preset <- explicit overrides (None values are ignored)."""
    data: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        data.update(PRESETS[preset])
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(data)
