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

import functools
from dataclasses import asdict, dataclass, field, fields
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

from trainer.data.transforms import AugmentConfig
from trainer.errors import UsageError

# Typed settings: a cascade file or a spec gives the wrong type or an impossible value, and the
# message names the setting before any data is loaded.
Real = Annotated[float, Strict(), Field(allow_inf_nan=False)]


def _range(low: float | None = None, high: float | None = None, *, strict_low: bool = False,
           strict_high: bool = False) -> Any:
    return Field(**{("gt" if strict_low else "ge"): low} if low is not None else {},
                 **({("lt" if strict_high else "le"): high} if high is not None else {}))


class ConfigError(UsageError):
    """A training setting of the wrong type or out of range; the message names it."""


@dataclass
class TrainConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")

    model: Annotated[StrictStr, Field(min_length=1)] = "efficientnet-lite0"
    pretrained: StrictBool = True
    weights: StrictStr | None = None  # a file with ImageNet (or earlier-stage) weights
    init_from: StrictStr | None = None  # a fer-desktop model to start from (the cascade's stage 2)
    allow_download: StrictBool = False
    input_size: Annotated[StrictInt, _range(8, 512)] = 64
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: Annotated[Real, _range(0, 10, strict_low=True)] = 0.001
    momentum: Annotated[Real, _range(0, 1)] = 0.9
    weight_decay: Annotated[Real, _range(0, 10)] = 5e-4
    scheduler: Literal["step", "cosine", "none"] = "step"
    step_epochs: Annotated[StrictInt, _range(1)] = 10
    gamma: Annotated[Real, _range(0, 1, strict_low=True)] = 0.1
    warmup_epochs: Annotated[Real, _range(0, 10_000)] = 0.0
    epochs: Annotated[StrictInt, _range(1, 100_000)] = 30
    batch_size: Annotated[StrictInt, _range(1, 65_536)] = 64
    label_smoothing: Annotated[Real, _range(0, 1, strict_high=True)] = 0.0
    class_balance: Literal["none", "weights", "sampler"] = "none"
    soft_labels: StrictBool = False  # train on vote distributions when the data has them
    replay_ratio: Annotated[Real, _range(0, 1000)] = 1.0  # replay samples drawn per target sample each epoch
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mixup_alpha: Annotated[Real, _range(0, 100)] = 0.0  # > 0: mixup with lam ~ Beta(alpha, alpha) (e.g. 0.2)
    ema_decay: Annotated[Real, _range(0, 1, strict_high=True)] = 0.0  # > 0: moving average of the weights
    # Knowledge distillation: fer-desktop models whose averaged softened probabilities the
    # student also learns from (trainer/training/distill.py); the loss is
    # (1 - distill_weight) * label loss + distill_weight * T^2 * KL(teachers || student).
    teachers: list[Annotated[StrictStr, Field(min_length=1)]] = field(default_factory=list)
    distill_weight: Annotated[Real, _range(0, 1)] = 0.5
    distill_temperature: Annotated[Real, _range(0, 100, strict_low=True)] = 2.0
    # Train the classifier alone: the backbone (weights and BatchNorm statistics) stays as
    # init_from / pretrained left it, a fixed feature extractor; about 4x cheaper an epoch.
    freeze_backbone: StrictBool = False
    select: Literal["best", "last"] = "best"  # best (on validation) | last
    early_stopping: Annotated[StrictInt, _range(0)] = 0  # epochs without improvement before stopping; 0 = off
    seed: Annotated[StrictInt, _range(0, 2 ** 63 - 1)] = 0
    device: StrictStr = "auto"
    amp: StrictBool = True  # only on CUDA
    channels_last: StrictBool = True  # only on CUDA
    num_workers: Annotated[StrictInt, _range(0, 256)] = 0
    max_train_samples: Annotated[StrictInt, _range(0)] = 0  # 0 = all; for smoke runs
    tta_flip: StrictBool = True  # evaluation averages the crop and its mirror

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Checked settings; a ConfigError naming the first bad one otherwise."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        augment = data.get("augment")
        if isinstance(augment, dict):
            bad = sorted(set(augment) - {f.name for f in fields(AugmentConfig)})
            if bad:
                raise ConfigError(f"unknown augment setting(s): {', '.join(bad)}; known: "
                                  f"{', '.join(sorted(f.name for f in fields(AugmentConfig)))}")
        try:
            return _schema().validate_python({k: asdict(v) if isinstance(v, AugmentConfig) else v
                                              for k, v in data.items()})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            shown = repr(first.get("input"))[:60]
            raise ConfigError(f"{where} = {shown}: {first['msg'].removeprefix('Value error, ')}") from None


@functools.cache
def _schema() -> TypeAdapter:
    """Built on first use: building it takes a tenth of a second that every command's parser
    (and ``fer-train CMD --help``) would pay at import."""
    return TypeAdapter(TrainConfig)


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
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        data.update(PRESETS[preset])
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(data)
