"""Per-sample predictions of a model on a labelled set: the reusable result behind evaluation
summaries, label-issue ranking, model comparison and the app's review workspace.

A :class:`Predictions` is saved as one ``.npz`` (no pickle) and cached on disk keyed by the
model file, the data and how the crops were made, so reopening a dataset is instant.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from trainer.data.cache import file_stamp
from trainer.data.samples import DataError, SampleSet
from trainer.evaluation.metrics import renormalised

CACHE_VERSION = 1


class Cancelled(Exception):
    """The caller asked to stop (``cancelled()`` returned True) before the pass finished."""


@dataclass
class Predictions:
    ids: list[str]
    labels: np.ndarray  # (N,) int64 given label, index into classes; -1 = unlabelled
    probs: np.ndarray  # (N, C) float32; columns are the data's classes
    classes: tuple[str, ...]
    embeddings: np.ndarray | None = None  # (N, D) float32 penultimate features
    splits: np.ndarray | None = None  # (N,) split name per sample
    meta: dict = field(default_factory=dict)
    # (N, C) probabilities averaged over extra views (trainer.evaluation.views) for the samples
    # most likely mislabelled, NaN rows for the others; None when not computed.
    view_probs: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.probs = np.asarray(self.probs, dtype=np.float32)
        if self.labels.shape != (n,) or self.probs.shape != (n, len(self.classes)):
            raise DataError(f"predictions: {n} ids, labels {self.labels.shape}, probs {self.probs.shape} "
                            f"for {len(self.classes)} classes")
        if self.embeddings is not None and len(self.embeddings) != n:
            raise DataError(f"predictions: {n} ids but {len(self.embeddings)} embeddings")
        if self.splits is not None and len(self.splits) != n:
            raise DataError(f"predictions: {n} ids but {len(self.splits)} split names")
        if self.view_probs is not None and np.shape(self.view_probs) != self.probs.shape:
            raise DataError(f"predictions: view probabilities {np.shape(self.view_probs)}, expected {self.probs.shape}")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1) if len(self) else np.zeros(0, dtype=np.float32)

    @property
    def model_lacks(self) -> np.ndarray:
        """(C,) bool: the data's classes the model does not have (FER+'s contempt for a 7-class
        model; their column is 0), as ``meta["model_classes"]`` records; none when unrecorded."""
        model_classes = self.meta.get("model_classes")
        return np.array([model_classes is not None and c not in model_classes for c in self.classes], dtype=bool)

    @property
    def scorable_labels(self) -> np.ndarray:
        """The given labels, -1 (unlabelled) where the label is a class the model lacks: nothing
        it says can confirm or doubt such a label."""
        lacks = self.model_lacks
        return np.where((self.labels >= 0) & lacks[np.clip(self.labels, 0, None)], -1, self.labels)

    def subset(self, index: np.ndarray | list[int]) -> "Predictions":
        index = np.asarray(index, dtype=np.int64)
        return Predictions(
            ids=[self.ids[i] for i in index], labels=self.labels[index], probs=self.probs[index],
            classes=self.classes, embeddings=None if self.embeddings is None else self.embeddings[index],
            splits=None if self.splits is None else self.splits[index], meta=dict(self.meta),
            view_probs=None if self.view_probs is None else self.view_probs[index])

    def save(self, path: str | Path) -> Path:
        """Write atomically (a killed writer leaves no half file behind)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"ids": np.array(self.ids, dtype=str), "labels": self.labels, "probs": self.probs,
                  "classes": np.array(self.classes, dtype=str), "meta": np.array(json.dumps(self.meta, default=str))}
        if self.embeddings is not None:
            arrays["embeddings"] = self.embeddings
        if self.splits is not None:
            arrays["splits"] = np.asarray(self.splits, dtype=str)
        if self.view_probs is not None:
            arrays["view_probs"] = self.view_probs
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Predictions":
        """Read a saved file; DataError when it is not one (the caller can recompute)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(ids=[str(i) for i in data["ids"]], labels=data["labels"], probs=data["probs"],
                           classes=tuple(str(c) for c in data["classes"]),
                           embeddings=data["embeddings"] if "embeddings" in data.files else None,
                           splits=data["splits"] if "splits" in data.files else None,
                           meta=json.loads(str(data["meta"])),
                           view_probs=data["view_probs"] if "view_probs" in data.files else None)
        except (OSError, KeyError, ValueError, EOFError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a predictions file ({exc})") from None


def predict_samples(model, card, samples: SampleSet, *, device: str = "auto", tta_flip: bool = True,
                    batch_size: int = 256, embeddings: bool = False, views: bool = False,
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> Predictions:
    """Class probabilities (and optionally embeddings) of every sample, fed as the model was
    trained (its card's input size and normalisation). ``model``: a back-end classifier
    (trainer.inference.backends.create_classifier: ONNX Runtime on a CPU) or a torch module
    (run on ``device``). Columns follow the data's classes: a class the model lacks gets 0,
    classes the data lacks are dropped and the rest renormalised. ``views``: also average extra
    views of the likeliest label errors into ``view_probs`` (trainer.evaluation.views) for the
    label-quality ranking; ``progress`` counts both passes under one total (faces looked at).
    Every pass averages in the card's own test views (trainer.inference.views), as the app does."""
    from trainer.inference.backends import TorchClassifier
    from trainer.inference.views import crop_probs

    if hasattr(model, "run"):
        classifier = model
    else:
        from trainer.device import choose_device

        classifier = TorchClassifier(model, str(choose_device(device)))
    total = len(samples)
    views = views and not card.test_views  # the card's own views already steady every sample
    if views:
        from trainer.evaluation.views import VIEWS, candidate_count

        total += len(VIEWS) * candidate_count(int(np.sum(np.asarray(samples.labels) >= 0)))
    probs_out, emb_out = [], []
    for start in range(0, len(samples), batch_size):
        if cancelled is not None and cancelled():
            raise Cancelled(f"stopped after {start} of {len(samples)} samples")
        p, e = crop_probs(classifier, samples.images[start:start + batch_size], card, tta_flip, embeddings)
        probs_out.append(p.astype(np.float32, copy=False))
        if embeddings:
            emb_out.append(e.astype(np.float32, copy=False))
        if progress is not None:
            progress(min(start + batch_size, len(samples)), total)
    model_probs = np.concatenate(probs_out) if probs_out else np.zeros((0, len(card.classes)), np.float32)
    probs = to_data_classes(model_probs, list(card.classes), samples.classes)
    emb = (np.concatenate(emb_out) if emb_out else np.zeros((0, 0), np.float32)) if embeddings else None
    extra = None
    if views and len(samples):
        def predict(crops: np.ndarray) -> np.ndarray:
            p, _ = crop_probs(classifier, crops, card, tta_flip)
            return to_data_classes(p, list(card.classes), samples.classes)

        first = len(samples)
        extra = _view_probs(predict, samples, probs, batch_size,
                            None if progress is None else (lambda done, _work: progress(first + done, total)),
                            cancelled)
    return Predictions(ids=list(samples.ids), labels=samples.labels, probs=probs, classes=samples.classes,
                       embeddings=emb, splits=samples.meta.get("split_per_sample"),
                       meta={"model": card.name, "model_classes": list(card.classes), "data": samples.name,
                             "tta_flip": tta_flip,
                             "backend": classifier.name, "views": bool(views),
                             "preprocessing": samples.meta.get("preprocessing"), "time": time.time()},
                       view_probs=extra)


def _view_probs(predict, samples: SampleSet, probs: np.ndarray, batch_size: int, progress, cancelled) -> np.ndarray:
    """view_probs for the lowest self-confidence share of the labelled samples, NaN elsewhere."""
    from trainer.evaluation.views import candidates, view_probs

    labels = np.asarray(samples.labels)
    own = np.full(len(labels), np.nan)
    known = labels >= 0
    own[known] = probs[known, labels[known]]  # self-confidence, cleanlab's default score
    pick = candidates(own)
    out = np.full(probs.shape, np.nan, dtype=np.float32)
    images = [samples.images[i] for i in pick]
    out[pick] = view_probs(predict, images, probs[pick], batch_size=batch_size, progress=progress,
                           cancelled=cancelled)
    return out


def to_data_classes(probs: np.ndarray, model_classes: list[str], data_classes: tuple[str, ...]) -> np.ndarray:
    if list(data_classes) == model_classes:
        return probs.astype(np.float32)
    out = np.zeros((len(probs), len(data_classes)), dtype=np.float32)
    for j, c in enumerate(data_classes):
        if c in model_classes:
            out[:, j] = probs[:, model_classes.index(c)]
    return renormalised(out, empty=0.0)  # no bar at all where the model put nothing on the data's classes


def cache_dir_default() -> Path:
    from trainer.data.crops import default_cache_dir

    return default_cache_dir().parent / "predictions"


def cache_path(model_path: str | Path, data: str, preprocessing: dict | None, cache_dir: str | Path | None = None,
               *, samples: SampleSet | None = None, tta_flip: bool = True, embeddings: bool = True,
               views: bool = False) -> Path:
    """Where a pass of ``model_path`` over ``data`` is cached. Keyed by the model files, the data
    spec and its files' stamps, the preprocessing, and, when given, a hash of the crops
    themselves (exact: any change to how faces are made changes it)."""
    from trainer.models.card import model_paths

    weights, card = model_paths(model_path)
    data_path = Path(str(data).partition("#")[0])
    key = {"v": CACHE_VERSION, "model": [file_stamp(weights), file_stamp(card)], "data": str(data),
           "files": file_stamp(data_path), "preprocessing": preprocessing, "tta": tta_flip, "emb": embeddings}
    if views:  # keys of passes without views stay as they were
        key["views"] = True
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
    if samples is not None:
        digest.update(np.ascontiguousarray(samples.images).data)
        digest.update("\n".join(samples.ids).encode())
    return Path(cache_dir or cache_dir_default()) / f"{digest.hexdigest()[:32]}.npz"


def pass_file(model_path: str | Path, samples: SampleSet, data: str, cache_dir: str | Path | None = None, *,
              tta_flip: bool = True, embeddings: bool = False, views: bool = False) -> Path:
    """Where a pass of ``model_path`` over exactly these crops is cached (cache_path); what is
    computed from that pass is kept beside it, under the same name with another suffix, so that
    both go stale together."""
    return cache_path(model_path, data, samples.meta.get("preprocessing"), cache_dir, samples=samples,
                      tta_flip=tta_flip, embeddings=embeddings, views=views)


def load_cached(model_path: str | Path, samples: SampleSet, data: str, *, cache_dir: str | Path | None = None,
                tta_flip: bool = True, embeddings: bool = False, views: bool = False) -> CachedPass | None:
    """A cached pass of ``model_path`` over exactly these crops, or None; a cache entry that does
    not load is discarded. Given labels always come from ``samples`` (a relabelled set reuses
    the model's pass). Needs no model: callers check here before loading one."""
    path = pass_file(model_path, samples, data, cache_dir, tta_flip=tta_flip, embeddings=embeddings, views=views)
    found = _load_pass(path, model_path, samples)
    return None if found is None else CachedPass(found, True, path)


def _load_pass(path: Path, model_path: str | Path, samples: SampleSet) -> Predictions | None:
    if not path.is_file():
        return None
    try:
        found = Predictions.load(path)
    except DataError:
        found = None
    if found is None or found.ids != list(samples.ids):
        path.unlink(missing_ok=True)
        return None
    found.labels = np.asarray(samples.labels, dtype=np.int64)
    if "model_classes" not in found.meta:  # cached before passes recorded it
        from trainer.models.card import read_card

        found.meta["model_classes"] = list(read_card(model_path).classes)
    return found


class CachedPass(NamedTuple):
    predictions: Predictions
    from_cache: bool
    file: Path  # where the pass is kept (pass_file): keep what is computed from it beside it


def cached_predict(model_path: str | Path, model, card, samples: SampleSet, data: str, *,
                   cache_dir: str | Path | None = None, **kwargs) -> CachedPass:
    """:func:`predict_samples` through the on-disk cache."""
    file = pass_file(model_path, samples, data, cache_dir, tta_flip=kwargs.get("tta_flip", True),
                     embeddings=kwargs.get("embeddings", False), views=kwargs.get("views", False))
    found = _load_pass(file, model_path, samples)
    if found is not None:
        return CachedPass(found, True, file)
    result = predict_samples(model, card, samples, **kwargs)
    result.meta["model_path"] = str(model_path)
    try:
        result.save(file)
    except OSError:
        pass  # a read-only cache only costs time
    return CachedPass(result, False, file)
