"""A training run's spec: what one ``fer-train train`` does, as data.

Three ways in, one :class:`~trainer.training.runner.StageSpec` out, so the command line, the
app and the tests cannot build runs differently:

* :func:`build_spec`: from settings (``fer-train train``'s flags go through it);
* :func:`spec_from_card`: fine-tune a saved model on (corrected) data with the recipe its
  card records, changed by :class:`Overrides` (the app's *Retrain* dialog,
  ``fer-train train --from-model``);
* :func:`load_spec`: the JSON :func:`save_spec` writes (``fer-train train --spec FILE``), so
  a run the app starts is one plain command with every setting on disk beside the run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from trainer.data.crops import FaceOptions
from trainer.data.datasets import VARIANTS, DataSpec, LoadOptions, default_data_root
from trainer.data.samples import DataError, FoldUnit
from trainer.training.config import PRESETS, TrainConfig, resolve_config
from trainer.training.runner import StageSpec, face_options

SPEC_FILE = "spec.json"  # a run folder's spec, written by the app before it starts the run
SPEC_FORMAT = "fer-desktop-train-spec/1"
FALLBACK_PRESET = "small-target"  # a card that records no recipe: the preset meant for fine-tuning

# Settings a card records about its own run that make no sense for the next one.
_RUN_ONLY = {"init_from": None, "weights": None, "pretrained": False, "allow_download": False,
             "max_train_samples": 0, "device": "auto", "num_workers": 0}


# ---- from settings ------------------------------------------------------------------------

def build_spec(*, config: dict[str, Any] | None = None, preset: str | None = None, variant: str | None = None,
               train: list[str] | None = None, val: str | None = None, no_val: bool = False,
               target: str | None = None, data_root: Path | None = None, load: LoadOptions | None = None,
               faces: dict[str, Any] | None = None, relabels: Path | None = None, max_val_samples: int = 0,
               replay: list[str] | None = None, name: str | None = None, out: Path | None = None,
               val_fold: tuple[int, int] | None = None, fold_by: FoldUnit = "sample",
               team: Sequence[Path] = ()) -> StageSpec:
    """A stage from explicit settings. ``config``: TrainConfig settings over the preset (None
    values ignored); ``faces``: mode / crop_size / detector / aligner for folder data (the
    crop size defaults from the input size, hence here and not in ``load``)."""
    overrides = {k: v for k, v in (config or {}).items() if v is not None}
    if variant:  # e.g. ferplus-votes implies soft labels unless told otherwise
        overrides = {**VARIANTS[variant].config_defaults, **overrides}
    cfg = resolve_config(preset, **overrides)
    _check_model(cfg)
    train = list(train or [])
    if not variant and not train:
        raise DataError("no training data: name a variant or data specs")
    name = name or variant or DataSpec.parse(train[0]).path.name.split(".")[0]
    f = faces or {}
    options = replace(load or LoadOptions(), faces=face_options(f.get("mode"), f.get("crop_size"), f.get("detector"),
                                                                cfg.input_size, f.get("aligner")))
    out = Path(out) if out else Path("runs") / name
    check_out(out)
    return StageSpec(name=name, out=out, config=cfg, variant=variant, train=train, val=val, no_val=no_val,
                     target=target, data_root=data_root or (default_data_root() if variant else None),
                     load=options, relabels=Path(relabels) if relabels else None, team=_team(team),
                     max_val_samples=max_val_samples, replay=list(replay or []), val_fold=val_fold,
                     fold_by=fold_by)


def _team(journals: Sequence[str | Path]) -> tuple[Path, ...]:
    """A team is two or more journals (one is a relabel journal: ``relabels``), each found now,
    not after minutes of data loading."""
    team = tuple(Path(p) for p in journals)
    if len(team) == 1:
        raise DataError(f"a team is two or more journals; for one annotator's ({team[0]}) use relabels (--relabels)")
    missing = [str(p) for p in team if not p.is_file()]
    if missing:
        raise DataError(f"team journal not found: {', '.join(missing)}")
    return team


def _check_model(cfg: TrainConfig) -> None:
    """An unknown model name or a missing init model fails now, not after minutes of data loading."""
    from trainer.models.card import read_card
    from trainer.models.registry import get_spec

    get_spec(cfg.model)
    if cfg.init_from:
        read_card(cfg.init_from)


def check_out(out: Path) -> None:
    """Runs never write into the bundled model's folder."""
    from trainer.inference.bundled import resources_dir

    bundled = (resources_dir() / "models").resolve()
    target = Path(out).expanduser().resolve()
    if target == bundled or bundled in target.parents:
        raise DataError(f"{out} is inside the bundled models' folder {bundled}; choose another output folder")


# ---- from a model card --------------------------------------------------------------------

@dataclass
class Overrides:
    """What a user changes on top of a card's recipe; None keeps the recipe's value."""
    preset: str | None = None  # applied over the recorded recipe (its optimizer, lr, schedule ...)
    epochs: int | None = None
    input_size: int | None = None
    seed: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str | None = None
    replay: list[str] | None = None  # None: the card's replay data (when found); []: none
    replay_ratio: float | None = None
    name: str | None = None
    out: Path | None = None
    max_train_samples: int | None = None  # smoke runs
    max_val_samples: int | None = None
    faces_mode: str | None = None  # None: the card's face preprocessing
    config: dict[str, Any] = field(default_factory=dict)  # any other TrainConfig setting
    data: dict[str, Any] = field(default_factory=dict)  # LoadOptions settings over the card's (contempt ...)

    def config_settings(self) -> dict[str, Any]:
        named = {k: getattr(self, k) for k in ("epochs", "input_size", "seed", "batch_size", "lr", "device",
                                                "replay_ratio", "max_train_samples")}
        return {**self.config, **{k: v for k, v in named.items() if v is not None}}


@dataclass
class CardRecipe:
    """How a model was trained, as far as its card says, ready to train it once more."""
    model: Path  # the model (NAME.safetensors)
    card_name: str
    config: dict[str, Any]  # TrainConfig settings, init_from = the model
    replay: list[str]  # the recorded replay data, located on this machine
    replay_ratio: float
    faces: FaceOptions  # the card's face preprocessing (folder data gets the same crops)
    recorded: bool  # the card records its training config (else the fallback preset)
    train_data: list[str]  # what the card says it was trained on (for display)
    notes: list[str] = field(default_factory=list)  # what could not be taken over, and why
    # How its data was read (LoadOptions settings: FER+ votes or majority, contempt, ties, FER
    # crops re-aligned or not), so the replayed data comes as the model learnt it.
    data_options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        c = self.config
        parts = [f"{c.get('optimizer')} lr {c.get('lr'):g}", f"{c.get('scheduler')} schedule",
                 f"{c.get('epochs')} epochs", f"batch {c.get('batch_size')}", f"input {c.get('input_size')} px"]
        if c.get("label_smoothing"):
            parts.append(f"label smoothing {c['label_smoothing']:g}")
        if c.get("class_balance", "none") != "none":
            parts.append(f"class balance: {c['class_balance']}")
        if self.replay:
            parts.append(f"replay {', '.join(self.replay)} x{self.replay_ratio:g}")
        return ", ".join(parts)


def card_recipe(model: str | Path) -> CardRecipe:
    """The recipe a model's card records (its training config, replay data, face crops)."""
    from trainer.evaluation.evaluate import face_options_for_card
    from trainer.models.card import model_paths, read_card

    card = read_card(model)
    weights, _ = model_paths(model)
    training = card.training or {}
    notes: list[str] = []
    config, recorded = _recorded_config(training, notes)
    config.update(_RUN_ONLY, model=card.backbone, input_size=card.input_size, init_from=str(weights.resolve()))
    data = training.get("data") or {}
    stage = data.get("stage") or {}
    replay = _recorded_replay(stage.get("replay") or [], _anchors(weights, stage.get("data_root")), notes)
    data_options = _recorded_data_options(stage)
    train_data = [str(t) for t in (data.get("train") if isinstance(data.get("train"), list)
                                   else [data.get("train_name") or data.get("train") or "?"])]
    return CardRecipe(model=weights, card_name=card.name, config=config, replay=replay,
                      replay_ratio=float(config.get("replay_ratio", 1.0)), faces=face_options_for_card(card),
                      recorded=recorded, train_data=train_data, notes=notes, data_options=data_options)


# The LoadOptions settings a card's stage record keeps, which a retrain takes over.
RECORDED_DATA_OPTIONS = ("ferplus_mode", "contempt", "ties", "faces_on_csv")


def _recorded_data_options(stage: dict[str, Any]) -> dict[str, Any]:
    """The RECORDED_DATA_OPTIONS a card's stage record gives (older cards give fewer)."""
    ferplus = stage.get("ferplus") if isinstance(stage.get("ferplus"), dict) else {}
    options = {"ferplus_mode": ferplus.get("mode"), "contempt": ferplus.get("contempt"), "ties": ferplus.get("ties"),
               "faces_on_csv": stage.get("align_csv")}
    return {k: v for k, v in options.items() if v is not None}


def _recorded_config(training: dict[str, Any], notes: list[str]) -> tuple[dict[str, Any], bool]:
    """The card's TrainConfig settings (those this version knows), else the fallback preset's."""
    recorded = training.get("config") if isinstance(training.get("config"), dict) else None
    if not recorded:
        notes.append(f"the card records no training recipe: using the {FALLBACK_PRESET!r} preset")
        return resolve_config(FALLBACK_PRESET).to_dict(), False
    known = {f.name for f in fields(TrainConfig)}
    dropped = sorted(set(recorded) - known)
    if dropped:
        notes.append(f"settings this version does not know were left out: {', '.join(dropped)}")
    return {k: v for k, v in recorded.items() if k in known}, True


def _recorded_replay(specs: list[str], anchors: list[Path], notes: list[str]) -> list[str]:
    """The card's replay data specs that are on this machine (located from ``anchors``)."""
    found = []
    for text in specs:
        where = locate(text, anchors)
        if where is None:
            notes.append(f"the recorded replay data {text} is not on this machine: no replay unless you choose it")
        else:
            found.append(where)
    return found


def _anchors(model: Path, data_root: str | None = None) -> list[Path]:
    """Where a card's relative data paths may be relative to: the working folder, the model's
    folder and those above it (a repository's ``../shared/data``), and the data root a cascade
    stage recorded (its specs, ``ferplus/fer2013new.csv#Training``, are relative to it), itself
    taken from each of those when it is relative."""
    folder = model.resolve().parent
    bases = [Path.cwd(), folder, *folder.parents]
    if data_root:
        root = Path(data_root)
        bases += [root] if root.is_absolute() else [base / root for base in bases]
    return bases


def locate(spec: str, anchors: list[Path]) -> str | None:
    """A recorded data spec (``PATH[#SPLITS]``) as an existing absolute path, or None."""
    parsed = DataSpec.parse(spec)
    if parsed.path.is_absolute():
        return str(parsed) if parsed.path.exists() else None
    for anchor in anchors:
        candidate = anchor / parsed.path
        if candidate.exists():
            return str(DataSpec(candidate.resolve(), parsed.splits))
    return None


def _declared_as_is(data: list[str]) -> str | None:
    """``none`` when every training dataset declares its images model input already (faces the
    review cut from photos: trainer.data.input_kinds), so training sees the faces the app does."""
    from trainer.data.input_kinds import AS_IS, declared_input

    return AS_IS if all(declared_input(DataSpec.parse(d).path) == AS_IS for d in data) else None


def spec_from_card(model: str | Path, data: list[str], *, val: str | None = None, relabels: Path | None = None,
                   overrides: Overrides | None = None, load: LoadOptions | None = None,
                   recipe: CardRecipe | None = None, val_fold: tuple[int, int] | None = None,
                   team: Sequence[Path] = ()) -> StageSpec:
    """Fine-tune ``model`` on ``data`` (with the relabel journal applied to training and
    validation data) with the recipe its card records; ``overrides`` change it.

    The config is built as: TrainConfig defaults <- the card's recipe <- ``overrides.preset``
    <- the other overrides. Validation defaults to the data's own Val-like split; ``val_fold``
    (k, n) holds out fold k of n of the training data instead (data without a validation split)."""
    o = overrides or Overrides()
    recipe = recipe or card_recipe(model)
    if not data:
        raise DataError("no training data: give the dataset to fine-tune on")
    settings = dict(recipe.config)
    # A retrain fine-tunes the model itself: the teachers its card names were for making it
    # (and may not exist on this machine); distil again only when asked.
    settings.pop("teachers", None)
    if o.preset:
        if o.preset not in PRESETS:
            raise DataError(f"unknown preset {o.preset!r}; known: {', '.join(PRESETS)}")
        settings.update(PRESETS[o.preset])
    settings.update(o.config_settings())
    cfg = TrainConfig.from_dict(settings)
    name = o.name or f"{DataSpec.parse(data[0]).path.name.split('.')[0]}-retrain"
    out = Path(o.out) if o.out else default_run_dir(name)
    faces = replace(recipe.faces, mode=o.faces_mode or _declared_as_is(data) or recipe.faces.mode)
    if cfg.input_size > faces.crop_size:  # crops are never smaller than the model's input
        faces = replace(faces, crop_size=cfg.input_size)
    load = replace(load or LoadOptions(), **{**recipe.data_options, **o.data}, faces=faces)
    return build_spec(config=cfg.to_dict(), train=list(data), val=val, relabels=relabels,
                      load=load, faces=asdict(faces),
                      max_val_samples=o.max_val_samples or 0,
                      replay=recipe.replay if o.replay is None else o.replay, name=name, out=out,
                      val_fold=val_fold, team=team)


def default_run_dir(name: str) -> Path:
    """A new folder for a run started from the app: in the user's data dir, never in the repo."""
    from trainer.data.relabel import user_data_dir

    return user_data_dir() / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


# ---- on disk ------------------------------------------------------------------------------

def spec_to_dict(spec: StageSpec) -> dict[str, Any]:
    load = spec.load
    return {
        "format": SPEC_FORMAT, "name": spec.name, "out": str(spec.out), "variant": spec.variant,
        "train": list(spec.train), "val": spec.val, "no_val": spec.no_val, "target": spec.target,
        "data_root": str(spec.data_root) if spec.data_root else None,
        "relabels": str(spec.relabels) if spec.relabels else None, "team": [str(p) for p in spec.team],
        "max_val_samples": spec.max_val_samples,
        "replay": list(spec.replay), "val_fold": list(spec.val_fold) if spec.val_fold else None,
        "fold_by": spec.fold_by,
        "config": spec.config.to_dict(),
        "load": {"faces": asdict(load.faces), "cache_dir": str(load.cache_dir) if load.cache_dir else None,
                 "use_cache": load.use_cache, "ferplus_mode": load.ferplus_mode, "contempt": load.contempt,
                 "ties": load.ties, "fer_csv": str(load.fer_csv) if load.fer_csv else None, "limit": load.limit,
                 "faces_on_csv": load.faces_on_csv},
    }


def spec_from_dict(data: dict[str, Any]) -> StageSpec:
    if data.get("format") != SPEC_FORMAT:
        raise DataError(f"not a training spec (format {data.get('format')!r}, expected {SPEC_FORMAT!r})")
    try:
        ld = dict(data.get("load") or {})
        faces = FaceOptions(**ld.pop("faces", {}))
        for key in ("cache_dir", "fer_csv"):
            ld[key] = Path(ld[key]) if ld.get(key) else None
        load = LoadOptions(faces=faces, **ld)
        optional_path = {k: Path(data[k]) if data.get(k) else None for k in ("data_root", "relabels")}
        spec = StageSpec(name=data["name"], out=Path(data["out"]), config=TrainConfig.from_dict(data["config"]),
                         variant=data.get("variant"), train=list(data.get("train") or []), val=data.get("val"),
                         no_val=bool(data.get("no_val")), target=data.get("target"), load=load,
                         max_val_samples=int(data.get("max_val_samples") or 0),
                         replay=list(data.get("replay") or []),
                         val_fold=tuple(data["val_fold"]) if data.get("val_fold") else None,
                         fold_by=data.get("fold_by") or "sample",
                         team=tuple(Path(p) for p in data.get("team") or ()), **optional_path)
    except (KeyError, TypeError) as exc:
        raise DataError(f"training spec: missing or bad setting: {exc}") from None
    check_out(spec.out)
    return spec


def save_spec(spec: StageSpec, path: str | Path) -> Path:
    """Write the spec as JSON (atomically: a crash leaves the old file or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(spec_to_dict(spec), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_spec(path: str | Path) -> StageSpec:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"training spec not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable training spec: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a training spec (expected a JSON object)")
    spec = spec_from_dict(data)
    _check_model(spec.config)
    return spec
