"""*Review ▸ Open Recent*: the datasets opened before (path, split, model, journal, input, every face, the
journal compared), the newest first, kept in the settings as JSON; a hand-edited or stale entry is
skipped, never fatal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

from fer_desktop.review import DatasetRequest

KEY = "review/recent"
KEEP = 8
_FIELDS = {f.name for f in dataclasses.fields(DatasetRequest)}


def recent_requests(settings: QSettings) -> list[DatasetRequest]:
    try:
        entries = json.loads(str(settings.value(KEY, "[]")))
    except (TypeError, ValueError):
        return []
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and set(entry) <= _FIELDS:
            compare = entry.get("compare") or ()
            entry["compare"] = (compare,) if isinstance(compare, str) else tuple(map(str, compare))  # JSON: a list
            out.append(DatasetRequest(**entry))
    return out


def remember(settings: QSettings, request: DatasetRequest) -> None:
    """Put ``request`` first (once: the same dataset, split and model opened again moves up)."""
    same = (request.path, request.split, request.model)
    kept = [r for r in recent_requests(settings) if (r.path, r.split, r.model) != same]
    settings.setValue(KEY, json.dumps([dataclasses.asdict(r) for r in [request, *kept][:KEEP]]))


def title(request: DatasetRequest) -> str:
    """``sfew2 (Val) · model paper-fer32-sfew · ../shared/data/sfew2``"""
    parts = [Path(request.path).name + (f" ({request.split})" if request.split else "")]
    if request.every_face:
        parts.append("every face")
    if request.model:
        parts.append(f"model {Path(request.model).stem}")
    if request.compare:
        parts.append("compared with " + ", ".join(Path(p).stem for p in request.compare))
    parts.append(request.path)
    return " · ".join(parts)


def fill_recent_menu(menu: QMenu, settings: QSettings, open_request: Callable[[DatasetRequest], None]) -> None:
    """Rebuild ``menu`` from the settings (called as it is about to show)."""
    menu.clear()
    requests = recent_requests(settings)
    for n, request in enumerate(requests, start=1):
        found = Path(request.path).expanduser().exists()
        act = menu.addAction(f"&{n}  {title(request)}" + ("" if found else "  (not found)"))
        act.setEnabled(found)
        act.triggered.connect(lambda _=False, r=request: open_request(r))
    if not requests:
        menu.addAction("No datasets opened yet").setEnabled(False)
        return
    menu.addSeparator()
    menu.addAction("Clear the List").triggered.connect(lambda: settings.remove(KEY))
