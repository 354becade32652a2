"""Undo and redo of label changes: each QUndoCommand holds the journal records of one change
(one face, or every face of a multi-selection), and undoing or redoing it appends more records
(the journal keeps the whole history)."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from fer_desktop.review import ReviewSession
from trainer.data.relabel import EXCLUDED


def describe(records: list[dict]) -> str:
    """The undo menu's words for a change: "relabel as sad: Val/Happy/x.png", "exclude 12 faces"."""
    n, targets = len(records), {r["to"] for r in records}
    if all(r.get("op") == "import" for r in records):
        return f"import {n} label change{'s' * (n != 1)}"
    if len(targets) > 1:
        return f"change {n} faces"
    to = targets.pop()
    if n == 1:
        what = "withdraw correction" if to is None else "exclude" if to == EXCLUDED else f"relabel as {to}"
        return f"{what}: {records[0]['id']}"
    return (f"withdraw {n} corrections" if to is None else f"exclude {n} faces" if to == EXCLUDED
            else f"relabel {n} faces as {to}")


class LabelCommand(QUndoCommand):
    """Pushed after the change is written (the first redo() does nothing)."""

    def __init__(self, session: ReviewSession, records: list[dict]) -> None:
        super().__init__(describe(records))
        self.session = session
        self.records = records
        self._fresh = True

    def redo(self) -> None:
        if self._fresh:
            self._fresh = False
            return
        self.session.redo(self.records)

    def undo(self) -> None:
        self.session.undo(self.records)
