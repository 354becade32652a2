"""Reading what the user looks at now, off the GUI thread.

:class:`LatestOnlyReader` runs one read at a time in a :class:`ThreadJob`; while it runs, only the
newest request waits, so holding an arrow key over 200 samples reads a handful of files, not 200,
and the last one shown is always the one selected. A few results are kept, so stepping back and
forth shows them at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject, Signal

from fer_desktop._qt.jobs import ThreadJob

NOT_CACHED = object()  # what cached() gives for a key it has not kept (None is a result)


class LatestOnlyReader(QObject):
    """``read(key)`` off the GUI thread; ``ready(key, result)`` or ``failed(key, exception)``
    in the GUI thread."""

    ready = Signal(object, object)
    failed = Signal(object, object)

    def __init__(self, read: Callable[[Any], Any], *, keep: int = 8, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.read = read
        self.keep = keep
        self.results: OrderedDict[Hashable, Any] = OrderedDict()
        self.job: ThreadJob | None = None
        self.reading: Hashable | None = None
        self.waiting: Hashable | None = None  # the newest request made while a read ran
        self.reads = 0  # reads started, for tests: fewer than requests when the user is quick

    @property
    def busy(self) -> bool:
        """A read is running or waiting."""
        return self.job is not None

    def cached(self, key: Hashable) -> Any:
        """The kept result for ``key``, or :data:`NOT_CACHED`."""
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]
        return NOT_CACHED

    def request(self, key: Hashable) -> None:
        """Read ``key`` when the reader is free; replaces any request still waiting."""
        if key == self.reading:
            self.waiting = None  # already on its way
        elif self.job is not None:
            self.waiting = key
        else:
            self._start(key)

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Drop what waits and let a running read end (the window is closing)."""
        self.waiting = None
        if self.job is not None:
            self.job.cancel()
            self.job.wait(timeout_ms)

    def _start(self, key: Hashable) -> None:
        self.reading, self.reads = key, self.reads + 1
        job = ThreadJob(self.read, key, title="read", parent=self)
        job.returned.connect(lambda result: self._keep(key, result))
        job.errored.connect(lambda exc: self.failed.emit(key, exc))
        job.finished.connect(self._next)
        self.job = job
        job.start()

    def _keep(self, key: Hashable, result: Any) -> None:
        self.results[key] = result
        while len(self.results) > self.keep:
            self.results.popitem(last=False)
        self.ready.emit(key, result)

    def _next(self) -> None:
        if self.job is not None:
            self.job.deleteLater()
        self.job, self.reading = None, None
        key, self.waiting = self.waiting, None
        if key is not None and self.cached(key) is NOT_CACHED:
            self._start(key)

