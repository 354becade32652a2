"""Frames per second over the last few results (what the status bar shows)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class FpsMeter:
    window: int = 30  # results: long enough to be steady, short enough to follow a change

    _times: list[float] = field(default_factory=list)

    def tick(self, now: float | None = None) -> float:
        self._times.append(time.perf_counter() if now is None else now)
        del self._times[:-self.window]
        return self.fps

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()
