"""What is the user's fault and what is ours.

A :class:`UserError` is a mistake the user can fix (a missing or unreadable file, a dataset
or model card that is not what it should be, a bad setting); its message is one line that
says what is wrong and where, and command lines print it without a traceback (exit status
2). Every other exception is a bug in fer-desktop and keeps its traceback.

The engine's specific errors (``DataError``, ``ModelLoadError``, ``ImageReadError`` ...)
derive from ``UserError`` and, for code that caught them before this module existed, from
the built-in they used to be (ValueError, RuntimeError, FileNotFoundError).
"""

from __future__ import annotations

import errno
import sys
import traceback
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A mistake the user can fix; ``str(exc)`` is one line meant for them."""


class UsageError(UserError, ValueError):
    """A command-line argument or setting that cannot be used as given."""


# OSErrors that describe the user's files or machine, not our code: no traceback either.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EISDIR,
                                errno.ENOTDIR, errno.EROFS, errno.EEXIST, errno.ENAMETOOLONG, errno.EDQUOT,
                                errno.ELOOP, errno.EMFILE, errno.EXDEV, errno.ENOTEMPTY, errno.EIO})


def is_user_error(exc: BaseException) -> bool:
    """A UserError, or an OSError about the user's files or machine (disk full, no permission)."""
    if isinstance(exc, (UserError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return True
    return isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS


def one_line(exc: BaseException) -> str:
    """The message of a user error on one line (OSErrors with their file name)."""
    if isinstance(exc, OSError) and not isinstance(exc, UserError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        text = f"{where}{exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


BUG_NOTE = "this is a bug in fer-desktop: please report it with the traceback above"


def report_bug(prog: str, exc: BaseException, file: Any = None) -> None:
    """Print a bug's traceback and say that it is one."""
    file = file or sys.stderr
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)
    print(f"{prog}: {BUG_NOTE}", file=file)


def per_item(prog: str, item: str, fn: Callable[[], T]) -> tuple[T | None, dict[str, Any] | None]:
    """Run one item of a batch command: (result, None), or (None, error record) when it
    fails. A user error is one line; a bug prints its traceback and is recorded as a bug,
    so one bad file never costs the batch the results of the good ones."""
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - the batch goes on; bugs keep their traceback below
        if is_user_error(exc):
            return None, {"error": one_line(exc)}
        print(f"{prog}: {item}:", file=sys.stderr)
        report_bug(prog, exc)
        return None, {"error": f"internal error ({type(exc).__name__}: {one_line(exc)})", "bug": True}
