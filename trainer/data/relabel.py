"""User corrections to labels: an append-only JSONL journal beside the data.

One record per line: ``{"id": "Train/Happy/x.png", "label": "sad", "time": 1700000000.0,
"user": "ann"}``. The last record for an id wins; ``"label": null`` withdraws the correction
(the dataset's own label applies again). Source files are never touched: readers apply the
journal on load with :func:`apply_relabels`.

Each append is fsync'ed, so a crash loses at most the record being written; a torn line is
skipped with a warning when reading, and the next append starts on a fresh line.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from trainer.classes import canonical_class
from trainer.data.samples import DataError, SampleSet

log = logging.getLogger(__name__)


class RelabelJournal:
    """The GUI writes with :meth:`set` / :meth:`undo`; everyone reads :meth:`current`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def set(self, sample_id: str, label: str | None, user: str | None = None) -> dict:
        """Append one correction (``label=None`` withdraws it); returns the record written."""
        if not isinstance(sample_id, str) or not sample_id:
            raise DataError(f"relabel: sample id must be a non-empty string, got {sample_id!r}")
        record: dict = {"id": sample_id, "label": None if label is None else canonical_class(label),
                        "time": time.time()}
        if user:
            record["user"] = user
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            # A crash mid-write leaves a line without its newline: start a new line so this
            # record is not glued onto the torn one.
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        return record

    def undo(self, sample_id: str, user: str | None = None) -> dict:
        return self.set(sample_id, None, user)

    def records(self) -> list[dict]:
        """Every well-formed record in order; malformed lines are skipped with a warning."""
        if not self.path.is_file():
            return []
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise DataError(f"relabel journal {self.path}: cannot read: {exc}") from None
        out = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            record = _parse(line)
            if record is None:
                log.warning("relabel journal %s:%d: skipping a malformed line (torn write?): %.80r",
                            self.path, number, line)
                continue
            out.append(record)
        return out

    def current(self) -> dict[str, str]:
        """id -> corrected label, for ids whose latest record is not a withdrawal."""
        labels: dict[str, str] = {}
        for record in self.records():
            if record["label"] is None:
                labels.pop(record["id"], None)
            else:
                labels[record["id"]] = record["label"]
        return labels


def _parse(line: bytes) -> dict | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or "label" not in record:
        return None
    label = record["label"]
    if label is not None:
        if not isinstance(label, str):
            return None
        try:
            record["label"] = canonical_class(label)
        except ValueError:
            return None
    return record


def apply_relabels(samples: SampleSet, journal_path: str | Path) -> SampleSet:
    """A copy of ``samples`` with the journal's corrections applied (ids not in the set are
    ignored: one journal may cover several splits). A corrected sample's vote distribution
    becomes one-hot: the user's label overrides the crowd's."""
    corrections = RelabelJournal(journal_path).current()
    if not corrections:
        return samples
    labels = samples.labels.copy()
    soft = None if samples.soft_labels is None else samples.soft_labels.copy()
    index = {c: i for i, c in enumerate(samples.classes)}
    changed, unusable = 0, 0
    for i, sample_id in enumerate(samples.ids):
        label = corrections.get(sample_id)
        if label is None:
            continue
        if label not in index:
            unusable += 1
            continue
        labels[i] = index[label]
        if soft is not None:
            soft[i] = 0.0
            soft[i, index[label]] = 1.0
        changed += 1
    if unusable:
        log.warning("relabel journal %s: %d correction(s) name a class %s does not have (%s); ignored",
                    journal_path, unusable, samples.name, ", ".join(samples.classes))
    meta = dict(samples.meta, relabelled=changed, relabel_journal=str(journal_path))
    return SampleSet(ids=list(samples.ids), images=samples.images, labels=labels, classes=samples.classes,
                     soft_labels=soft, name=samples.name, meta=meta)
