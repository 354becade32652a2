"""An in-memory set of labelled face crops: what every reader produces and training consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """A data file or folder that cannot be read as a dataset; the message says why."""


@dataclass
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

    def subset(self, index: np.ndarray | list[int], name: str | None = None) -> "SampleSet":
        index = np.asarray(index, dtype=np.int64)
        return SampleSet(
            ids=[self.ids[i] for i in index],
            images=self.images[index],
            labels=self.labels[index],
            classes=self.classes,
            soft_labels=None if self.soft_labels is None else self.soft_labels[index],
            name=name or self.name,
            meta=dict(self.meta),
        )

    def class_counts(self) -> np.ndarray:
        labelled = self.labels[self.labels >= 0]
        return np.bincount(labelled, minlength=len(self.classes))

    @staticmethod
    def concatenate(parts: list["SampleSet"], name: str) -> "SampleSet":
        if not parts:
            raise DataError(f"{name}: nothing to concatenate")
        classes = parts[0].classes
        for p in parts[1:]:
            if p.classes != classes:
                raise DataError(f"{name}: {p.name} has classes {p.classes}, expected {classes}")
            if p.images.shape[1:] != parts[0].images.shape[1:]:
                raise DataError(f"{name}: {p.name} has crops of {p.images.shape[1:]}, expected {parts[0].images.shape[1:]}")
        soft = None
        if all(p.soft_labels is not None for p in parts):
            soft = np.concatenate([p.soft_labels for p in parts])
        return SampleSet(
            ids=[i for p in parts for i in p.ids],
            images=np.concatenate([p.images for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            classes=classes,
            soft_labels=soft,
            name=name,
        )
