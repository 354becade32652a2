"""On-disk caches of arrays (aligned crops, parsed FER-2013): a ``.npz`` per entry.

A cache only saves time, so it never costs a run: an entry that does not load (truncated
by a crash, overwritten with garbage, written by another version, of the wrong shapes, or
not matching the digest of the arrays written) is discarded and rebuilt, and a cache that
cannot be written leaves the data in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")


def file_stamp(path: Path) -> list:
    """What changes when a file or folder changes, for cache keys: its path, size and mtime (a
    folder's split and class folders too, which change when files are added or removed)."""
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    out = [str(path.resolve()), st.st_size if path.is_file() else 0, st.st_mtime_ns]
    if path.is_dir():
        for sub in sorted(p for p in path.rglob("*") if p.is_dir()):
            out.append([sub.name, sub.stat().st_mtime_ns])
    return out


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
            arrays = {k: data[k] for k in data.files}
        stored = str(arrays.pop(_DIGEST, ""))
        expect(stored == _digest(arrays), "its arrays are not the ones written")
        return read(arrays)
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
            np.savez(fh, **arrays, **{_DIGEST: np.array(_digest(arrays))})
        tmp.replace(path)
        return True
    except OSError as exc:
        log.warning("cannot write cache entry %s (%s); going on without it", path, exc)
        tmp.unlink(missing_ok=True)
        return False


_DIGEST = "digest"


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """A hash of every array's name, type, shape and bytes: an entry rewritten with other
    arrays, however consistent they look, is not the one that was written."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise BadEntry(what)
