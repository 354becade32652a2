"""Progress for long commands on a terminal: a tqdm bar and status lines on stderr when it is
a terminal; nothing in pipes, logs and CI (stdout stays the result alone)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "img") -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback that moves a bar (the engine's callbacks take one)."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not interactive(), leave=False,
               dynamic_ncols=True)

    def update(done: int, total_now: int) -> None:
        bar.total = total_now
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def status(prog: str) -> Callable[[str], None]:
    """A ``report(text)`` callback (crop making, data loading): one line each, terminals only."""
    def report(text: str) -> None:
        if interactive():
            print(f"{prog}: {text}", file=sys.stderr, flush=True)
    return report
