"""Datasets by spec (``PATH[#SPLIT[+SPLIT...]]``) and the paper's variants by name.

A PATH is a FER-2013 csv (``emotion,pixels,Usage``; ``.csv`` or ``.csv.gz``), a FER+ votes csv
(``fer2013new.csv``; pixels from the FER-2013 csv beside it or in ``../fer2013/``), or a
class-folder dataset (see :mod:`trainer.data.folders`). SPLIT is a ``Usage`` value for the
csvs (Training, PublicTest, PrivateTest) or a split folder's name (Train, Val, ...); several
joined with ``+`` are concatenated. Split names are matched case-insensitively.

Variants (paths relative to a data root, by default ``../shared/data``):

=================  ====================================  ==========================
variant            train                                 val
=================  ====================================  ==========================
fer28              FER-2013 Training                     FER-2013 PublicTest
fer32              FER-2013 Training+PublicTest          FER-2013 PrivateTest
fer28+target       fer28's train + TARGET Train          TARGET Val
fer32+target       fer32's train + TARGET Train          TARGET Val
sfew2              SFEW 2.0 Train                        SFEW 2.0 Val
ferplus            FER+ Training (majority vote)         FER+ PublicTest (majority)
ferplus-votes      FER+ Training (vote distributions)    FER+ PublicTest (majority)
=================  ====================================  ==========================

TARGET defaults to ``sfew2``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from trainer.classes import BASIC_CLASSES
from trainer.data.cache import expect, load_entry, save_entry
from trainer.data.crops import (
    UNREADABLE,
    FaceOptions,
    default_cache_dir,
    prepare_array_crops,
    prepare_crops,
    ready_crops,
)
from trainer.data.fer2013 import csv_header, read_fer2013
from trainer.data.ferplus import VOTE_COLUMNS, read_ferplus
from trainer.data.folders import scan_folder_dataset, split_names
from trainer.data.samples import DataError, SampleSet

log = logging.getLogger(__name__)
DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
_VAL_NAMES = ("val", "valid", "validation", "dev", "test")
_TRAIN_NAMES = ("train", "training")


def default_data_root() -> Path:
    """``$FER_SHARED_DATA`` or ``../shared/data`` (relative to the working directory)."""
    return Path(os.environ.get("FER_SHARED_DATA") or DEFAULT_DATA_ROOT)


@dataclass(frozen=True)
class DataSpec:
    path: Path
    splits: tuple[str, ...] = ()  # () = the dataset's default for the purpose

    @classmethod
    def parse(cls, text: str | Path, root: Path | None = None) -> "DataSpec":
        """``PATH[#SPLIT[+SPLIT...]]``. A path that exists as written is taken whole, so a
        folder named ``data#set`` is a dataset, not ``data`` split ``set``; otherwise the
        splits follow the last ``#``."""
        text = str(text)

        def located(path: str) -> Path:
            p = Path(path).expanduser()
            return root / p if root is not None and not p.is_absolute() else p

        if "#" not in text or located(text).exists():
            path, splits = text, ""
        else:
            path, _, splits = text.rpartition("#")
        if not path.strip():
            raise DataError(f"data spec {text!r} names no dataset (expected PATH[#SPLIT])")
        return cls(located(path), tuple(s for s in splits.split("+") if s))

    def __str__(self) -> str:
        return str(self.path) + ("#" + "+".join(self.splits) if self.splits else "")


@dataclass
class LoadOptions:
    faces: FaceOptions = field(default_factory=FaceOptions)
    cache_dir: Path | None = None
    use_cache: bool = True
    ferplus_mode: str = "majority"  # majority | votes
    contempt: str = "keep"  # keep | drop | disgust (see trainer.data.ferplus)
    ties: str = "drop"  # drop | fer2013
    fer_csv: Path | None = None  # FER-2013 pixels for FER+; found automatically when None
    limit: int | None = None  # read only the first rows of csv files
    report: Callable[[str], None] | None = None
    # FER-2013 / FER+ crops through ``faces`` too (evaluation and review: the app's path for a
    # face crop); training reads them as they are.
    faces_on_csv: bool = False


def _existing(path: Path) -> Path:
    """Accept fer2013.csv for fer2013.csv.gz and vice versa."""
    if path.exists():
        return path
    alternates = [path.with_suffix("")] if path.suffix == ".gz" else [path.with_name(path.name + ".gz")]
    for alt in alternates:
        if alt.exists():
            return alt
    raise DataError(f"dataset not found: {path}")


def dataset_kind(path: Path) -> str:
    """fer2013 | ferplus | folder."""
    if path.is_dir():
        return "folder"
    header = csv_header(path)
    if "pixels" in header and "emotion" in header:
        return "fer2013"
    if "Image name" in header and all(c in header for c in VOTE_COLUMNS):
        return "ferplus"
    raise DataError(f"{path}: neither a FER-2013 csv (emotion,pixels,Usage) nor a FER+ csv "
                    f"(Usage,Image name,{','.join(VOTE_COLUMNS)}); header is {','.join(header)}")


@functools.lru_cache(maxsize=2)
def _fer_cached(path: str, stamp: tuple[int, int], limit: int | None, cache_dir: str | None) -> dict[str, SampleSet]:
    # Parsing FER-2013's 300 MB of text takes tens of seconds: keep the parsed arrays in memory
    # (variants read the file for train and val alike) and, with a cache folder, on disk.
    if cache_dir is None:
        return read_fer2013(path, limit=limit)
    key = hashlib.sha256(json.dumps([path, stamp, limit, 1]).encode()).hexdigest()[:32]
    cached = Path(cache_dir) / f"fer2013-{key}.npz"
    sets = load_entry(cached, _fer_from_arrays)
    if sets is None:
        sets = read_fer2013(path, limit=limit)
        arrays = {"usages": np.array(list(sets))}
        for i, s in enumerate(sets.values()):
            arrays.update({f"images{i}": s.images, f"labels{i}": s.labels, f"rows{i}": s.meta["rows"]})
        save_entry(cached, arrays)
    return sets


def _fer_from_arrays(data: dict[str, np.ndarray]) -> dict[str, SampleSet]:
    """The parsed csv from its cache entry, every array checked against what was written."""
    out = {}
    for i, usage in enumerate(str(u) for u in data["usages"]):
        rows, images, labels = data[f"rows{i}"], data[f"images{i}"], data[f"labels{i}"]
        n = len(rows)
        expect(images.dtype == np.uint8 and images.shape == (n, 48, 48), f"images{i} of shape {images.shape}")
        expect(labels.shape == (n,) and labels.dtype.kind == "i" and (n == 0 or
               (labels.min() >= 0 and labels.max() < len(BASIC_CLASSES))), f"labels{i}")
        expect(rows.dtype.kind == "i", f"rows{i}")
        out[usage] = SampleSet(ids=[f"fer2013:{r}" for r in rows], images=images, labels=labels,
                               classes=BASIC_CLASSES, name=f"fer2013/{usage}", meta={"rows": rows})
    expect(bool(out), "no splits")
    return out


def _read_fer(path: Path, limit: int | None, options: LoadOptions | None = None) -> dict[str, SampleSet]:
    st = path.stat()
    cache_dir = None
    if options is not None and options.use_cache:
        cache_dir = str(options.cache_dir or default_cache_dir())
    return _fer_cached(str(path.resolve()), (st.st_size, st.st_mtime_ns), limit, cache_dir)


def available_splits(path: str | Path, options: LoadOptions | None = None) -> list[str]:
    path = _existing(Path(path))
    kind = dataset_kind(path)
    if kind == "folder":
        return split_names(path)
    if kind == "fer2013":
        options = options or LoadOptions()
        return list(_read_fer(path, options.limit, options))
    return ["Training", "PublicTest", "PrivateTest"]


def _match(requested: str, available: list[str], where: Path) -> str:
    for name in available:
        if name.lower() == requested.lower():
            return name
    raise DataError(f"{where}: no split {requested!r}; splits: {', '.join(available) or '(none)'}")


def default_split(path: str | Path, purpose: str, options: LoadOptions | None = None) -> tuple[str, ...]:
    """The split to use when none is named: ``purpose`` is "train" or "eval".

    FER-2013 / FER+: Training for train, PrivateTest (the literature's test figure) for eval.
    Folders: Train-like / Val-like split folders; all images without a split level.
    """
    path = _existing(Path(path))
    kind = dataset_kind(path)
    if kind != "folder":
        return ("Training",) if purpose == "train" else ("PrivateTest",)
    splits = split_names(path)
    if not splits:
        return ()
    wanted = _TRAIN_NAMES if purpose == "train" else _VAL_NAMES
    for w in wanted:
        for s in splits:
            if s.lower() == w:
                return (s,)
    raise DataError(f"{path}: has splits {', '.join(splits)}; name one with {path}#SPLIT")


def _csv_sets(path: Path, kind: str, spec: DataSpec, splits: tuple[str, ...], options: LoadOptions) -> list[SampleSet]:
    """The requested splits of a FER-2013 or FER+ csv."""
    if kind == "fer2013":
        parts = _read_fer(path, options.limit, options)
        if not spec.splits and list(parts) == ["all"]:
            splits = ()  # no Usage column: its one set is the default for any purpose
    else:
        fer_path = options.fer_csv
        if fer_path is None:
            from trainer.data.ferplus import find_fer2013_csv

            fer_path = find_fer2013_csv(path)
        parts = read_ferplus(path, mode=options.ferplus_mode, contempt=options.contempt, ties=options.ties,
                             limit=options.limit, fer_splits=_read_fer(Path(fer_path), options.limit, options))
    chosen = [_match(s, list(parts), path) for s in splits] if splits else list(parts)
    return [parts[s] for s in chosen]


def _joined(sets: list[SampleSet], spec: DataSpec) -> SampleSet:
    """The sets as one, each sample knowing its split; a DataError when nothing is left."""
    # Each sample's split, for the review workspace's split filter and per-split reports.
    sets = [replace(s, meta={**s.meta, "split_per_sample": np.full(len(s), s.name.rsplit("/", 1)[-1])})
            for s in sets]
    if len(sets) == 1:
        joined = sets[0]
    else:
        prefix = sets[0].name.rsplit("/", 1)[0]
        joined = SampleSet.concatenate(sets, f"{prefix}/{'+'.join(s.name.rsplit('/', 1)[-1] for s in sets)}")
        preps = [s.meta.get("preprocessing") for s in sets]
        if preps[0] is not None and all(p == preps[0] for p in preps):  # splits made alike: say how
            joined.meta["preprocessing"] = preps[0]
    if len(joined) == 0:
        dropped = joined.meta.get("dropped") or {}
        raise DataError(f"{spec}: no usable samples in {joined.name}"
                        + (f" (left out: {', '.join(f'{k} {v}' for k, v in dropped.items())})" if dropped else ""))
    return joined


def load_samples(spec: DataSpec | str | Path, options: LoadOptions | None = None, purpose: str = "eval") -> SampleSet:
    """One SampleSet for a spec (its splits concatenated; the default split when none named)."""
    from trainer.data.relabel import dataset_key

    options = options or LoadOptions()
    spec = spec if isinstance(spec, DataSpec) else DataSpec.parse(spec)
    path = _existing(spec.path)
    splits = spec.splits or default_split(path, purpose, options)
    kind = dataset_kind(path)
    if kind in ("fer2013", "ferplus"):
        sets = _csv_sets(path, kind, spec, splits, options)
        if options.faces_on_csv and options.faces.mode != "none":
            sets = [_csv_faces(s, options) for s in sets]
    else:
        sets = [_load_folder_split(listing, options) for listing in
                scan_folder_dataset(path, list(splits) or None)]
    joined = _joined(sets, spec)
    # A copy: the csv readers' sets are cached and shared between callers.
    return replace(joined, meta={**joined.meta, "dataset": dataset_key(path)})


def _made_preprocessing(faces: FaceOptions, detector: str | None) -> dict:
    """How crops were made, for cards and caches: the options, with the detector that ran."""
    preprocessing = faces.describe()
    if detector and preprocessing.get("faces") == "align":
        preprocessing["detector"] = detector  # what "auto" resolved to, so inference uses the same
    return preprocessing


def _csv_faces(samples: SampleSet, options: LoadOptions) -> SampleSet:
    """A csv split's 48x48 crops made into the model's crops the way the app makes them."""
    made = prepare_array_crops(samples.images, samples.ids, options.faces, name=samples.name,
                               cache_dir=options.cache_dir, use_cache=options.use_cache, report=options.report)
    return replace(samples, images=made.crops,
                   meta={**samples.meta, "preprocessing": _made_preprocessing(options.faces, made.detector),
                         "face_methods": np.array(made.methods)})


def _load_folder_split(listing, options: LoadOptions) -> SampleSet:
    made = prepare_crops(listing.root, listing.files, options.faces, cache_dir=options.cache_dir,
                         use_cache=options.use_cache, report=options.report)
    name = listing.root.resolve().name + (f"/{listing.split}" if listing.split else "")
    preprocessing = _made_preprocessing(options.faces, made.detector)
    samples = SampleSet(ids=list(listing.files), images=made.crops, labels=np.array(listing.labels, dtype=np.int64),
                        classes=listing.classes, name=name,
                        meta={"preprocessing": preprocessing, "face_methods": np.array(made.methods)})
    if not made.errors:
        return samples
    # Unreadable images are left out and named; one bad file does not cost the dataset.
    report = options.report or (lambda text: log.warning("%s", text))
    for rel, why in made.errors.items():
        report(f"{listing.root}: left out {rel}: {why}")
    keep = [i for i, m in enumerate(made.methods) if m != UNREADABLE]
    if not keep:
        raise DataError(f"{listing.root}: none of the {len(listing.files)} images of {name} could be read "
                        f"(e.g. {next(iter(made.errors.values()))})")
    kept = samples.subset(keep)  # face_methods follow (a per-sample meta entry)
    kept.meta.update(unreadable=dict(made.errors))
    return kept


# ---- variants -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    train: tuple[str, ...]  # specs relative to the data root; "{target}" is the target dataset
    val: str | None
    description: str
    train_name: str | None = None  # the joined training set's name (kept stable: run resumes compare it)
    train_options: dict = field(default_factory=dict)  # LoadOptions overrides for the training part
    config_defaults: dict = field(default_factory=dict)  # TrainConfig settings the variant implies


_FER = "fer2013/fer2013.csv.gz"
_FERPLUS = "ferplus/fer2013new.csv"
VARIANTS: dict[str, Variant] = {
    "fer28": Variant((f"{_FER}#Training",), f"{_FER}#PublicTest",
                     "FER28: FER-2013 Training (28,709) for training, PublicTest for validation"),
    "fer32": Variant((f"{_FER}#Training+PublicTest",), f"{_FER}#PrivateTest",
                     "FER32: FER-2013 Training+PublicTest (32,298) for training, PrivateTest for validation",
                     train_name="fer2013/FER32"),
    "fer28+target": Variant((f"{_FER}#Training", "{target}#Train"), "{target}#Val",
                            "FER28 plus the target's Train for training, the target's Val for validation",
                            train_name="FER28+{target_name}"),
    "fer32+target": Variant((f"{_FER}#Training+PublicTest", "{target}#Train"), "{target}#Val",
                            "FER32 plus the target's Train for training, the target's Val for validation",
                            train_name="FER32+{target_name}"),
    "sfew2": Variant(("sfew2#Train",), "sfew2#Val", "SFEW 2.0 Train for training, Val for validation"),
    "ferplus": Variant((f"{_FERPLUS}#Training",), f"{_FERPLUS}#PublicTest",
                       "FER+ majority vote: Training for training, PublicTest (FER+ valid) for validation"),
    "ferplus-votes": Variant((f"{_FERPLUS}#Training",), f"{_FERPLUS}#PublicTest",
                             "FER+ vote distributions for training, majority vote on PublicTest for validation",
                             train_options={"ferplus_mode": "votes"}, config_defaults={"soft_labels": True}),
}
VARIANTS["sfew"] = VARIANTS["sfew2"]


@dataclass
class TrainValData:
    train: SampleSet
    val: SampleSet | None
    description: dict


def load_variant(name: str, data_root: str | Path | None = None, options: LoadOptions | None = None,
                 target: str | None = None, common_size: int | None = None) -> TrainValData:
    """A variant's train and val sets; ``common_size`` resizes mixed crop sizes (FER's 48 with
    folder crops) to one size, by default the largest."""
    if name not in VARIANTS:
        raise DataError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    variant = VARIANTS[name]
    root = Path(data_root) if data_root is not None else default_data_root()
    target = target or "sfew2"
    target_name = DataSpec.parse(target).path.name

    def spec(text: str) -> str:
        return text.replace("{target}", target)

    train_specs = [spec(t) for t in variant.train]
    val_spec = spec(variant.val) if variant.val else None
    return load_train_val(
        train_specs, val_spec, root=root, options=options, common_size=common_size,
        train_name=variant.train_name.replace("{target_name}", target_name) if variant.train_name else None,
        train_options=variant.train_options, description={"variant": name, "about": variant.description},
    )


def load_train_val(train_specs: list[str], val_spec: str | None, *, root: Path | None = None,
                   options: LoadOptions | None = None, common_size: int | None = None,
                   train_name: str | None = None, train_options: dict | None = None,
                   description: dict | None = None) -> TrainValData:
    options = options or LoadOptions()
    train_opts = replace(options, **(train_options or {}))
    parts = [load_samples(DataSpec.parse(s, root), train_opts, purpose="train") for s in train_specs]
    if len(parts) == 1:
        train = replace(parts[0], name=train_name, meta=dict(parts[0].meta)) if train_name else parts[0]
    else:
        size = common_size or max(p.crop_size for p in parts)
        train = SampleSet.concatenate(parts, train_name or "+".join(p.name for p in parts), size=size)
        train.meta["preprocessing"] = _merged_preprocessing(parts)
    val = load_samples(DataSpec.parse(val_spec, root), options, purpose="eval") if val_spec else None
    desc = dict(description or {})
    desc.update(train=[str(DataSpec.parse(s, root)) for s in train_specs],
                val=str(DataSpec.parse(val_spec, root)) if val_spec else None,
                train_name=train.name, val_name=val.name if val is not None else None,
                train_samples=len(train), val_samples=len(val) if val is not None else 0)
    return TrainValData(train, val, desc)


def default_val_spec(train_spec: DataSpec, options: LoadOptions | None = None) -> str | None:
    """The validation counterpart of a training dataset named without a split: FER-2013 / FER+
    PublicTest, a folder dataset's Val-like split; None when there is none."""
    path = train_spec.path
    if not path.exists():
        return None
    kind = dataset_kind(path)
    if kind in ("fer2013", "ferplus"):
        return f"{path}#PublicTest"
    try:
        split = default_split(path, "eval", options)
    except DataError:
        return None
    return f"{path}#{split[0]}" if split else None


def load_dataset(spec: str, data_root: str | Path | None = None, options: LoadOptions | None = None,
                 **variant_kw) -> TrainValData:
    """Train and val sets by variant name (``fer28``, ``fer32``, ``sfew2`` ...) or by data spec
    (``PATH`` -> its train and val splits; ``PATH#SPLIT`` -> that split, no val)."""
    if spec in VARIANTS:
        return load_variant(spec, data_root, options, **variant_kw)
    parsed = DataSpec.parse(spec)
    val = None if parsed.splits else default_val_spec(parsed, options)
    return load_train_val([spec], val, options=options, description={"variant": None})


def _merged_preprocessing(parts: list[SampleSet]) -> dict:
    """Aligned folder data decides how inference makes faces; FER's own crops come along."""
    preps = [p.meta.get("preprocessing", ready_crops()) for p in parts]
    aligned = [p for p in preps if p.get("faces") == "align"]
    merged = dict(aligned[0] if aligned else preps[0])
    if len({str(sorted(p.items())) for p in preps}) > 1:
        merged["sources"] = {part.name: prep for part, prep in zip(parts, preps)}
    return merged


def preprocessing_of(samples: SampleSet) -> dict:
    """How a set's crops were made, for the model card."""
    return samples.meta.get("preprocessing", ready_crops(samples.crop_size))
