"""Multi-stage fine-tuning from a TOML file: stage 1 (e.g. FER32), then stage 2 (e.g. SFEW)
initialised from stage 1's model, as in Ng et al. 2015.

Format (see ``trainer/configs/*.toml``)::

    name = "fer32-sfew"                 # the default run folder is runs/<name>
    description = "..."
    data_root = "../shared/data"        # relative to the working directory; --data-root wins

    [defaults]                          # settings every stage starts from
    model = "efficientnet-lite0"
    input_size = 64

    [[stages]]
    name = "fer32"
    variant = "fer32"                   # or: train = ["fer2013/fer2013.csv.gz#Training"], val = "..."
    preset = "modern"
    epochs = 12

    [[stages]]
    name = "sfew"
    variant = "sfew2"
    faces = "crops"                     # detect | crops | auto | none (folder data)
    preset = "small-target"
    # init_from = "previous"            # the default after the first stage; "none" starts afresh
    # replay = ["fer2013/fer2013.csv#Training+PublicTest"]   # rehearse stage 1's data
    # replay_ratio = 3.0                # replay samples per SFEW sample each epoch

A stage's keys are any TrainConfig setting (``[stages.augment]`` for augmentation), plus the
data keys in ``DATA_KEYS``. Paths in data specs are relative to the data root.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from trainer.data.crops import FACE_MODES
from trainer.data.datasets import VARIANTS, LoadOptions, default_data_root
from trainer.data.ferplus import CONTEMPT_RULES, MODES, TIE_RULES
from trainer.data.samples import FOLD_UNITS, DataError
from trainer.training.config import TrainConfig, resolve_config
from trainer.training.loop import StageResult
from trainer.training.progress import Progress
from trainer.training.runner import StageSpec, face_options, run_stage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_KEYS = {"name", "variant", "train", "val", "no_val", "target", "preset", "faces", "crop_size", "detector",
             "aligner", "relabels", "max_val_samples", "ferplus_mode", "contempt", "ties", "fer_csv", "init_from",
             "replay", "align_csv", "val_fold", "fold_by"}
TOP_KEYS = {"name", "description", "data_root", "defaults", "stages"}
PREVIOUS = "previous"


class CascadeError(DataError):
    """A cascade file that cannot be used as it is; the message says where."""


@dataclass
class CascadePlan:
    name: str
    description: str
    source: str
    stages: list[dict[str, Any]]  # merged settings per stage (defaults <- stage <- overrides)
    data_root: Path
    overrides: list[str] = field(default_factory=list)  # the --set options, recorded beside the file's prose
    cache_dir: Path | None = None
    use_cache: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def parse_override(text: str) -> tuple[str | None, str, Any]:
    """``KEY=VALUE`` or ``STAGE.KEY=VALUE`` (STAGE: a name or 1-based index); VALUE is read as
    TOML (numbers, booleans, quoted strings, arrays), else taken as a plain string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise CascadeError(f"--set {text!r}: expected KEY=VALUE")
    key = key.strip()
    stage, _, key = key.rpartition(".") if "." in key else ("", "", key)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return stage or None, key, value


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        bundled = Path(__file__).resolve().parents[1] / "configs" / path.name
        bundled = bundled if bundled.suffix else bundled.with_suffix(".toml")
        if not bundled.is_file():
            raise CascadeError(f"cascade config not found: {path} (bundled ones: {', '.join(bundled_configs())})")
        path = bundled
    try:
        return {**tomllib.loads(path.read_text(encoding="utf-8")), "__path__": path}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CascadeError(f"{path}: not a valid TOML file: {' '.join(str(exc).split())}") from None


# The types of a cascade file's own keys (TrainConfig checks the training settings).
Specs = Union[StrictStr, list[StrictStr]]
# Names become folder names (runs/<name>, OUT/<n>-<stage>): no separators, no "..".
def _folder_name(name: str) -> str:
    if name in (".", "..") or any(c in name for c in "/\\\x00"):
        raise ValueError("must be a plain name: it becomes a folder's name")
    return name


FolderName = Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(_folder_name)]
_TOP = TypeAdapter(TypedDict("CascadeFile", {
    "name": FolderName, "description": StrictStr, "data_root": StrictStr,
    "defaults": dict[str, Any], "stages": Annotated[list[dict[str, Any]], Field(min_length=1)]}, total=False))
_STAGE_DATA = TypeAdapter(TypedDict("StageData", {
    "name": FolderName, "variant": StrictStr, "train": Specs, "val": StrictStr, "no_val": StrictBool,
    "target": StrictStr, "preset": StrictStr, "faces": Literal[FACE_MODES],
    "crop_size": Annotated[StrictInt, Field(ge=8, le=1024)], "detector": StrictStr, "aligner": dict[str, Any],
    "relabels": StrictStr, "max_val_samples": Annotated[StrictInt, Field(ge=0)],
    "ferplus_mode": Literal[MODES], "contempt": Literal[CONTEMPT_RULES], "ties": Literal[TIE_RULES],
    "fer_csv": StrictStr, "init_from": Union[StrictStr, StrictBool], "replay": Specs,
    "align_csv": StrictBool,  # FER-2013 / FER+ crops through the face pipeline too, as the app makes them
    "val_fold": Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=2, max_length=2)],  # [K, N]
    "fold_by": Literal[FOLD_UNITS],  # "film": SFEW's frames of one film on one side of the fold
}, total=False))


def _checked(schema: TypeAdapter, data: dict[str, Any], where: str) -> None:
    try:
        schema.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first["loc"])
        raise CascadeError(f"{where}: {key} = {repr(first.get('input'))[:60]}: "
                            f"{first['msg'].removeprefix('Value error, ')}") from None


def _merged_stages(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Each stage's settings over the defaults, with unknown keys refused."""
    unknown = sorted(set(doc) - TOP_KEYS - {"__path__"})
    if unknown:
        raise CascadeError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(TOP_KEYS))}")
    if not isinstance(doc.get("stages"), list) or not doc["stages"]:
        raise CascadeError(f"{path}: no [[stages]]")
    _checked(_TOP, {k: v for k, v in doc.items() if k != "__path__"}, str(path))
    defaults = doc.get("defaults", {})
    train_keys = {f.name for f in fields(TrainConfig)}
    merged = []
    for i, stage in enumerate(doc["stages"], start=1):
        settings = {**defaults, **stage}
        if isinstance(defaults.get("augment"), dict) and isinstance(stage.get("augment"), dict):
            settings["augment"] = {**defaults["augment"], **stage["augment"]}
        settings.setdefault("name", f"stage{i}")
        bad = sorted(set(settings) - train_keys - DATA_KEYS)
        if bad:
            raise CascadeError(f"{path}: stage {i} ({settings['name']}): unknown key(s) {', '.join(bad)}")
        merged.append(settings)
    return merged


def _apply_overrides(merged: list[dict[str, Any]], overrides: list[str]) -> None:
    train_keys = {f.name for f in fields(TrainConfig)}
    for text in overrides:
        target, key, value = parse_override(text)
        if key not in train_keys | DATA_KEYS:
            raise CascadeError(f"--set {text!r}: unknown key {key!r}")
        hits = [s for i, s in enumerate(merged, start=1) if target in (None, s["name"], str(i))]
        if not hits:
            raise CascadeError(f"--set {text!r}: no stage {target!r}; stages: {', '.join(str(s['name']) for s in merged)}")
        for s in hits:
            s[key] = value


def load_cascade(path: str | Path, *, data_root: str | Path | None = None,
                 overrides: list[str] | None = None) -> CascadePlan:
    """A cascade file (or a bundled one by name) read and checked: its keys, their types, the
    overrides applied; each stage's training settings are checked when it is resolved."""
    doc = _read_toml(Path(path))
    path = doc["__path__"]
    merged = _merged_stages(doc, path)
    _apply_overrides(merged, overrides or [])
    for i, settings in enumerate(merged, start=1):
        _checked(_STAGE_DATA, {k: v for k, v in settings.items() if k in DATA_KEYS},
                 f"{path}: stage {i} ({settings['name']})")
    root = Path(data_root) if data_root is not None else Path(doc["data_root"]) if "data_root" in doc \
        else default_data_root()
    return CascadePlan(name=str(doc.get("name", path.stem)), description=str(doc.get("description", "")),
                       source=str(path), stages=merged, data_root=root, overrides=list(overrides or []))


def bundled_configs() -> list[str]:
    return sorted(p.name for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def _spec_list(value: str | list[str]) -> list[str]:
    """A data key given as one spec or a list of specs, as a list."""
    return [value] if isinstance(value, str) else list(value)


def stage_spec(settings: dict[str, Any], index: int, out: Path, plan: CascadePlan,
               previous: Path | None) -> StageSpec:
    """Turn one stage's merged settings into a StageSpec (resolving presets and init_from)."""
    s = dict(settings)
    name = str(s.pop("name"))
    data = {k: s.pop(k) for k in list(s) if k in DATA_KEYS}
    init = data.get("init_from", PREVIOUS if index > 1 else None)
    if init in (None, False, "none", ""):
        s["init_from"] = None
    elif init == PREVIOUS:
        if previous is None:
            raise CascadeError(f"stage {index} ({name}): init_from = 'previous' but there is no previous stage")
        s["init_from"] = str(previous)
    else:
        s["init_from"] = str(init)
    if data.get("variant") in VARIANTS:
        s = {**VARIANTS[data["variant"]].config_defaults, **s}
    try:
        config = resolve_config(data.get("preset"), **s)
    except (TypeError, ValueError) as exc:
        raise CascadeError(f"stage {index} ({name}): {exc}") from None
    train = _spec_list(data.get("train", []))
    if not data.get("variant") and not train:
        raise CascadeError(f"stage {index} ({name}): give a variant or train = [data specs]")
    faces = face_options(data.get("faces"), data.get("crop_size"), data.get("detector"), config.input_size,
                         data.get("aligner"))
    load = LoadOptions(faces=faces, cache_dir=plan.cache_dir, use_cache=plan.use_cache,
                       ferplus_mode=data.get("ferplus_mode", "majority"), contempt=data.get("contempt", "keep"),
                       ties=data.get("ties", "drop"),
                       fer_csv=plan.data_root / data["fer_csv"] if data.get("fer_csv") else None,
                       faces_on_csv=bool(data.get("align_csv", False)))
    relabels = data.get("relabels")
    fold = data.get("val_fold")
    if fold is not None and not (fold[1] >= 2 and fold[0] < fold[1]):
        raise CascadeError(f"stage {index} ({name}): val_fold = {fold}: need [K, N] with N >= 2 and K < N")
    return StageSpec(name=name, out=out / f"{index}-{name}", config=config, variant=data.get("variant"),
                     train=train, val=data.get("val"), no_val=bool(data.get("no_val", False)),
                     target=data.get("target"), data_root=plan.data_root, load=load,
                     relabels=Path(relabels) if relabels else None,
                     max_val_samples=int(data.get("max_val_samples", 0)),
                     replay=_spec_list(data.get("replay", [])), val_fold=tuple(fold) if fold else None,
                     fold_by=data.get("fold_by", "sample"))


def cascade_specs(plan: CascadePlan, out: Path) -> list[StageSpec]:
    """Every stage's StageSpec, each (by default) starting from the model of the one before."""
    specs: list[StageSpec] = []
    for i, settings in enumerate(plan.stages, start=1):
        specs.append(stage_spec(settings, i, out, plan, specs[-1].out / "model" if specs else None))
    return specs


def run_cascade(plan: CascadePlan, out: str | Path, *, progress: Progress | None = None,
                should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> list[StageResult]:
    """Run the stages in order; the last stage's model is copied to ``out/model.*``."""
    progress = progress or Progress()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = []
    specs = cascade_specs(plan, out)
    resolved = [spec.describe() for spec in specs]
    (out / "cascade.json").write_text(json.dumps({
        "name": plan.name, "description": plan.description, "source": plan.source,
        "overrides": plan.overrides, "data_root": str(plan.data_root), "stages": resolved}, indent=2))
    for spec in specs:
        result = run_stage(spec, progress, should_stop, resume=resume)
        results.append(result)
        if result.interrupted:
            progress.message(f"cascade {plan.name}: stopped in stage {spec.name}; run again with --resume")
            break
    summary = {"name": plan.name, "complete": len(results) == len(specs) and not results[-1].interrupted,
               "stages": [{"name": s.name, "run_dir": str(r.run_dir), "val": r.metrics.get("val", {}).get("name"),
                           "val_accuracy": r.metrics.get("val", {}).get("accuracy"),
                           "val_macro_f1": r.metrics.get("val", {}).get("macro_f1")}
                          for s, r in zip(specs, results)]}
    if summary["complete"]:
        for suffix in (".safetensors", ".json"):
            shutil.copyfile(specs[-1].out / f"model{suffix}", out / f"model{suffix}")
        summary["model"] = str(out / "model.safetensors")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return results
