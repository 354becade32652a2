"""How long a run will take on this machine: its data loaded, a few real training batches
timed (the very loop the run uses, on its device, with its batch size and replay mix) and one
validation pass over a sample of the validation set, scaled to the whole run."""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np

from trainer.device import choose_device
from trainer.training.progress import EstimateEvent, Progress
from trainer.training.runner import StageSpec, load_replay, load_stage_data

TIMED_BATCHES = 4  # after one warm-up batch (first-call allocations, cudnn autotuning)
VAL_SAMPLE = 256


class _BatchClock(Progress):
    """Timestamps of the loop's batches; asks the loop to stop after enough of them."""

    def __init__(self, batches: int, report: Progress) -> None:
        self.wanted = batches
        self.stamps: list[float] = []
        self.batches_per_epoch = 0
        self._report = report

    def epoch_start(self, epoch: int, batches: int) -> None:
        self.batches_per_epoch = batches
        self.stamps.append(time.perf_counter())

    def batch(self, index: int, loss: float) -> None:
        self.stamps.append(time.perf_counter())

    def message(self, text: str) -> None:
        self._report.message(text)

    def __call__(self) -> bool:
        return len(self.stamps) > self.wanted + 1 or (self.batches_per_epoch and
                                                      len(self.stamps) > self.batches_per_epoch)

    def seconds_per_batch(self) -> float:
        steps = np.diff(self.stamps)
        timed = steps[1:] if len(steps) > 1 else steps  # the first is the warm-up
        return float(np.median(timed)) if len(timed) else 0.0


def estimate_stage(spec: StageSpec, progress: Progress | None = None) -> EstimateEvent:
    """An :class:`EstimateEvent` for ``spec``: nothing is written to its run folder."""
    from trainer.evaluation.predict import predict_probs
    from trainer.training.loop import train_stage

    progress = progress or Progress()
    data = load_stage_data(spec, report=progress.message)
    replay = load_replay(spec, report=progress.message)
    cfg = spec.config
    clock = _BatchClock(TIMED_BATCHES, progress)
    with tempfile.TemporaryDirectory(prefix="fer-estimate-") as tmp:
        result = train_stage(cfg, data.train, None, tmp, name=f"{spec.name} (estimate)", progress=clock,
                             should_stop=clock, replay=replay)
    device = choose_device(cfg.device)
    val_seconds = 0.0
    n_val = len(data.val) if data.val is not None else 0
    if n_val:
        sample = data.val.subset(np.arange(min(VAL_SAMPLE, n_val)))
        model = result.model.to(device)
        mean, std = float(np.mean(result.card.mean)), float(np.mean(result.card.std))
        predict_probs(model, sample.subset(np.arange(min(8, len(sample)))), cfg.input_size, mean, std, device,
                      cfg.tta_flip)  # warm-up
        t0 = time.perf_counter()
        predict_probs(model, sample, cfg.input_size, mean, std, device, cfg.tta_flip)
        val_seconds = (time.perf_counter() - t0) * n_val / len(sample)
    per_batch = clock.seconds_per_batch()
    total = cfg.epochs * (clock.batches_per_epoch * per_batch + val_seconds)
    return EstimateEvent(seconds_per_batch=per_batch, batches_per_epoch=clock.batches_per_epoch,
                         val_seconds_per_epoch=val_seconds, epochs=cfg.epochs, total_seconds=total,
                         train_samples=len(data.train), val_samples=n_val, device=str(device))


def describe(estimate: EstimateEvent | dict[str, Any]) -> str:
    """'about 12 min (12 epochs of 243 batches at 0.21 s + 3 s validation) on cpu'."""
    e = estimate if isinstance(estimate, EstimateEvent) else EstimateEvent(**estimate)
    minutes = e.total_seconds / 60
    when = f"{minutes:.0f} min" if minutes >= 2 else f"{e.total_seconds:.0f} s"
    return (f"about {when} on {e.device}: {e.epochs} epochs of {e.batches_per_epoch} batches at "
            f"{e.seconds_per_batch:.3f} s + {e.val_seconds_per_epoch:.1f} s validation")
