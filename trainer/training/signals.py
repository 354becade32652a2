"""Ctrl-C / SIGTERM as a request to stop training cleanly (the loop keeps the last full
epoch and writes the model); a second Ctrl-C interrupts at once."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType


class StopOnSignal:
    """``with StopOnSignal() as stop: train_stage(..., should_stop=stop)``."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self._event.is_set()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._event.set()
        print("fer-train: stopping after this batch (the last full epoch is kept; Ctrl-C again to abort)",
              file=sys.stderr)

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():  # signals only work there
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
