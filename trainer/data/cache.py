"""On-disk caches of arrays (aligned crops, parsed FER-2013): a ``.npz`` per entry.

A cache only saves time, so it never costs a run: an entry that does not load (truncated
by a crash, overwritten with garbage, written by another version, of the wrong shapes) is
discarded and rebuilt, and a cache that cannot be written leaves the data in memory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")


class BadEntry(ValueError):
    """Raised by a ``check`` when a loaded entry is not what was written."""


def load_entry(path: Path, read: Callable[[dict[str, np.ndarray]], T]) -> T | None:
    """``read`` of the arrays in ``path``, or None when there is no usable entry (a bad one
    is removed). ``read`` raises BadEntry (or any error) for arrays that are not right."""
    if not path.exists():
        return None
    try:
        if not path.is_file():
            raise BadEntry("not a regular file")
        with np.load(path, allow_pickle=False) as data:
            return read({k: data[k] for k in data.files})
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, rebuilding is right
        log.warning("cache entry %s does not load (%s: %s); rebuilding it", path, type(exc).__name__, exc)
        try:
            if path.is_file():
                path.unlink()
        except OSError:
            pass
        return None


def save_entry(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write atomically (a temporary file renamed into place); False, with a warning, when
    the cache cannot be written (full disk, read-only folder, something in the way)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        tmp.replace(path)
        return True
    except OSError as exc:
        log.warning("cannot write cache entry %s (%s); going on without it", path, exc)
        tmp.unlink(missing_ok=True)
        return False


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise BadEntry(what)
