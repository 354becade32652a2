"""Where window layout and preferences live between runs (QSettings)."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ORGANIZATION = "fer-desktop"
APPLICATION = "fer-desktop"
SETTINGS_ENV = "FER_DESKTOP_SETTINGS"  # an .ini path: tests, docs and screenshots stay out of the user's


def open_settings(path: str | os.PathLike[str] | None = None) -> QSettings:
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def value(settings: QSettings, key: str, default, kind: type):
    """A typed read that survives a hand-edited or stale file (a bad value gives ``default``)."""
    raw = settings.value(key, default)
    if raw is None:
        return default
    try:
        if kind is bool:
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        return kind(raw)
    except (TypeError, ValueError):
        return default
