"""A one-slot mailbox between threads: the newest item wins, stale ones are dropped."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """The producer never waits and the consumer only ever sees the newest item, so a slow
    consumer (inference, painting) drops frames instead of falling further behind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; True when the slot was empty (the consumer needs a wake-up: with
        an item already waiting, a wake-up is already on its way)."""
        with self._lock:
            was_empty = self._item is None
            if not was_empty:
                self.dropped += 1
            self._item = item
            return was_empty

    def take(self) -> T | None:
        with self._lock:
            item, self._item = self._item, None
            return item

    def peek(self) -> T | None:
        with self._lock:
            return self._item

    def clear(self) -> None:
        with self._lock:
            self._item = None
