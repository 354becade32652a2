"""User corrections to labels: an append-only JSONL journal, kept outside the data.

One record per line (version 2)::

    {"v": 2, "dataset": "sfew2", "id": "Train/Happy/x.png", "from": null, "to": "sad",
     "op": "set", "time": 1700000000.0, "user": "ann"}

``dataset`` qualifies the id (a journal applied to train, val and replay data only touches its
own dataset's samples); ``from`` is the state the record replaces and ``to`` the new one: a
class name, ``null`` (no correction: the dataset's own label applies) or :data:`EXCLUDED`
(not a face / leave out). A class name that is the sample's own label confirms it: checked by
a person, kept. The last record for an id wins, so undo and redo are appends too
(``to`` = the undone record's ``from``): the file is a complete, replayable history.

Version 1 records (``{"id", "label"}``, no dataset) still load; they count for every dataset.

Each append is fsync'ed, so a crash loses at most the record being written; a torn line is
skipped with a warning when reading, and the next append starts on a fresh line. Source files
are never touched: readers apply the journal on load with :func:`apply_relabels`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.classes import canonical_class
from trainer.data.samples import DataError, SampleSet

log = logging.getLogger(__name__)

EXCLUDED = "not-a-face"  # a state: the sample is left out of training and evaluation
FER2013_KEY = "fer2013"  # FER-2013 and FER+ csvs share their row ids ("fer2013:<row>")
OPS = ("set", "undo", "redo", "import")  # import: taken from another annotator's journal


def _state(value: str | None) -> str | None:
    """Canonical form of a state: a class name, None or EXCLUDED."""
    if value is None or value == EXCLUDED:
        return value
    return canonical_class(value)


class RelabelJournal:
    """The GUI writes with :meth:`set`; everyone reads :meth:`state` / :meth:`current`.

    ``dataset`` is the key written into new records and the one :meth:`state` reads for;
    None (a journal opened without knowing its dataset) writes unqualified records and reads all.
    """

    def __init__(self, path: str | Path, dataset: str | None = None) -> None:
        self.path = Path(path)
        self.dataset = dataset

    def set(self, sample_id: str, label: str | None, *, previous: str | None = None, op: str = "set",
            user: str | None = None) -> dict:
        """Append one record: ``sample_id`` goes from ``previous`` to ``label`` (a class name,
        None = withdraw the correction, or EXCLUDED). Returns the record once it is on disk."""
        return self.set_many([(sample_id, label, previous)], op=op, user=user)[0]

    def set_many(self, changes: Sequence[tuple[str, str | None, str | None]], *, op: str = "set",
                 user: str | None = None) -> list[dict]:
        """Append one record per ``(sample_id, label, previous)``, all with one write and one
        fsync (excluding 500 black crops at once should not wait for 500 disk flushes). A crash
        loses at most the line being written; the lines before it stand."""
        if op not in OPS:
            raise ValueError(f"relabel: op must be one of {', '.join(OPS)}, got {op!r}")
        now = time.time()
        records = []
        for sample_id, label, previous in changes:
            if not isinstance(sample_id, str) or not sample_id:
                raise DataError(f"relabel: sample id must be a non-empty string, got {sample_id!r}")
            record: dict = {"v": 2, "dataset": self.dataset, "id": sample_id, "from": _state(previous),
                            "to": _state(label), "op": op, "time": now}
            if user:
                record["user"] = user
            records.append(record)
        if records:
            self._append("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        return records

    def undo(self, record: dict | str, user: str | None = None) -> dict:
        """Undo a record (append its inverse). A bare id withdraws its correction (version 1's undo)."""
        if isinstance(record, str):
            return self.set(record, None, previous=self.state().get(record), op="undo", user=user)
        return self.set(record["id"], record.get("from"), previous=record.get("to"), op="undo", user=user)

    def redo(self, record: dict, user: str | None = None) -> dict:
        """Apply an undone record again."""
        return self.set(record["id"], record.get("to"), previous=record.get("from"), op="redo", user=user)

    def _append(self, line: str) -> None:
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

    def records(self) -> list[dict]:
        """Every well-formed record in order, normalised to version 2's fields (``dataset`` None
        for version 1); malformed lines are skipped with a warning."""
        if not self.path.exists():
            return []
        if not self.path.is_file():
            raise DataError(f"relabel journal {self.path}: not a regular file")
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

    def state(self, dataset: str | None = None) -> dict[str, str]:
        """id -> class name or EXCLUDED for one dataset (default: the journal's), last record
        winning; unqualified records count for every dataset."""
        return {i: r["to"] for i, r in self.latest(dataset).items() if r["to"] is not None}

    def latest(self, dataset: str | None = None, *, imports: bool = True) -> dict[str, dict]:
        """id -> its last record (who changed it, when, to what) for one dataset (default: the
        journal's); unqualified records count for every dataset. ``imports=False`` leaves out
        what was taken from another annotator's journal: this journal's own judgements."""
        return latest_records(self.records(), dataset if dataset is not None else self.dataset, imports=imports)

    def current(self) -> dict[str, str]:
        """id -> corrected class (excluded samples left out): version 1's view."""
        return {k: v for k, v in self.state().items() if v != EXCLUDED}


def latest_records(records: Sequence[dict], dataset: str | None, *, imports: bool = True) -> dict[str, dict]:
    """id -> its last record among ``records`` for ``dataset`` (None: all; unqualified records
    count for every dataset), imports left out unless ``imports``."""
    out: dict[str, dict] = {}
    for record in records:
        if (dataset is None or record["dataset"] in (None, dataset)) and (imports or record["op"] != "import"):
            out[record["id"]] = record
    return out


def _parse(line: bytes) -> dict | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
        return None
    if "to" in record:  # version 2
        dataset = record.get("dataset")
        if dataset is not None and not isinstance(dataset, str):
            return None
        fields = {"to": record["to"], "from": record.get("from")}
        op = record.get("op", "set")
    elif "label" in record:  # version 1: {"id", "label"}
        dataset, fields, op = None, {"to": record["label"], "from": None}, "set"
    else:
        return None
    try:
        for key, value in fields.items():
            if value is not None and not isinstance(value, str):
                return None
            fields[key] = _state(value)
    except ValueError:
        return None
    when = record.get("time")
    return {"v": 2, "dataset": dataset, "id": record["id"], "from": fields["from"], "to": fields["to"],
            "op": op if op in OPS else "set", "time": when if _is_time(when) else None,
            **({"user": record["user"]} if isinstance(record.get("user"), str) else {})}


def _is_time(value: object) -> bool:
    """A Unix time a clock can show (another annotator's file may hold NaN, 1e300 or true)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e11


def dataset_key(path: str | Path) -> str:
    """The key a dataset's journal records carry: "fer2013" for FER-2013 and FER+ csvs (one
    set of images, one row numbering), else the dataset folder's (or file's) name."""
    path = Path(path)
    if path.is_dir():
        return path.resolve().name
    name = path.name.lower()
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    if name.startswith(("fer2013", "ferplus")):
        return FER2013_KEY
    try:
        from trainer.data.datasets import dataset_kind

        if dataset_kind(path) in ("fer2013", "ferplus"):
            return FER2013_KEY
    except (DataError, OSError):
        pass
    return name


def login_name() -> str | None:
    """Who is labelling, for the journal's records (None where the system cannot say)."""
    import getpass

    try:
        return getpass.getuser() or None
    except (KeyError, OSError):  # no login name in the environment, no password entry
        return None


def user_data_dir() -> Path:
    """Where the app keeps what the user made (journals, models trained here):
    ``$FER_DESKTOP_HOME``, else ``$XDG_DATA_HOME/fer-desktop``, else ``~/.local/share/fer-desktop``."""
    override = os.environ.get("FER_DESKTOP_HOME")
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fer-desktop"


def default_journal_path(dataset_path: str | Path) -> Path:
    """One journal per dataset, in the user's data dir: datasets may be read-only and are
    shared, corrections are the user's."""
    path = Path(dataset_path).expanduser()
    resolved = str(path.resolve())
    digest = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:8]
    return user_data_dir() / "journals" / f"{dataset_key(path)}-{digest}.jsonl"


def sample_datasets(samples: SampleSet) -> list[str | None]:
    """Each sample's dataset key (None where unknown: matched by id alone)."""
    per_sample = samples.meta.get("dataset_per_sample")
    if per_sample is not None:
        return [None if d == "" else str(d) for d in per_sample]
    return [samples.meta.get("dataset")] * len(samples)


def apply_relabels(samples: SampleSet, journal_path: str | Path, dataset: str | None = None) -> SampleSet:
    """A copy of ``samples`` with the journal's corrections applied and excluded samples left
    out. Records match a sample by (dataset, id); ``dataset`` overrides the samples' own key.
    Ids not in the set are ignored: one journal may cover several splits. A corrected sample's
    vote distribution becomes one-hot: the user's label overrides the crowd's; a confirmed one
    (its own label set again) stays as it was."""
    records = RelabelJournal(journal_path).records()
    if not records:
        return samples
    keys = [dataset] * len(samples) if dataset is not None else sample_datasets(samples)
    latest = LatestStates(records)
    labels = samples.labels.copy()
    soft = None if samples.soft_labels is None else samples.soft_labels.copy()
    index = {c: i for i, c in enumerate(samples.classes)}
    keep = np.ones(len(samples), dtype=bool)
    changed, confirmed, unusable = 0, 0, 0
    for i, (sample_id, key) in enumerate(zip(samples.ids, keys)):
        state = latest.state(key, sample_id)
        if state is None:
            continue
        if state == EXCLUDED:
            keep[i] = False
            continue
        if state not in index:
            unusable += 1
            continue
        if labels[i] == index[state]:  # the label confirmed: as it is, votes and all
            confirmed += 1
            continue
        labels[i] = index[state]
        if soft is not None:
            soft[i] = 0.0
            soft[i, index[state]] = 1.0
        changed += 1
    if unusable:
        log.warning("relabel journal %s: %d correction(s) name a class %s does not have (%s); ignored",
                    journal_path, unusable, samples.name, ", ".join(samples.classes))
    meta = dict(samples.meta, relabelled=changed, confirmed=confirmed, excluded=int((~keep).sum()),
                relabel_journal=str(journal_path))
    fixed = SampleSet(ids=list(samples.ids), images=samples.images, labels=labels, classes=samples.classes,
                      soft_labels=soft, name=samples.name, meta=meta)
    return fixed if keep.all() else fixed.subset(np.flatnonzero(keep))


class LatestStates:
    """The latest state of each (dataset, id), replaying records in order."""

    def __init__(self, records: list[dict]) -> None:
        self.by_key: dict[tuple[str | None, str], tuple[int, str | None]] = {}
        self.by_id: dict[str, tuple[int, str | None]] = {}
        for order, record in enumerate(records):
            entry = (order, record["to"])
            self.by_key[(record["dataset"], record["id"])] = entry
            self.by_id[record["id"]] = entry

    def state(self, key: str | None, sample_id: str) -> str | None:
        """A sample's own dataset's record or an unqualified one, whichever is later; for a
        sample of unknown dataset, the latest record with its id."""
        if key is None:
            return self.by_id.get(sample_id, (0, None))[1]
        own = self.by_key.get((key, sample_id))
        legacy = self.by_key.get((None, sample_id))
        found = max((e for e in (own, legacy) if e is not None), default=None)
        return None if found is None else found[1]
