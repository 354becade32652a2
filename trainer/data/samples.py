"""An in-memory set of labelled face crops: what every reader produces and training consumes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal, get_args

import numpy as np

from trainer.errors import UserError


FoldUnit = Literal["sample", "film"]
FOLD_UNITS: tuple[str, ...] = get_args(FoldUnit)
# A frame taken from a film, named as SFEW and AFEW name theirs: <film>_<frame>_<face>.png.
_FILM_FRAME = re.compile(r"^(?P<film>.+?)_\d+_\d+$")


def film_of(sample_id: str) -> str:
    """The film a frame comes from (``Train/Happy/Juno_000123_00000004.png`` -> ``Juno``);
    a sample whose name does not follow that pattern is its own film."""
    stem = PurePosixPath(sample_id).stem
    match = _FILM_FRAME.match(stem)
    return match.group("film") if match else sample_id


def _id_hash(sample_id: str) -> str:
    return hashlib.sha1(sample_id.encode()).hexdigest()


# meta entries with one value per sample (arrays): subsets and joins carry them along.
PER_SAMPLE_META = ("dataset_per_sample", "split_per_sample", "face_methods")


class DataError(UserError, ValueError):
    """A data file or folder that cannot be read as a dataset; the message says why."""


@dataclass(repr=False)
class SampleSet:
    """Face crops with labels.

    ``images`` holds grey uint8 crops (N, H, W) of one size; ``labels`` indexes ``classes``
    (-1 = unlabelled); ``soft_labels`` (N, C), when present, are vote distributions
    (FER+) that training may use instead of the hard labels. ``ids`` are stable across
    runs (csv row or path relative to the dataset root) so relabel journals can target them.
    """

    ids: list[str]
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    soft_labels: np.ndarray | None = None
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.images.shape[0] != n or self.labels.shape[0] != n:
            raise DataError(f"{self.name}: {n} ids, {self.images.shape[0]} images, {self.labels.shape[0]} labels")
        if self.soft_labels is not None and self.soft_labels.shape != (n, len(self.classes)):
            raise DataError(f"{self.name}: soft labels of shape {self.soft_labels.shape}, expected {(n, len(self.classes))}")

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        size = "x".join(map(str, self.images.shape[1:]))
        soft = ", soft labels" if self.soft_labels is not None else ""
        return f"SampleSet({self.name!r}, {len(self)} crops of {size}, classes {list(self.classes)}{soft})"

    def subset(self, index: np.ndarray | list[int], name: str | None = None) -> "SampleSet":
        index = np.asarray(index, dtype=np.int64)
        meta = dict(self.meta)
        for key in PER_SAMPLE_META:  # per-sample metadata follows its samples
            if meta.get(key) is not None:
                meta[key] = np.asarray(meta[key])[index]
        return SampleSet(
            ids=[self.ids[i] for i in index],
            images=self.images[index],
            labels=self.labels[index],
            classes=self.classes,
            soft_labels=None if self.soft_labels is None else self.soft_labels[index],
            name=name or self.name,
            meta=meta,
        )

    def random_subset(self, n: int, seed: int = 0, name: str | None = None) -> "SampleSet":
        """``n`` samples drawn without replacement, kept in their order (all of them when there
        are no more than ``n``): the one rule for smoke runs' and quick looks' subsets."""
        if n <= 0 or len(self) <= n:
            return self
        pick = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return self.subset(pick, name)

    def split_fold(self, fold: int, folds: int, by: FoldUnit = "sample") -> tuple["SampleSet", "SampleSet"]:
        """(the rest, fold ``fold`` of ``folds``): a fixed, class-stratified split for choosing
        recipes on part of a training set (SFEW has no test labels, so its Val must stay for
        reporting). The fold depends on the sample ids only, never on a run's seed, so every
        recipe and seed is chosen on the same images.

        ``by="film"`` keeps all frames of one film (``film_of``) on the same side: SFEW's Val
        shares no film with its Train, and frames of one scene on both sides of a fold
        flatter the estimate."""
        if not 0 <= fold < folds or folds < 2:
            raise DataError(f"fold {fold} of {folds}: need 0 <= fold < folds and folds >= 2")
        if by not in FOLD_UNITS:
            raise DataError(f"folds by {by!r}: expected one of {', '.join(FOLD_UNITS)}")
        held = self._film_fold(fold, folds) if by == "film" else self._sample_fold(fold, folds)
        tag = f"fold{fold}of{folds}" + ("-films" if by == "film" else "")
        return (self.subset(np.flatnonzero(~held), f"{self.name}[-{tag}]"),
                self.subset(np.flatnonzero(held), f"{self.name}[{tag}]"))

    def _sample_fold(self, fold: int, folds: int) -> np.ndarray:
        held = np.zeros(len(self), dtype=bool)
        for label in np.unique(self.labels):
            members = np.flatnonzero(self.labels == label)
            order = sorted(members, key=lambda i: _id_hash(self.ids[i]))
            held[[i for rank, i in enumerate(order) if rank % folds == fold]] = True
        return held

    def _film_fold(self, fold: int, folds: int) -> np.ndarray:
        from sklearn.model_selection import StratifiedGroupKFold

        films = [film_of(i) for i in self.ids]
        if len(set(films)) < folds:
            raise DataError(f"{self.name}: {len(set(films))} films for {folds} folds; "
                            "folds by film need at least one film a fold")
        order = np.array(sorted(range(len(self)), key=lambda i: _id_hash(self.ids[i])), dtype=np.int64)
        splits = StratifiedGroupKFold(n_splits=folds).split(order, self.labels[order], [films[i] for i in order])
        held = np.zeros(len(self), dtype=bool)
        held[order[list(splits)[fold][1]]] = True
        return held

    @property
    def crop_size(self) -> int:
        return int(self.images.shape[1])

    def resized(self, size: int) -> "SampleSet":
        """The same samples with crops resized to size x size (a no-op when they already are)."""
        if self.images.shape[1:] == (size, size):
            return self
        return SampleSet(ids=list(self.ids), images=resize_crops(self.images, size), labels=self.labels,
                         classes=self.classes, soft_labels=self.soft_labels, name=self.name, meta=dict(self.meta))

    def labelled(self) -> "SampleSet":
        """Only the samples with a label (or a vote distribution)."""
        keep = self.labels >= 0
        if self.soft_labels is not None:
            keep |= self.soft_labels.sum(axis=1) > 0
        return self if keep.all() else self.subset(np.flatnonzero(keep))

    def one_hot(self) -> np.ndarray:
        """(N, C) float32 distributions from the hard labels (all-zero rows for unlabelled)."""
        out = np.zeros((len(self), len(self.classes)), dtype=np.float32)
        labelled = np.flatnonzero(self.labels >= 0)
        out[labelled, self.labels[labelled]] = 1.0
        return out

    def class_counts(self) -> np.ndarray:
        labelled = self.labels[self.labels >= 0]
        return np.bincount(labelled, minlength=len(self.classes))

    @staticmethod
    def concatenate(parts: list["SampleSet"], name: str, size: int | None = None) -> "SampleSet":
        """Join sets with the same classes; with ``size``, crops of other sizes are resized to it
        (e.g. FER's 48x48 next to 96x96 aligned folder crops)."""
        if not parts:
            raise DataError(f"{name}: nothing to concatenate")
        if size is not None:
            parts = [p.resized(size) for p in parts]
        classes = parts[0].classes
        for p in parts[1:]:
            if p.classes != classes:
                raise DataError(f"{name}: {p.name} has classes {p.classes}, expected {classes}")
            if p.images.shape[1:] != parts[0].images.shape[1:]:
                raise DataError(f"{name}: {p.name} has crops of {p.images.shape[1:]}, expected {parts[0].images.shape[1:]}")
        soft = None
        if any(p.soft_labels is not None for p in parts):
            # Hard-labelled parts join vote-distribution parts as one-hot distributions.
            soft = np.concatenate([p.soft_labels if p.soft_labels is not None else p.one_hot() for p in parts])
        return SampleSet(
            ids=[i for p in parts for i in p.ids],
            images=np.concatenate([p.images for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            classes=classes,
            soft_labels=soft,
            name=name,
            meta={"parts": [p.name for p in parts], **_joined_datasets(parts), **_joined_per_sample(parts)},
        )


def _joined_datasets(parts: list[SampleSet]) -> dict:
    """The dataset key of a joined set: one for all when the parts share it, else one per
    sample (relabel journals match records by dataset and id)."""
    keys = [p.meta.get("dataset") for p in parts]
    if all(p.meta.get("dataset_per_sample") is None for p in parts) and len(set(keys)) == 1:
        return {} if keys[0] is None else {"dataset": keys[0]}
    per_sample = [np.asarray(p.meta["dataset_per_sample"]) if p.meta.get("dataset_per_sample") is not None
                  else np.full(len(p), p.meta.get("dataset") or "", dtype=object) for p in parts]
    return {"dataset_per_sample": np.concatenate(per_sample).astype(str)}


def _joined_per_sample(parts: list[SampleSet]) -> dict:
    """Each sample's split and how its face was made, where every part has them."""
    out = {}
    for key in ("split_per_sample", "face_methods"):
        if all(p.meta.get(key) is not None for p in parts):
            out[key] = np.concatenate([np.asarray(p.meta[key]) for p in parts]).astype(str)
    return out


def resize_crops(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, size, size); area interpolation when shrinking (no aliasing)."""
    import cv2

    if len(images) == 0:
        return np.zeros((0, size, size), dtype=np.uint8)
    shrink = images.shape[1] > size or images.shape[2] > size
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.stack([cv2.resize(im, (size, size), interpolation=interp) for im in images])
