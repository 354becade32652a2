"""No exception escapes to Qt: slots are guarded and the last-resort hook shows a message."""

from __future__ import annotations

import functools
import logging
import sys
import threading
import traceback
from typing import Any, Callable, TypeVar

log = logging.getLogger("fer_desktop")
F = TypeVar("F", bound=Callable[..., Any])

Reporter = Callable[[str, str], None]  # (message, level)
_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> None:
    global _reporter
    _reporter = reporter


def report_exception(exc: BaseException, context: str = "") -> None:
    log.error("%s", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    text = f"{context}: {exc}" if context else f"{type(exc).__name__}: {exc}"
    if _reporter is not None:
        try:
            _reporter(text, "error")
            return
        except Exception:  # the reporter itself broke (window gone): fall back to stderr
            pass
    print(f"fer-desktop: {text}", file=sys.stderr)


def guarded(func: F) -> F:
    """For slots and event handlers: an exception becomes a message, the app goes on."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            report_exception(exc, func.__name__.strip("_").replace("_", " "))
            return None

    return wrapper  # type: ignore[return-value]


def install_excepthook() -> None:
    """The last resort, for anything a guard missed (PySide routes slot exceptions here)."""

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        report_exception(exc.with_traceback(tb) if exc is not None else exc_type())

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            report_exception(args.exc_value, f"thread {args.thread.name if args.thread else '?'}")

    sys.excepthook = hook
    threading.excepthook = thread_hook
