"""One training stage: fit a backbone on a SampleSet, checkpoint every epoch, resume after a
kill, keep the best (or last) weights, and write the run folder."""

from __future__ import annotations

import json
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from timm.utils import ModelEmaV3
from torch.utils.data import DataLoader, WeightedRandomSampler

from trainer.data.crops import ready_crops
from trainer.data.samples import DataError, SampleSet
from trainer.device import choose_device
from trainer.errors import UsageError
from trainer.data.torch_dataset import CropDataset
from trainer.data.transforms import train_transform
from trainer.evaluation.metrics import confusion_matrix, summarise
from trainer.evaluation.predict import predict_probs
from trainer.models.card import ModelCard, load_model, save_model, write_weights
from trainer.models.ensemble import member_count
from trainer.models.registry import create_model, freeze_all_but_classifier, get_spec, grey_to_model_input, reset_heads
from trainer.training.config import TrainConfig
from trainer.training.distill import Teachers, distillation_loss
from trainer.training.losses import SoftTargetCrossEntropy, mixup
from trainer.training.progress import Progress
from trainer.training.replay import ReplaySampler

CHECKPOINT = "checkpoint.pt"
BEST_WEIGHTS = "best.safetensors"


@dataclass
class StageResult:
    model: nn.Module
    card: ModelCard
    metrics: dict[str, Any]
    run_dir: Path
    interrupted: bool = False  # stopped by should_stop before the last epoch


def _comparable(record: dict[str, Any]) -> dict[str, Any] | None:
    """A run's config record with defaults filled in, so that settings added to TrainConfig
    after a checkpoint was written do not block resuming it; None if it no longer parses."""
    try:
        config = TrainConfig.from_dict(record.get("config", {})).to_dict()
    except (TypeError, ValueError):
        return None
    return {**record, "config": config}


def _lr_lambda(cfg: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if cfg.scheduler == "cosine":
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        if cfg.scheduler == "step":
            return cfg.gamma ** ((step // steps_per_epoch) // max(1, cfg.step_epochs))
        return 1.0

    return factor


def _build_model(cfg: TrainConfig, classes: tuple[str, ...]) -> tuple[nn.Module, str, str, dict[str, Any]]:
    """(model, backbone name, weights source, card notes): a fresh backbone, or a previous
    fer-desktop model (cascade stage 2) with its head kept when the classes agree."""
    if cfg.init_from:
        model, card = load_model(cfg.init_from)
        if list(card.classes) != list(classes):
            reset_heads(model, card.backbone, len(classes))
        notes = {"init_from": str(cfg.init_from), "init_card": card.name, "init_training": card.training,
                 "init_head": "kept" if list(card.classes) == list(classes) else "reset (classes differ)"}
        return model, card.backbone, f"fer-desktop model: {cfg.init_from}", notes
    model, source = create_model(cfg.model, len(classes), pretrained=cfg.pretrained, weights=cfg.weights,
                                 allow_download=cfg.allow_download)
    return model, cfg.model, source, {}


def _loss_fn(cfg: TrainConfig, train: SampleSet, device: torch.device) -> nn.Module:
    weight = None
    if cfg.class_balance == "weights":
        # Inverse frequency, normalised so that the average sample weight is 1.
        counts = np.maximum(train.class_counts(), 1).astype(np.float64)
        weight = torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32, device=device)
    return SoftTargetCrossEntropy(weight=weight, label_smoothing=cfg.label_smoothing)


def _train_loader(cfg: TrainConfig, train: SampleSet, mean: float, std: float, generator: torch.Generator,
                  replay: SampleSet | None = None) -> DataLoader:
    transform = train_transform(cfg.input_size, mean, std, cfg.augment)
    if replay is not None:
        both = SampleSet.concatenate([train, replay], f"{train.name}+{replay.name}", size=cfg.input_size)
        sampler = ReplaySampler(len(train), len(replay), cfg.replay_ratio, generator)
        return DataLoader(CropDataset(both, transform, soft=cfg.soft_labels), batch_size=cfg.batch_size,
                          sampler=sampler, drop_last=True, num_workers=cfg.num_workers)
    dataset = CropDataset(train, transform, soft=cfg.soft_labels)
    if cfg.class_balance == "sampler":
        counts = np.maximum(train.class_counts(), 1)
        weights = 1.0 / counts[np.maximum(train.labels, 0)]
        sampler = WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), len(train), generator=generator)
        return DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                          num_workers=cfg.num_workers)
    return DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, generator=generator, drop_last=True,
                      num_workers=cfg.num_workers)


def evaluate_set(model: nn.Module, samples: SampleSet, input_size: int, mean: float, std: float,
                 device: torch.device, tta_flip: bool) -> dict[str, Any]:
    probs = predict_probs(model, samples, input_size, mean, std, device, tta_flip)
    conf = confusion_matrix(samples.labels, probs.argmax(1), len(samples.classes))
    return summarise(conf, samples.classes)


class CheckpointError(UsageError):
    """A run folder whose checkpoint cannot be resumed; the message says what to do."""


_CHECKPOINT_KEYS = ("config_json", "model", "optimizer", "scheduler", "scaler", "generator", "torch_rng", "epoch",
                    "history_json", "best_score", "stale")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents, read without unpickling objects and checked for what resuming
    needs; CheckpointError (start over, or choose another folder) otherwise."""
    advice = "delete it to start the run again, or choose another --out"
    if not path.is_file():
        raise CheckpointError(f"{path}: not a regular file; {advice}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: holds pickled Python objects, which are never loaded (a checkpoint "
                              f"holds tensors only); {advice}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises a dozen kinds for a damaged file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:160]}); {advice}") from None
    missing = [k for k in _CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a fer-train checkpoint (no {', '.join(missing[:4])}); {advice}")
    for key, tensor in ckpt["model"].items() if isinstance(ckpt["model"], dict) else []:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: weight {key} is NaN or infinite (the run diverged); {advice}")
    return ckpt


@dataclass
class _Stage:
    """One stage's moving parts, built once and passed between the loop's steps."""

    cfg: TrainConfig
    name: str
    run_dir: Path
    device: torch.device
    model: nn.Module
    ema: ModelEmaV3 | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    loader: DataLoader
    criterion: nn.Module
    classes: tuple[str, ...]
    mean: float
    std: float
    progress: Progress
    should_stop: Callable[[], bool]
    config_record: dict[str, Any]
    teachers: Teachers | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float = -1.0
    stale: int = 0

    @property
    def kept(self) -> nn.Module:
        """What is evaluated and saved: the moving average of the weights, or the weights."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def cuda_tricks(self) -> bool:
        return self.device.type == "cuda"

    def restore_weights(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        if self.ema is not None:
            self.ema.module.load_state_dict(ckpt["ema"])

    def resume_from(self, path: Path) -> int:
        """Load a checkpoint of this very run; the epoch to continue with."""
        ckpt = read_checkpoint(path)
        try:
            saved = _comparable(json.loads(ckpt["config_json"]))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: its config record does not read ({exc}); delete it to start again") \
                from None
        if saved != _comparable(json.loads(json.dumps(self.config_record))):
            raise UsageError(f"{self.run_dir} holds a run with another config or data; "
                             "pick a new run folder or delete it")
        try:
            self.restore_weights(ckpt)
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
            self.scaler.load_state_dict(ckpt["scaler"])
            self.generator.set_state(ckpt["generator"])
            torch.set_rng_state(ckpt["torch_rng"])
            start = int(ckpt["epoch"]) + 1
            self.history = json.loads(ckpt["history_json"])
            self.best_score, self.stale = float(ckpt["best_score"]), int(ckpt["stale"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise CheckpointError(f"{path}: does not fit this run ({type(exc).__name__}: "
                                  f"{' '.join(str(exc).split())[:160]}); delete it to start the run again") from None
        if not isinstance(self.history, list) or len(self.history) != start:
            raise CheckpointError(f"{path}: its history does not match its epoch; delete it to start the run again")
        self.progress.message(f"{self.name}: resumed from {path} after epoch {start}")
        return start

    def save_checkpoint(self, epoch: int) -> None:
        path = self.run_dir / CHECKPOINT
        torch.save({
            "config_json": json.dumps(self.config_record),
            "model": self.model.state_dict(),
            **({"ema": self.ema.module.state_dict()} if self.ema is not None else {}),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch,
            "history_json": json.dumps(self.history),
            "best_score": self.best_score,
            "stale": self.stale,
        }, path.with_name(CHECKPOINT + ".tmp"))
        path.with_name(CHECKPOINT + ".tmp").replace(path)  # atomic: a kill never leaves half a file

    def train_epoch(self, epoch: int) -> dict[str, Any] | None:
        """One pass over the loader; its record, or None when stopped mid-epoch (the weights
        are then back at the last full epoch, as a resume will find them)."""
        progress = self.progress
        # A frozen backbone stays in eval mode: its BatchNorm statistics are part of what is frozen.
        self.model.train(not self.cfg.freeze_backbone)
        progress.epoch_start(epoch, len(self.loader))
        t0, total_loss, total_correct, seen = time.perf_counter(), 0.0, 0, 0
        for i, (x, y) in enumerate(self.loader):
            loss, correct = self._step(x, y)
            total_loss += loss * len(x)
            total_correct += correct
            seen += len(x)
            progress.batch(i, loss)
            if self.should_stop():
                break
        if self.should_stop():
            progress.message(f"{self.name}: stopped by request during epoch {epoch + 1}; the last full epoch is kept")
            # The half-trained weights are not a state any run passes through: go back to the
            # last full epoch, as a resume will.
            if (self.run_dir / CHECKPOINT).is_file():
                self.restore_weights(read_checkpoint(self.run_dir / CHECKPOINT))
            return None
        seconds = time.perf_counter() - t0
        return {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"],
                "train_loss": total_loss / max(seen, 1), "train_accuracy": total_correct / max(seen, 1),
                "seconds": seconds, "images_per_second": seen / max(seconds, 1e-9)}

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One optimisation step on a batch: (its loss, how many it got right)."""
        cfg = self.cfg
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        x = grey_to_model_input(x)
        if self.cuda_tricks and cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        hard = y.argmax(1) if y.ndim == 2 else y
        if cfg.mixup_alpha > 0:
            x, y = mixup(x, y, len(self.classes), cfg.mixup_alpha)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.cuda_tricks and cfg.amp):
            logits = self.model(x)
            loss = self.criterion(logits.float(), y)
            if self.teachers is not None:
                # The teachers judge the very pixels the student saw (augmented, mixed).
                teacher_probs = self.teachers.probabilities(x, cfg.distill_temperature)
                loss = (1.0 - cfg.distill_weight) * loss + cfg.distill_weight * distillation_loss(
                    logits, teacher_probs, cfg.distill_temperature)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss.item(), int((logits.argmax(1) == hard).sum())

    def end_epoch(self, epoch: int, record: dict[str, Any], val: SampleSet | None) -> bool:
        """Validate, keep the best weights, checkpoint; True when early stopping says stop."""
        cfg = self.cfg
        score = None
        if val is not None and len(val):
            summary = evaluate_set(self.kept, val, cfg.input_size, self.mean, self.std, self.device, cfg.tta_flip)
            record.update(val_accuracy=summary["accuracy"], val_macro_f1=summary["macro_f1"])
            score = summary["accuracy"]
        self.history.append(record)
        if score is None or score > self.best_score:
            self.best_score, self.stale = (score if score is not None else self.best_score), 0
            write_weights(self.kept.state_dict(), self.run_dir / BEST_WEIGHTS)
        else:
            self.stale += 1
        self.progress.epoch_end(record)
        self.save_checkpoint(epoch)
        if cfg.early_stopping and self.stale >= cfg.early_stopping:
            self.progress.message(f"{self.name}: early stop, no improvement for {self.stale} epochs")
            return True
        return False


def _prepare_train(cfg: TrainConfig, train: SampleSet, name: str, progress: Progress) -> SampleSet:
    """The training samples this run uses: a subset for smoke runs, labelled ones only."""
    train = train.random_subset(cfg.max_train_samples, cfg.seed)
    unlabelled = len(train) - len(train.labelled())
    if unlabelled:
        progress.message(f"{name}: leaving out {unlabelled} unlabelled training samples")
        train = train.labelled()
    if len(train) == 0:
        raise DataError(f"{name}: no labelled training samples")
    if cfg.soft_labels and train.soft_labels is None:
        progress.message(f"{name}: soft_labels is set but {train.name} has no vote distributions; "
                         "training on its hard labels")
    return train


def _say_unseen_classes(train: SampleSet, replay: SampleSet | None, name: str, progress: Progress) -> None:
    """A class without a training sample (a small folder dataset, a corrected copy whose last
    disgust face was relabelled) trains; the user should know the model learns not to say it."""
    counts = train.class_counts()
    if replay is not None and replay.classes == train.classes:
        counts = counts + replay.labelled().class_counts()
    unseen = [c for c, n in zip(train.classes, counts) if n == 0]
    if unseen:
        progress.message(f"{name}: no training sample labelled {', '.join(unseen)}: "
                         "the model will learn never to predict " + ("it" if len(unseen) == 1 else "them"))


def _check_replay(cfg: TrainConfig, replay: SampleSet | None, classes: tuple[str, ...], name: str) -> SampleSet | None:
    if replay is None:
        return None
    replay = replay.labelled()
    if replay.classes != classes:
        raise DataError(f"{name}: replay data {replay.name} has classes {replay.classes}, expected {classes}")
    if cfg.class_balance == "sampler":
        raise UsageError(f"{name}: class_balance = sampler draws from the training set alone; "
                         "with replay use class_balance = weights or none")
    return replay


def _optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _build_stage(cfg: TrainConfig, train: SampleSet, val: SampleSet | None, replay: SampleSet | None, run_dir: Path,
                 name: str, progress: Progress, should_stop: Callable[[], bool]) -> tuple[_Stage, str, str, dict]:
    """The model, optimizer, loader ... of a fresh run; (stage, backbone, weights source, init notes)."""
    device = choose_device(cfg.device)
    classes = train.classes
    model, backbone, source, init_info = _build_model(cfg, classes)
    spec = get_spec(backbone)
    mean, std = float(np.mean(spec.mean)), float(np.mean(spec.std))
    if cfg.freeze_backbone:
        trainable = freeze_all_but_classifier(model)
        progress.message(f"{name}: backbone frozen, training the classifier alone ({trainable} parameters)")
    model.to(device)
    if device.type == "cuda" and cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    progress.message(f"{name}: model {backbone}, pretrained weights: {source}, device {device}, "
                     f"{len(train)} train / {len(val) if val is not None else 0} val samples"
                     + (f", replaying {replay.name} ({len(replay)})" if replay is not None else ""))
    generator = torch.Generator().manual_seed(cfg.seed)
    replay = _check_replay(cfg, replay, classes, name)
    loader = _train_loader(cfg, train, mean, std, generator, replay)
    if len(loader) == 0:
        raise DataError(f"{name}: {len(train)} training samples is fewer than one batch of {cfg.batch_size}")
    optimizer = _optimizer(cfg, model)
    teachers = Teachers(cfg.teachers, classes, mean, std).to(device) if cfg.teachers else None
    if teachers is not None:
        progress.message(f"{name}: distilling from {len(cfg.teachers)} teacher(s), weight {cfg.distill_weight}, "
                         f"temperature {cfg.distill_temperature}")
    config_record = {"name": name, "config": cfg.to_dict(), "train": train.name, "val": val.name if val else None}
    if replay is not None:
        config_record["replay"] = replay.name
    # With ema_decay, the weights evaluated and kept are an exponential moving average of the
    # trained ones: on a few hundred images (SFEW) validation accuracy swings by +-2 points
    # from epoch to epoch, and the average sits in the middle of the swings.
    stage = _Stage(cfg=cfg, name=name, run_dir=run_dir, device=device, model=model,
                   ema=ModelEmaV3(model, decay=cfg.ema_decay) if cfg.ema_decay > 0 else None,
                   optimizer=optimizer,
                   scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, len(loader))),
                   scaler=torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.amp),
                   generator=generator, loader=loader, criterion=_loss_fn(cfg, train, device), classes=classes,
                   mean=mean, std=std, progress=progress, should_stop=should_stop, config_record=config_record,
                   teachers=teachers)
    return stage, backbone, source, init_info


def train_stage(
    cfg: TrainConfig,
    train: SampleSet,
    val: SampleSet | None,
    run_dir: str | Path,
    *,
    name: str = "stage",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    preprocessing: dict[str, Any] | None = None,
    data_description: dict[str, Any] | None = None,
    resume: bool = True,
    replay: SampleSet | None = None,
) -> StageResult:
    """Train, or resume the run in ``run_dir`` if a checkpoint of the same config is there
    (``resume=False`` refuses to touch a folder that holds one).

    ``should_stop`` is polled before each epoch and after each batch; a stop mid-epoch keeps the
    last full epoch (its checkpoint), so calling again with the same arguments continues
    exactly where an uninterrupted run would be.

    ``replay``: samples of an earlier task mixed into every epoch (``cfg.replay_ratio`` per
    training sample, drawn afresh each epoch; see ``trainer.training.replay``).
    """
    progress = progress or Progress()
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.exists() and not resume:
        raise UsageError(f"{run_dir} already holds a run (checkpoint.pt); resume it or pick another folder")
    if ckpt_path.exists() and not ckpt_path.is_file():
        raise CheckpointError(f"{ckpt_path}: not a regular file; remove it to start the run again")
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    train = _prepare_train(cfg, train, name, progress)
    _say_unseen_classes(train, replay, name, progress)
    stage, backbone, source, init_info = _build_stage(cfg, train, val, replay, run_dir, name, progress, should_stop)
    start_epoch = stage.resume_from(ckpt_path) if ckpt_path.is_file() else 0
    (run_dir / "config.json").write_text(json.dumps({
        **stage.config_record, "pretrained_source": source, "backbone": backbone,
        "data": data_description or {}, "preprocessing": preprocessing or {},
        "train_samples": len(train), "val_samples": len(val) if val is not None else 0,
    }, indent=2))

    progress.stage(name, cfg.epochs)
    stopped_early = interrupted = False
    for epoch in range(start_epoch, cfg.epochs):
        if should_stop():
            progress.message(f"{name}: stopped by request before epoch {epoch + 1}")
            interrupted = True
            break
        record = stage.train_epoch(epoch)
        if record is None:
            interrupted = True
            break
        if stage.end_epoch(epoch, record, val):
            stopped_early = True
            break

    card = ModelCard(name=name, backbone=backbone, classes=list(train.classes), input_size=cfg.input_size,
                     mean=[stage.mean], std=[stage.std], preprocessing=preprocessing or ready_crops(),
                     members=member_count(stage.kept))
    if not stage.history:
        # Stopped before the first epoch ended: there is no model worth writing.
        progress.done({"run_dir": str(run_dir), "interrupted": True, "epochs_run": 0})
        return StageResult(stage.kept.to("cpu"), card, {"history": [], "interrupted": True}, run_dir,
                           interrupted=True)
    return _finish(stage, card, train, val, data_description, init_info, source,
                   {"stopped_early": stopped_early, "interrupted": interrupted})


def _finish(stage: _Stage, card: ModelCard, train: SampleSet, val: SampleSet | None,
            data_description: dict[str, Any] | None, init_info: dict[str, Any], source: str,
            flags: dict[str, bool]) -> StageResult:
    """Keep the selected weights, measure them, write the model, metrics and plots."""
    cfg, run_dir, kept = stage.cfg, stage.run_dir, stage.kept
    if cfg.select == "best" and (run_dir / BEST_WEIGHTS).is_file() and val is not None:
        from safetensors.torch import load_file

        kept.load_state_dict(load_file(str(run_dir / BEST_WEIGHTS)))
    metrics: dict[str, Any] = {"history": stage.history, **flags,
                               "selected": cfg.select if val is not None else "last",
                               "classes": list(stage.classes), "train": train.name, "train_samples": len(train)}
    if val is not None and len(val):
        metrics["val"] = evaluate_set(kept, val, cfg.input_size, stage.mean, stage.std, stage.device, cfg.tta_flip)
        metrics["val"]["name"] = val.name
        card.metrics = {val.name: {k: metrics["val"][k] for k in ("accuracy", "macro_f1", "per_class_recall")}}
    model = kept.to("cpu")
    card.training = {"config": cfg.to_dict(), "data": data_description or {"train": train.name,
                     "val": val.name if val else None}, "epochs_run": len(stage.history), **init_info}
    card.provenance = {"pretrained": source, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    save_model(model, card, run_dir / "model")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _write_plots(run_dir, stage.name, metrics, stage.progress)
    stage.progress.done({"run_dir": str(run_dir), "val_accuracy": metrics.get("val", {}).get("accuracy"),
                         "interrupted": flags["interrupted"], "epochs_run": len(stage.history),
                         "model": str(run_dir / "model.safetensors")})
    return StageResult(model, card, metrics, run_dir, interrupted=flags["interrupted"])


def _write_plots(run_dir: Path, name: str, metrics: dict[str, Any], progress: Progress) -> None:
    from trainer.evaluation.plots import plot_confusion, plot_history

    try:
        plot_history(metrics["history"], run_dir / "curves.png", title=name)
        if "val" in metrics:
            val = metrics["val"]
            plot_confusion(val["confusion"], val["classes"], run_dir / "confusion.png", title=val.get("name", "val"))
    except (OSError, ValueError, RuntimeError) as exc:  # the model is saved already: a plot is not worth a crash
        progress.message(f"{name}: could not write plots: {exc}")
