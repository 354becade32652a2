"""Progress reporting: a tqdm bar in a terminal, or one JSON object per line for the GUI."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


class Progress:
    """Silent base; the loop calls these hooks."""

    def stage(self, name: str, epochs: int) -> None: ...
    def epoch_start(self, epoch: int, batches: int) -> None: ...
    def batch(self, index: int, loss: float) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def done(self, summary: dict[str, Any]) -> None: ...


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
    """One JSON object per line on ``stream``: {"event": ..., ...}. Batches are reported at
    most every ``batch_every`` batches to keep the pipe light."""

    def __init__(self, stream: TextIO | None = None, batch_every: int = 10) -> None:
        self._stream = stream or sys.stdout
        self._every = batch_every
        self._batches = 0

    def _emit(self, event: str, **data: Any) -> None:
        self._stream.write(json.dumps({"event": event, **data}) + "\n")
        self._stream.flush()

    def stage(self, name: str, epochs: int) -> None:
        self._emit("stage", name=name, epochs=epochs)

    def epoch_start(self, epoch: int, batches: int) -> None:
        self._batches = batches
        self._emit("epoch_start", epoch=epoch, batches=batches)

    def batch(self, index: int, loss: float) -> None:
        if index % self._every == 0 or index == self._batches - 1:
            self._emit("batch", index=index, batches=self._batches, loss=loss)

    def epoch_end(self, record: dict[str, Any]) -> None:
        self._emit("epoch_end", **record)

    def message(self, text: str) -> None:
        self._emit("message", text=text)

    def done(self, summary: dict[str, Any]) -> None:
        self._emit("done", **summary)
