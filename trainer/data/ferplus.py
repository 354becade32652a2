"""FER+ crowd labels (Barsoum et al. 2016, ``fer2013new.csv``) on FER-2013's pixels.

The votes file has no pixels: row i of it is row i of ``fer2013.csv``, so the images come
from the FER-2013 reader and sample ids are the same ``fer2013:<row>``.

Protocols (``mode``):

* ``"majority"``: the label is the column with the most votes. Rows are dropped when the
  image name is empty (FER+ judged the image unusable), when no tagger voted, or when the
  most-voted column is ``unknown`` or ``NF`` (not a face). Ties between top columns follow
  ``ties``: ``"drop"`` (default) drops the row; ``"fer2013"`` keeps it when FER-2013's own
  label is among the tied classes (and takes that label), else drops it. A tie between an
  emotion and ``unknown``/``NF`` counts as not an emotion (dropped).
* ``"votes"``: ``soft_labels`` hold the vote distribution over the emotion classes
  (``unknown``/``NF`` votes left out, renormalised). The same rows are dropped as above,
  except that ties between emotion classes are kept (the distribution carries them); the
  hard label is the first most-voted class in class order.

``contempt`` (FER+'s 8th class): ``"keep"`` gives the 8 classes of
:data:`trainer.classes.FERPLUS_CLASSES`; ``"drop"`` gives the 7 basic classes and drops rows
whose top class is contempt (in ``votes`` mode the remaining contempt votes are discarded);
``"disgust"`` folds contempt votes into disgust (its nearest basic class) before anything else.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.classes import BASIC_CLASSES, FERPLUS_CLASSES, canonical_class
from trainer.data.fer2013 import FER_SPLITS, READ_ERRORS, check_regular_file, open_text, read_fer2013, read_header
from trainer.data.samples import DataError, SampleSet

VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                "unknown", "NF")
NOT_EMOTIONS = ("unknown", "NF")
MODES = ("majority", "votes")
CONTEMPT_RULES = ("keep", "drop", "disgust")
TIE_RULES = ("drop", "fer2013")


@dataclass
class FerPlusVotes:
    usage: list[str]
    image_name: list[str]
    votes: np.ndarray  # (N, 10) in VOTE_COLUMNS order


MAX_VOTES = 1_000_000  # votes per image: FER+ has 10 taggers; anything near this is not a count


def _vote_counts(row: dict[str, str], where: str) -> list[int]:
    try:
        counts = [int(row[c]) for c in VOTE_COLUMNS]
    except (TypeError, ValueError):
        raise DataError(f"{where}: vote counts are not all integers") from None
    if min(counts) < 0 or max(counts) > MAX_VOTES:
        raise DataError(f"{where}: vote counts must be from 0 to {MAX_VOTES}")
    return counts


def read_votes(path: str | Path, limit: int | None = None) -> FerPlusVotes:
    """The votes file as arrays; malformed rows raise a DataError naming the line."""
    path = Path(path)
    check_regular_file(path, "FER+ csv")
    usage, names, votes = [], [], []
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = read_header(reader)
            missing = [c for c in ("Usage", "Image name", *VOTE_COLUMNS) if c not in header]
            if missing:
                raise DataError(f"{path}: not a FER+ csv: missing column(s) {', '.join(missing)} "
                                f"(expected Usage, Image name, {', '.join(VOTE_COLUMNS)})")
            for row_index, row in enumerate(reader):
                if limit is not None and row_index >= limit:
                    break
                votes.append(_vote_counts(row, f"{path}:{row_index + 2}"))
                usage.append((row["Usage"] or "").strip())
                names.append((row["Image name"] or "").strip())
    except READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read as csv: {' '.join(str(exc).split())}") from None
    if not votes:
        raise DataError(f"{path}: no data rows")
    return FerPlusVotes(usage, names, np.array(votes, dtype=np.int64))


def find_fer2013_csv(votes_path: Path) -> Path:
    """FER-2013's csv for a votes file: beside it, or in ``../fer2013/`` (the shared layout)."""
    for folder in (votes_path.parent, votes_path.parent.parent / "fer2013"):
        for name in ("fer2013.csv.gz", "fer2013.csv"):
            if (folder / name).is_file():
                return folder / name
    raise DataError(f"{votes_path}: FER+ has no pixels and no fer2013.csv(.gz) was found beside it or in "
                    f"{votes_path.parent.parent / 'fer2013'}; name it explicitly")


def _class_matrix(classes: tuple[str, ...], contempt: str) -> np.ndarray:
    """(10, C) 0/1 matrix taking vote columns onto classes (NF/unknown map nowhere)."""
    m = np.zeros((len(VOTE_COLUMNS), len(classes)), dtype=np.int64)
    for j, col in enumerate(VOTE_COLUMNS):
        if col in NOT_EMOTIONS:
            continue
        name = canonical_class(col)
        if name == "contempt" and contempt == "disgust":
            name = "disgust"
        if name in classes:
            m[j, classes.index(name)] = 1
    return m


@dataclass
class VoteLabels:
    classes: tuple[str, ...]
    keep: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N,) class index, -1 where dropped
    soft: np.ndarray | None  # (N, C) vote distributions in "votes" mode
    reasons: np.ndarray  # (N,) why a row was dropped: no_image | no_votes | not_emotion | tie | ""


def label_votes(votes: np.ndarray, fer_labels: np.ndarray, names: list[str], *, mode: str = "majority",
                contempt: str = "keep", ties: str = "drop") -> VoteLabels:
    """Apply a protocol to raw (N, 10) votes. ``fer_labels`` are FER-2013's labels of the same
    rows (indices into BASIC_CLASSES), used by ``ties="fer2013"``."""
    if mode not in MODES:
        raise DataError(f"unknown FER+ mode {mode!r}; known: {', '.join(MODES)}")
    if contempt not in CONTEMPT_RULES:
        raise DataError(f"unknown contempt rule {contempt!r}; known: {', '.join(CONTEMPT_RULES)}")
    if ties not in TIE_RULES:
        raise DataError(f"unknown tie rule {ties!r}; known: {', '.join(TIE_RULES)}")
    classes = FERPLUS_CLASSES if contempt == "keep" else BASIC_CLASSES
    class_votes = votes @ _class_matrix(classes, contempt)
    # Columns that may win a row but are no class of ours: unknown, NF, and a dropped contempt.
    excluded = [VOTE_COLUMNS.index(c) for c in NOT_EMOTIONS]
    if contempt == "drop":
        excluded.append(VOTE_COLUMNS.index("contempt"))
    top_class = class_votes.max(axis=1)
    top_other = votes[:, excluded].max(axis=1)

    labels = np.full(len(votes), -1, dtype=np.int64)
    reasons = np.full(len(votes), "", dtype=object)
    for i in range(len(votes)):
        if not names[i]:
            reasons[i] = "no_image"
        elif top_class[i] == 0 and top_other[i] == 0:
            reasons[i] = "no_votes"
        elif top_other[i] >= top_class[i]:  # unknown / NF / a dropped contempt is (one of) the top
            reasons[i] = "not_emotion"
        else:
            tied = np.flatnonzero(class_votes[i] == top_class[i])
            fer_name = BASIC_CLASSES[fer_labels[i]]
            if len(tied) == 1 or mode == "votes":
                labels[i] = tied[0]
            elif ties == "fer2013" and fer_name in classes and classes.index(fer_name) in tied:
                labels[i] = classes.index(fer_name)
            else:
                reasons[i] = "tie"
    soft = None
    if mode == "votes":
        totals = np.maximum(class_votes.sum(axis=1, keepdims=True), 1)
        soft = (class_votes / totals).astype(np.float32)
    return VoteLabels(classes, reasons == "", labels, soft, reasons)


def read_ferplus(votes_path: str | Path, fer_path: str | Path | None = None, *, mode: str = "majority",
                 contempt: str = "keep", ties: str = "drop", usages: tuple[str, ...] | None = None,
                 limit: int | None = None, fer_splits: dict[str, SampleSet] | None = None) -> dict[str, SampleSet]:
    """One SampleSet per ``Usage`` (Training / PublicTest = FER+ valid / PrivateTest = FER+ test).

    ``fer_splits`` (the FER-2013 reader's output) may be passed to avoid reading it again.
    """
    votes_path = Path(votes_path)
    table = read_votes(votes_path, limit)
    if fer_splits is None:
        fer_path = Path(fer_path) if fer_path is not None else find_fer2013_csv(votes_path)
        fer_splits = read_fer2013(fer_path, limit=limit)
    rows = np.concatenate([s.meta["rows"] for s in fer_splits.values()])
    order = np.argsort(rows)
    n_fer = len(rows)
    if n_fer != len(table.votes):
        raise DataError(f"{votes_path}: {len(table.votes)} rows but FER-2013 has {n_fer}: the files do not line up")
    fer_images = np.concatenate([s.images for s in fer_splits.values()])[order]
    fer_labels = np.concatenate([s.labels for s in fer_splits.values()])[order]
    fer_usage = np.concatenate([[u] * len(s) for u, s in fer_splits.items()])[order]
    mismatch = np.flatnonzero(fer_usage != np.array(table.usage))
    if len(mismatch):
        i = int(mismatch[0])
        raise DataError(f"{votes_path}:{i + 2}: Usage {table.usage[i]!r} but FER-2013 row {i} is {fer_usage[i]!r}: "
                        "the files do not line up")

    voted = label_votes(table.votes, fer_labels, table.image_name, mode=mode, contempt=contempt, ties=ties)
    out: dict[str, SampleSet] = {}
    usage_arr = np.array(table.usage)
    for usage in dict.fromkeys(table.usage):
        if usages is not None and usage not in usages:
            continue
        in_usage = usage_arr == usage
        idx = np.flatnonzero(voted.keep & in_usage)
        dropped = voted.reasons[in_usage & ~voted.keep]
        out[usage] = SampleSet(
            ids=[f"fer2013:{i}" for i in idx],
            images=fer_images[idx],
            labels=voted.labels[idx],
            classes=voted.classes,
            soft_labels=None if voted.soft is None else voted.soft[idx],
            name=f"ferplus/{usage}" + ("" if mode == "majority" else f"[{mode}]"),
            meta={"rows": idx, "protocol": {"mode": mode, "contempt": contempt, "ties": ties},
                  "dropped": {str(r): int(n) for r, n in zip(*np.unique(dropped, return_counts=True))}},
        )
    if usages is not None:
        unknown = [u for u in usages if u not in out]
        if unknown:
            raise DataError(f"{votes_path}: no rows with Usage {', '.join(unknown)}; present: "
                            f"{', '.join(dict.fromkeys(table.usage))} (FER-2013 splits: {', '.join(FER_SPLITS)})")
    return out

