"""Progress reporting: a tqdm bar in a terminal, or one JSON object per line for the GUI.

The JSON lines are typed events (the dataclasses below); :class:`JsonProgress` writes them
and :func:`parse_event` reads them back, so the writer and its readers (the app's training
panel, tests) share one definition and cannot drift. Epochs are counted from 1 in every
event ("epoch 3 of 12"); batch indices from 0.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TextIO, Union


class Progress:
    """Silent base; the loop calls these hooks (``epoch`` here is 0-based, as in the loop)."""

    def stage(self, name: str, epochs: int) -> None: ...
    def epoch_start(self, epoch: int, batches: int) -> None: ...
    def batch(self, index: int, loss: float) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def done(self, summary: dict[str, Any]) -> None: ...


# ---- the events ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StageEvent:
    """A stage starts (or resumes): ``epochs`` in all."""
    kind: ClassVar[str] = "stage"
    name: str
    epochs: int


@dataclass(frozen=True)
class EpochStartEvent:
    kind: ClassVar[str] = "epoch_start"
    epoch: int  # 1-based
    batches: int


@dataclass(frozen=True)
class BatchEvent:
    """Sent every few batches (and for an epoch's last), not for each one."""
    kind: ClassVar[str] = "batch"
    epoch: int  # 1-based
    index: int  # 0-based within the epoch
    batches: int
    loss: float


@dataclass(frozen=True)
class EpochEndEvent:
    """One row of the run's history (metrics.json); fields the loop adds later land in ``extra``."""
    kind: ClassVar[str] = "epoch_end"
    epoch: int  # 1-based
    lr: float
    train_loss: float
    train_accuracy: float
    seconds: float
    images_per_second: float
    val_accuracy: float | None = None
    val_macro_f1: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageEvent:
    kind: ClassVar[str] = "message"
    text: str


@dataclass(frozen=True)
class DoneEvent:
    """A stage ended: finished, stopped (``interrupted``) or stopped early."""
    kind: ClassVar[str] = "done"
    run_dir: str
    interrupted: bool = False
    val_accuracy: float | None = None
    epochs_run: int | None = None
    model: str | None = None  # the saved model (NAME.safetensors), when one was written


@dataclass(frozen=True)
class EstimateEvent:
    """``fer-train train --estimate``: a few timed batches, scaled to the whole run."""
    kind: ClassVar[str] = "estimate"
    seconds_per_batch: float
    batches_per_epoch: int
    val_seconds_per_epoch: float
    epochs: int
    total_seconds: float
    train_samples: int
    val_samples: int
    device: str


Event = Union[StageEvent, EpochStartEvent, BatchEvent, EpochEndEvent, MessageEvent, DoneEvent, EstimateEvent]
EVENT_TYPES: dict[str, type] = {t.kind: t for t in
                                (StageEvent, EpochStartEvent, BatchEvent, EpochEndEvent, MessageEvent, DoneEvent,
                                 EstimateEvent)}


def event_to_json(event: Event) -> str:
    data = asdict(event)
    extra = data.pop("extra", None) or {}
    return json.dumps({"event": event.kind, **data, **extra})


def parse_event(line: str | bytes) -> Event | None:
    """The event on one line of ``--progress json`` output; None for anything else (a blank
    or torn line, an unknown event, missing fields), so a reader never stops on one line."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(data.pop("event", None))  # type: ignore[arg-type]
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    if "extra" in names:
        data = {**{k: v for k, v in data.items() if k in names}, "extra": {k: v for k, v in data.items()
                                                                          if k not in names}}
    else:
        data = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**data)
    except TypeError:  # a required field is missing
        return None


# ---- the writers --------------------------------------------------------------------------

class TqdmProgress(Progress):
    def __init__(self) -> None:
        self._bar = None
        self._epochs = 0

    def stage(self, name: str, epochs: int) -> None:
        self._epochs = epochs
        print(f"== {name}: {epochs} epochs", file=sys.stderr)

    def epoch_start(self, epoch: int, batches: int) -> None:
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (logs get the per-epoch lines only).
        self._bar = tqdm(total=batches, desc=f"epoch {epoch + 1}/{self._epochs}", unit="batch", leave=False,
                         disable=None)

    def batch(self, index: int, loss: float) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{loss:.3f}")

    def epoch_end(self, record: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
        parts = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()]
        print("  " + " ".join(parts), file=sys.stderr)

    def message(self, text: str) -> None:
        print(text, file=sys.stderr)

    def done(self, summary: dict[str, Any]) -> None:
        print(f"done: {json.dumps(summary)}", file=sys.stderr)


class JsonProgress(Progress):
    """One event per line on ``stream``. Batches are reported at most every ``batch_every``
    batches (and each epoch's last) to keep the pipe light."""

    def __init__(self, stream: TextIO | None = None, batch_every: int = 10) -> None:
        self._stream = stream or sys.stdout
        self._every = batch_every
        self._batches = 0
        self._epoch = 0

    def emit(self, event: Event) -> None:
        self._stream.write(event_to_json(event) + "\n")
        self._stream.flush()

    def stage(self, name: str, epochs: int) -> None:
        self.emit(StageEvent(name=name, epochs=epochs))

    def epoch_start(self, epoch: int, batches: int) -> None:
        self._batches, self._epoch = batches, epoch + 1
        self.emit(EpochStartEvent(epoch=epoch + 1, batches=batches))

    def batch(self, index: int, loss: float) -> None:
        if index % self._every == 0 or index == self._batches - 1:
            self.emit(BatchEvent(epoch=self._epoch, index=index, batches=self._batches, loss=float(loss)))

    def epoch_end(self, record: dict[str, Any]) -> None:
        names = {f.name for f in fields(EpochEndEvent)}
        self.emit(EpochEndEvent(**{k: v for k, v in record.items() if k in names and k != "extra"},
                                extra={k: v for k, v in record.items() if k not in names}))

    def message(self, text: str) -> None:
        self.emit(MessageEvent(text=text))

    def done(self, summary: dict[str, Any]) -> None:
        names = {f.name for f in fields(DoneEvent)}
        self.emit(DoneEvent(**{k: v for k, v in summary.items() if k in names}))
