"""One training stage: fit a backbone on a SampleSet, checkpoint every epoch, resume after a
kill, keep the best (or last) weights, and write the run folder."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from timm.utils import ModelEmaV3
from torch.utils.data import DataLoader, WeightedRandomSampler

from trainer.data.crops import ready_crops
from trainer.data.samples import SampleSet
from trainer.device import choose_device
from trainer.data.torch_dataset import CropDataset
from trainer.data.transforms import train_transform
from trainer.evaluation.metrics import confusion_matrix, summarise
from trainer.evaluation.predict import predict_probs
from trainer.models.card import ModelCard, load_model, save_model
from trainer.models.registry import create_model, get_spec, grey_to_model_input
from trainer.training.config import TrainConfig
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
            get_spec(card.backbone).reset_head(model, len(classes))
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
    if not resume and ckpt_path.is_file():
        raise ValueError(f"{run_dir} already holds a run (checkpoint.pt); resume it or pick another folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    device = choose_device(cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    if cfg.max_train_samples and len(train) > cfg.max_train_samples:
        pick = np.random.default_rng(cfg.seed).permutation(len(train))[: cfg.max_train_samples]
        train = train.subset(np.sort(pick))
    unlabelled = len(train) - len(train.labelled())
    if unlabelled:
        progress.message(f"{name}: leaving out {unlabelled} unlabelled training samples")
        train = train.labelled()
    if cfg.soft_labels and train.soft_labels is None:
        progress.message(f"{name}: soft_labels is set but {train.name} has no vote distributions; "
                         "training on its hard labels")
    classes = train.classes

    model, backbone, source, init_info = _build_model(cfg, classes)
    spec = get_spec(backbone)
    mean, std = float(np.mean(spec.mean)), float(np.mean(spec.std))
    model.to(device)
    use_cuda_tricks = device.type == "cuda"
    if use_cuda_tricks and cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    progress.message(f"{name}: model {backbone}, pretrained weights: {source}, device {device}, "
                     f"{len(train)} train / {len(val) if val is not None else 0} val samples"
                     + (f", replaying {replay.name} ({len(replay)})" if replay is not None else ""))

    generator = torch.Generator().manual_seed(cfg.seed)
    if replay is not None:
        replay = replay.labelled()
        if replay.classes != classes:
            raise ValueError(f"{name}: replay data {replay.name} has classes {replay.classes}, expected {classes}")
        if cfg.class_balance == "sampler":
            raise ValueError(f"{name}: class_balance = sampler draws from the training set alone; "
                             "with replay use class_balance = weights or none")
    loader = _train_loader(cfg, train, mean, std, generator, replay)
    if len(loader) == 0:
        raise ValueError(f"{name}: {len(train)} training samples is fewer than one batch of {cfg.batch_size}")
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                                           weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: sgd, adamw")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, len(loader)))
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda_tricks and cfg.amp)
    # With ema_decay, the weights evaluated and kept are an exponential moving average of the
    # trained ones: on a few hundred images (SFEW) validation accuracy swings by +-2 points
    # from epoch to epoch, and the average sits in the middle of the swings.
    ema = ModelEmaV3(model, decay=cfg.ema_decay) if cfg.ema_decay > 0 else None
    kept = ema.module if ema is not None else model  # what is evaluated and saved

    def restore_weights(ckpt: dict[str, Any]) -> None:
        model.load_state_dict(ckpt["model"])
        if ema is not None:
            ema.module.load_state_dict(ckpt["ema"])
    criterion = _loss_fn(cfg, train, device)

    config_record = {"name": name, "config": cfg.to_dict(), "train": train.name, "val": val.name if val else None}
    if replay is not None:
        config_record["replay"] = replay.name
    start_epoch, history, best_score, stale = 0, [], -1.0, 0
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        saved = _comparable(json.loads(ckpt["config_json"]))
        if saved != _comparable(json.loads(json.dumps(config_record))):
            raise ValueError(f"{run_dir} holds a run with another config or data; pick a new run folder or delete it")
        restore_weights(ckpt)
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        start_epoch = int(ckpt["epoch"]) + 1
        history = json.loads(ckpt["history_json"])
        best_score, stale = float(ckpt["best_score"]), int(ckpt["stale"])
        progress.message(f"{name}: resumed from {ckpt_path} after epoch {start_epoch}")
    (run_dir / "config.json").write_text(json.dumps({
        **config_record, "pretrained_source": source, "backbone": backbone,
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
        model.train()
        progress.epoch_start(epoch, len(loader))
        t0, total_loss, total_correct, seen = time.perf_counter(), 0.0, 0, 0
        for i, (x, y) in enumerate(loader):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            x = grey_to_model_input(x)
            if use_cuda_tricks and cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            hard = y.argmax(1) if y.ndim == 2 else y
            if cfg.mixup_alpha > 0:
                x, y = mixup(x, y, len(classes), cfg.mixup_alpha)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_cuda_tricks and cfg.amp):
                logits = model(x)
                loss = criterion(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if ema is not None:
                ema.update(model)
            total_loss += loss.item() * len(x)
            total_correct += int((logits.argmax(1) == hard).sum())
            seen += len(x)
            progress.batch(i, loss.item())
            if should_stop():
                break
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": total_loss / max(seen, 1),
            "train_accuracy": total_correct / max(seen, 1),
            "seconds": time.perf_counter() - t0,
            "images_per_second": seen / max(time.perf_counter() - t0, 1e-9),
        }
        if should_stop():
            progress.message(f"{name}: stopped by request during epoch {epoch + 1}; the last full epoch is kept")
            interrupted = True
            # The half-trained weights are not a state any run passes through: go back to the
            # last full epoch, as a resume will.
            if ckpt_path.is_file():
                restore_weights(torch.load(ckpt_path, map_location="cpu", weights_only=True))
            break
        score = None
        if val is not None and len(val):
            summary = evaluate_set(kept, val, cfg.input_size, mean, std, device, cfg.tta_flip)
            record.update(val_accuracy=summary["accuracy"], val_macro_f1=summary["macro_f1"])
            score = summary["accuracy"]
        history.append(record)
        if score is None or score > best_score:
            best_score, stale = (score if score is not None else best_score), 0
            from safetensors.torch import save_file

            save_file({k: v.detach().cpu().contiguous() for k, v in kept.state_dict().items()},
                      str(run_dir / BEST_WEIGHTS))
        else:
            stale += 1
        progress.epoch_end(record)
        torch.save({
            "config_json": json.dumps(config_record),
            "model": model.state_dict(),
            **({"ema": ema.module.state_dict()} if ema is not None else {}),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch,
            "history_json": json.dumps(history),
            "best_score": best_score,
            "stale": stale,
        }, run_dir / (CHECKPOINT + ".tmp"))
        (run_dir / (CHECKPOINT + ".tmp")).replace(ckpt_path)  # atomic: a kill never leaves half a file
        if cfg.early_stopping and stale >= cfg.early_stopping:
            progress.message(f"{name}: early stop, no improvement for {stale} epochs")
            stopped_early = True
            break

    if not history:
        # Stopped before the first epoch ended: there is no model worth writing.
        progress.done({"run_dir": str(run_dir), "interrupted": True, "epochs_run": 0})
        card = ModelCard(name=name, backbone=backbone, classes=list(classes), input_size=cfg.input_size,
                         mean=[mean], std=[std], preprocessing=preprocessing or ready_crops())
        return StageResult(kept.to("cpu"), card, {"history": [], "interrupted": True}, run_dir, interrupted=True)
    if cfg.select == "best" and (run_dir / BEST_WEIGHTS).is_file() and val is not None:
        from safetensors.torch import load_file

        kept.load_state_dict(load_file(str(run_dir / BEST_WEIGHTS)))
    metrics: dict[str, Any] = {"history": history, "stopped_early": stopped_early, "interrupted": interrupted,
                               "selected": cfg.select if val is not None else "last",
                               "classes": list(classes), "train": train.name, "train_samples": len(train)}
    if val is not None and len(val):
        metrics["val"] = evaluate_set(kept, val, cfg.input_size, mean, std, device, cfg.tta_flip)
        metrics["val"]["name"] = val.name
    model = kept.to("cpu")
    card = ModelCard(
        name=name,
        backbone=backbone,
        classes=list(classes),
        input_size=cfg.input_size,
        mean=[mean],
        std=[std],
        preprocessing=preprocessing or ready_crops(),
        training={"config": cfg.to_dict(), "data": data_description or {"train": train.name,
                  "val": val.name if val else None}, "epochs_run": len(history), **init_info},
        metrics={f"{val.name}": {k: metrics["val"][k] for k in ("accuracy", "macro_f1", "per_class_recall")}}
        if val is not None and len(val) else {},
        provenance={"pretrained": source, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    )
    save_model(model, card, run_dir / "model")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _write_plots(run_dir, name, metrics, progress)
    progress.done({"run_dir": str(run_dir), "val_accuracy": metrics.get("val", {}).get("accuracy"),
                   "interrupted": interrupted, "epochs_run": len(history),
                   "model": str(run_dir / "model.safetensors")})
    return StageResult(model, card, metrics, run_dir, interrupted=interrupted)


def _write_plots(run_dir: Path, name: str, metrics: dict[str, Any], progress: Progress) -> None:
    from trainer.evaluation.plots import plot_confusion, plot_history

    try:
        plot_history(metrics["history"], run_dir / "curves.png", title=name)
        if "val" in metrics:
            val = metrics["val"]
            plot_confusion(val["confusion"], val["classes"], run_dir / "confusion.png", title=val.get("name", "val"))
    except (OSError, ValueError, RuntimeError) as exc:  # the model is saved already: a plot is not worth a crash
        progress.message(f"{name}: could not write plots: {exc}")
