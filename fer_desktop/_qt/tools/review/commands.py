"""Undo and redo of label changes: each QUndoCommand holds the journal record of its change,
and undoing or redoing it appends another record (the journal keeps the whole history)."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from fer_desktop.review import ReviewSession
from trainer.data.relabel import EXCLUDED


def describe(record: dict) -> str:
    to = record["to"]
    what = "withdraw correction" if to is None else "exclude" if to == EXCLUDED else f"relabel as {to}"
    return f"{what}: {record['id']}"


class LabelCommand(QUndoCommand):
    """Pushed after the change is written (the first redo() does nothing)."""

    def __init__(self, session: ReviewSession, record: dict) -> None:
        super().__init__(describe(record))
        self.session = session
        self.record = record
        self._fresh = True

    def redo(self) -> None:
        if self._fresh:
            self._fresh = False
            return
        self.session.redo(self.record)

    def undo(self) -> None:
        self.session.undo(self.record)
