"""Which samples a model was trained on, as its card records it. A model rates the labels it
learnt as right, so label-issue scoring (:func:`trainer.evaluation.label_quality.score_labels`)
treats those samples apart; the review window and ``fer-train issues`` both ask here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from trainer.data.relabel import dataset_key
from trainer.data.samples import DataError, SampleSet

_NAMED_SPLITS = {"fer32": ("training", "publictest"), "fer28": ("training",)}
_SET_NAME = re.compile(r"^\w[\w.+-]*/[\w+-]+$")


def trained_splits(training: dict[str, Any]) -> set[tuple[str, str]]:
    """(dataset key, lower-case split) pairs a model was trained on, read from its card's
    training record (its own data, replayed data, and the model it was fine-tuned from).
    Best effort: cards record data as specs ("../data/sfew2", "fer.csv.gz#Training+PublicTest")
    or names ("fer2013/FER32")."""
    from trainer.data.datasets import VARIANTS

    out: set[tuple[str, str]] = set()
    if not isinstance(training, dict) or not training:
        return out
    data = training.get("data") or {}
    specs: list[str] = []
    for value in (data.get("train"), (data.get("stage") or {}).get("replay")):
        specs += [value] if isinstance(value, str) else [v for v in (value or []) if isinstance(v, str)]
    if data.get("variant") in VARIANTS:
        specs += list(VARIANTS[data["variant"]].train)
    for spec in specs:
        out |= _spec_splits(spec)
    return out | trained_splits(training.get("init_training") or {})


def _spec_splits(spec: str) -> set[tuple[str, str]]:
    if _SET_NAME.match(spec) and not Path(spec).exists():  # a set's name: "fer2013/FER32", "sfew2/Train"
        key, _, split = spec.rpartition("/")
        key = dataset_key(Path(key))
        splits = _NAMED_SPLITS.get(split.lower(), (split.lower(),))
        return {(key, s) for s in splits}
    from trainer.data.datasets import DataSpec, default_split

    parsed = DataSpec.parse(spec)
    key = dataset_key(parsed.path)
    splits = [s.lower() for s in parsed.splits]
    if not splits:  # no split named: the train split, or everything when the data has no splits
        try:
            splits = [s.lower() for s in default_split(parsed.path, "train")] or ["*"]
        except (DataError, OSError):  # the data is not on this machine
            splits = ["train", "training"]
    return {(key, s) for s in splits}


def trained_on(samples: SampleSet, training: dict[str, Any]) -> np.ndarray:
    """(N,) bool: the card's training record names the sample's dataset and split."""
    pairs = trained_splits(training)
    splits = samples.meta.get("split_per_sample")
    splits = np.asarray(splits if splits is not None else [""] * len(samples), dtype=str)
    key = samples.meta.get("dataset")
    return np.array([(key, s.lower()) in pairs or (key, "*") in pairs for s in splits], dtype=bool)
