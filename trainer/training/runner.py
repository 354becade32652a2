"""One stage from a description of its data: load (variant or specs), apply relabels, train.

``fer-train train`` builds one :class:`StageSpec` from its flags, ``fer-train cascade`` one per
TOML stage; both end in :func:`run_stage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from trainer.data.crops import FaceOptions
from trainer.data.datasets import (
    DataSpec,
    LoadOptions,
    TrainValData,
    default_data_root,
    default_val_spec,
    load_train_val,
    load_samples,
    load_variant,
    preprocessing_of,
)
from trainer.data.relabel import apply_relabels
from trainer.data.samples import DataError, FoldUnit, SampleSet
from trainer.errors import UsageError
from trainer.training.config import TrainConfig
from trainer.training.loop import StageResult, train_stage
from trainer.training.progress import Progress


@dataclass
class StageSpec:
    name: str
    out: Path
    config: TrainConfig
    variant: str | None = None  # a name from trainer.data.datasets.VARIANTS
    train: list[str] = field(default_factory=list)  # data specs PATH[#SPLIT+...]
    val: str | None = None  # a data spec; None: the train dataset's val split when it has one
    no_val: bool = False
    target: str | None = None  # the target dataset of *+target variants
    data_root: Path | None = None  # variants' paths (and, in cascades, all paths) are under it
    load: LoadOptions = field(default_factory=LoadOptions)
    relabels: Path | None = None  # a relabel journal applied to train and val
    team: tuple[Path, ...] = ()  # several annotators' journals: their votes label train and val (before relabels)
    max_val_samples: int = 0  # 0 = all; a random subset for smoke runs
    replay: list[str] = field(default_factory=list)  # data specs mixed into every epoch (rehearsal)
    val_fold: tuple[int, int] | None = None  # (k, n): validate on fold k of n of the training data instead
    fold_by: FoldUnit = "sample"  # "film": no film on both sides of the fold (SFEW)

    def __post_init__(self) -> None:
        # Checked here so that every front end (CLI, cascade file, GUI) refuses it alike.
        if self.fold_by != "sample" and self.val_fold is None:
            raise UsageError(f"stage {self.name}: fold_by = {self.fold_by!r} (--fold-by) says how to cut a "
                             "validation fold, but the stage has none: set val_fold = [K, N] (--val-fold K/N) too")

    def describe(self) -> dict[str, Any]:
        faces = self.load.faces
        return {"name": self.name, "out": str(self.out), "variant": self.variant, "train": self.train,
                "val": self.val, "no_val": self.no_val, "target": self.target,
                "data_root": str(self.data_root) if self.data_root else None,
                "faces": {"mode": faces.mode, "crop_size": faces.crop_size, "detector": faces.detector,
                          "aligner": faces.aligner},
                "ferplus": {"mode": self.load.ferplus_mode, "contempt": self.load.contempt, "ties": self.load.ties},
                "align_csv": self.load.faces_on_csv,
                "relabels": str(self.relabels) if self.relabels else None,
                "team": [str(p) for p in self.team],
                "max_val_samples": self.max_val_samples, "replay": self.replay,
                "val_fold": list(self.val_fold) if self.val_fold else None, "fold_by": self.fold_by,
                "config": self.config.to_dict()}


def _skips_val(spec: StageSpec) -> bool:
    """No separate validation set: none wanted, or a fold of the training data stands in."""
    return spec.no_val or spec.val_fold is not None


def _load_train_val(spec: StageSpec, load: LoadOptions, report: Callable[[str], None] | None) -> TrainValData:
    """The stage's train and val sets, from its variant or its data specs (no val set when it
    is to be a fold of the training data)."""
    skip_val = _skips_val(spec)
    # Folder crops are cached at crop_size; FER's 48x48 crops joined with them are resized
    # to the training input size (the transform would resize them to it anyway).
    if spec.variant:
        data = load_variant(spec.variant, spec.data_root or default_data_root(), load, target=spec.target,
                            common_size=spec.config.input_size)
        if skip_val:
            data.val = None
        return data
    if not spec.train:
        raise DataError(f"{spec.name}: no training data: name a variant or data specs")
    val = spec.val
    specs = [DataSpec.parse(t, spec.data_root) for t in spec.train]
    if val is None and not skip_val and len(specs) == 1 and not specs[0].splits:
        val = default_val_spec(specs[0], load)
        if val is not None and report:
            report(f"{spec.name}: validating on {val} (pass --val or --no-val to change)")
    if skip_val:
        val = None
    return load_train_val([str(s) for s in specs], str(DataSpec.parse(val, spec.data_root)) if val else None,
                          options=load, common_size=spec.config.input_size, description={"variant": None})


def _apply_journal(data: TrainValData, journal: Path) -> None:
    if not journal.is_file():
        raise DataError(f"relabel journal not found: {journal}")
    data.train = apply_relabels(data.train, journal)
    if data.val is not None:
        data.val = apply_relabels(data.val, journal)
    data.description["relabels"] = {"journal": str(journal), "train": data.train.meta.get("relabelled", 0),
                                    "val": data.val.meta.get("relabelled", 0) if data.val is not None else 0}


def _apply_team(data: TrainValData, journals: tuple[Path, ...]) -> None:
    from trainer.data.team_votes import apply_team_votes

    data.train = apply_team_votes(data.train, journals)
    if data.val is not None:
        data.val = apply_team_votes(data.val, journals)
    data.description["team"] = {"journals": [str(p) for p in journals],
                                "train": data.train.meta.get("relabelled", 0),
                                "val": data.val.meta.get("relabelled", 0) if data.val is not None else 0}


def load_stage_data(spec: StageSpec, report: Callable[[str], None] | None = None,
                    loaded: TrainValData | None = None) -> TrainValData:
    """The stage's data, ready to train on: loaded as the spec says (or ``loaded``, the same
    already read elsewhere: a pack), relabelled, cut into its validation fold."""
    if loaded is not None:
        data = TrainValData(loaded.train, None if _skips_val(spec) else loaded.val,
                            dict(loaded.description))
    else:
        data = _load_train_val(spec, replace(spec.load, report=report or spec.load.report), report)
    if spec.team:  # the team's votes first; the lead's own journal has the last word
        _apply_team(data, spec.team)
    if spec.relabels is not None:
        _apply_journal(data, spec.relabels)
    if spec.val_fold is not None:
        data.train, data.val = data.train.split_fold(*spec.val_fold, by=spec.fold_by)
        data.description.update(train_samples=len(data.train), val_samples=len(data.val), val_fold=list(spec.val_fold),
                                fold_by=spec.fold_by)
    if spec.max_val_samples and data.val is not None and len(data.val) > spec.max_val_samples:
        data.val = data.val.random_subset(spec.max_val_samples, spec.config.seed,
                                          name=f"{data.val.name}[{spec.max_val_samples}]")
        data.description["val_samples"] = len(data.val)
    if data.val is not None and data.val.classes != data.train.classes:
        data.val = _align_classes(data.val, data.train.classes)
    return data


def _align_classes(val: SampleSet, classes: tuple[str, ...]) -> SampleSet:
    """Re-index a validation set onto the training classes (by name); samples of classes the
    model will not have are left out."""
    index = np.array([classes.index(c) if c in classes else -1 for c in val.classes])
    labels = np.where(val.labels >= 0, index[np.maximum(val.labels, 0)], -1)
    keep = np.flatnonzero(labels >= 0)
    return SampleSet(ids=[val.ids[i] for i in keep], images=val.images[keep], labels=labels[keep],
                     classes=classes, name=val.name, meta=dict(val.meta))


def load_replay(spec: StageSpec, report: Callable[[str], None] | None = None) -> SampleSet | None:
    """The stage's replay data (ready-made crops such as FER-2013 are used as they are), or None."""
    if not spec.replay:
        return None
    load = replace(spec.load, report=report or spec.load.report)
    parts = [load_samples(DataSpec.parse(s, spec.data_root), load, purpose="train") for s in spec.replay]
    if spec.team:
        from trainer.data.team_votes import apply_team_votes

        parts = [apply_team_votes(p, spec.team) for p in parts]
    if spec.relabels is not None:  # labels fixed in the app hold wherever the samples are used
        parts = [apply_relabels(p, spec.relabels) for p in parts]
    relabelled = sum(p.meta.get("relabelled", 0) for p in parts)
    replay = parts[0] if len(parts) == 1 else \
        SampleSet.concatenate(parts, "+".join(p.name for p in parts), size=spec.config.input_size)
    replay.meta["relabelled"] = relabelled
    return replay


def run_stage(spec: StageSpec, progress: Progress | None = None, should_stop: Callable[[], bool] = lambda: False,
              resume: bool = True, loaded: TrainValData | None = None, replay: SampleSet | None = None) -> StageResult:
    """Train one stage. ``loaded`` and ``replay``: its data already read (from a pack, on a
    machine without the datasets); else they are loaded as the spec says."""
    progress = progress or Progress()
    data = load_stage_data(spec, report=progress.message, loaded=loaded)
    if loaded is None:
        replay = load_replay(spec, report=progress.message)
    progress.message(f"{spec.name}: train {data.train.name} ({len(data.train)}), "
                     f"val {data.val.name + f' ({len(data.val)})' if data.val is not None else 'none'}")
    description = {**data.description, "stage": spec.describe()}
    if replay is not None:
        description["replay"] = {"name": replay.name, "samples": len(replay),
                                 "relabelled": replay.meta.get("relabelled", 0)}
    return train_stage(spec.config, data.train, data.val, spec.out, name=spec.name, progress=progress,
                       should_stop=should_stop, preprocessing=preprocessing_of(data.train),
                       data_description=description, resume=resume, replay=replay)


def face_options(mode: str | None, crop_size: int | None, detector: str | None, input_size: int,
                 aligner: dict[str, Any] | None = None) -> FaceOptions:
    """FaceOptions with defaults: auto mode, crops of max(96, input size)."""
    return FaceOptions(mode=mode or "auto", crop_size=crop_size or max(96, input_size),
                       detector=detector or "auto", aligner=dict(aligner or {}))
