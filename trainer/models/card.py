"""A model on disk: ``NAME.safetensors`` (weights) beside ``NAME.json`` (its card).

The card says everything needed to feed the model what it was trained on (classes, input
size, normalisation, face preprocessing) and where it came from (backbone, pretrained
weights, training data, metrics). Loading never unpickles anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Sequence

from pydantic import AfterValidator, ConfigDict, Field, Strict, StrictInt, StrictStr, TypeAdapter, ValidationError

from trainer.errors import UsageError, UserError

if TYPE_CHECKING:  # reading a card needs no torch: the ONNX Runtime path never imports it
    import torch
    from torch import nn

CARD_FORMAT = "fer-desktop-model/1"
MAX_CARD_BYTES = 16 << 20  # a card is a few kB; anything this large is not one
MAX_INPUT_SIZE = 512  # pixels a side: larger inputs cost gigabytes per batch for no known gain
MAX_MEMBERS = 8  # networks in one ensemble: each costs a classifier pass a face


class ModelLoadError(UserError, RuntimeError):
    """A model file that is missing, corrupt or does not match its card."""


def _unique_classes(classes: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for c in classes:
        key = c.strip().lower()
        if not key:
            raise ValueError("class names must not be blank")
        if key in seen:
            raise ValueError(f"duplicate class name {c!r} (and {seen[key]!r}): each output must be its own class")
        seen[key] = c
    return classes


def _check_preprocessing(prep: dict[str, Any]) -> dict[str, Any]:
    """The face preprocessing a card records, checked where it will be used (detector name,
    aligner settings, crop size), so a bad card fails on load and not mid-way through work."""
    from trainer.data.crops import FACE_MODES
    from trainer.faces.align import AlignConfig
    from trainer.faces.detectors.registry import canonical_name

    faces = prep.get("faces")
    if faces is not None and faces not in ("align", "crops"):
        raise ValueError(f"faces {faces!r}: expected 'align' or 'crops'")
    if "mode" in prep and prep["mode"] not in FACE_MODES:
        raise ValueError(f"mode {prep['mode']!r}: expected one of {', '.join(FACE_MODES)}")
    if "detector" in prep:
        if not isinstance(prep["detector"], str):
            raise ValueError(f"detector {prep['detector']!r} is not a name")
        canonical_name(prep["detector"])
    crop_size = prep.get("crop_size")
    if crop_size is not None and (type(crop_size) is not int or not 8 <= crop_size <= 1024):
        raise ValueError(f"crop_size {crop_size!r}: expected a whole number of pixels from 8 to 1024")
    aligner = prep.get("aligner")
    if aligner is not None:
        if not isinstance(aligner, dict):
            raise ValueError(f"aligner {aligner!r} is not a table of settings")
        try:
            AlignConfig.from_dict(aligner)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"aligner: {exc}") from None
    return prep


Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Normalisation = Annotated[list[Number], Field(min_length=1, max_length=3)]


def _positive(values: list[float]) -> list[float]:
    if any(v <= 0 for v in values):
        raise ValueError(f"{values}: a standard deviation must be positive")
    return values


def _known_format(fmt: str) -> str:
    if fmt != CARD_FORMAT:
        newer = fmt.startswith("fer-desktop-model/")
        raise ValueError(f"{fmt!r}: " + ("written by a newer fer-desktop; " if newer else "") +
                         f"this version reads {CARD_FORMAT!r}")
    return fmt


_VIEW_LIMITS = {"scale": (0.5, 2.0), "dx": (-0.5, 0.5), "dy": (-0.5, 0.5), "angle": (-45.0, 45.0)}


def _checked_views(views: list[dict[str, Any]]) -> list[dict[str, float]]:
    """``test_views``: at most 32, each {scale 0.5-2, dx/dy -0.5-0.5 of the side, angle -45-45}."""
    if len(views) > 32:
        raise ValueError("at most 32 test views")
    out = []
    for v in views:
        if not set(v) <= set(_VIEW_LIMITS):
            raise ValueError(f"a test view's keys are among {', '.join(_VIEW_LIMITS)}; got {sorted(v)}")
        for key, value in v.items():
            low, high = _VIEW_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"test view {key} must be a number in [{low}, {high}]; got {value!r}")
        out.append({k: float(x) for k, x in v.items()})
    return out


@dataclass
class ModelCard:
    """A model's card. ``from_dict`` (every load) checks it against these types and limits;
    a card built in code is trusted."""

    __pydantic_config__ = ConfigDict(extra="ignore")

    name: Annotated[StrictStr, Field(max_length=500)]
    backbone: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    classes: Annotated[list[Annotated[StrictStr, Field(max_length=100)]], Field(min_length=2, max_length=1000),
                       AfterValidator(_unique_classes)]
    input_size: Annotated[StrictInt, Field(ge=8, le=MAX_INPUT_SIZE)]
    mean: Normalisation
    std: Annotated[Normalisation, AfterValidator(_positive)]
    # The model's input: the aligned grey face crop it was trained on, {"faces": "align" |
    # "crops", "grey": true, "crop_size": N, "aligner": {...}, "detector": NAME}, resized to
    # input_size and normalised with mean/std. "mode" (detect | crops | auto | none) records
    # what the training folders went through; it never decides how an image is prepared at
    # inference: what the image is does (trainer.faces.prepare, trainer.data.input_kinds).
    preprocessing: Annotated[dict[str, Any], AfterValidator(_check_preprocessing)] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    format: Annotated[StrictStr, AfterValidator(_known_format)] = CARD_FORMAT
    # Extra views averaged in at test time ({"scale", "dx", "dy", "angle"} each;
    # trainer.inference.views): every path that runs the model honours them. Empty: the face alone.
    test_views: Annotated[list[dict[str, Any]], AfterValidator(_checked_views)] = field(default_factory=list)
    # How many networks of ``backbone`` the weights hold, their probabilities averaged
    # (trainer.models.ensemble); 1: a single network.
    members: Annotated[StrictInt, Field(ge=1, le=MAX_MEMBERS)] = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model card") -> "ModelCard":
        """A checked card; ModelLoadError naming the first bad field otherwise."""
        if not isinstance(data, dict):
            raise ModelLoadError(f"{source}: not a valid model card (expected a JSON object)")
        try:
            return _CARD_SCHEMA.validate_python(data)
        except ValidationError as exc:
            raise ModelLoadError(f"{source}: {_first_error(exc)}") from None

    # What the card says about faces, read in one place (the Predictor, the app, evaluate).
    def detector_name(self) -> str:
        return str(self.preprocessing.get("detector") or "auto")

    def crop_size(self) -> int:
        """The side of the aligned crop the model is fed (then resized to input_size): the
        card's crop_size, else its aligner's size, else max(96, input_size)."""
        aligner = self.preprocessing.get("aligner") or {}
        return int(self.preprocessing.get("crop_size") or aligner.get("size") or max(96, self.input_size))

    def align_config(self) -> Any:
        """The aligner that makes the model's crops, at ``crop_size()``: the same crops for
        the app, predict and evaluate."""
        from trainer.faces.align import AlignConfig

        return AlignConfig.from_dict({**(self.preprocessing.get("aligner") or {}), "size": self.crop_size()})


_CARD_SCHEMA = TypeAdapter(ModelCard)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(first["loc"]))
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        text = f"lacks {loc}"
    else:
        value = first.get("input")
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        text = f"field {loc!r}: {msg} (got {shown})" if first["type"] != "value_error" else f"field {loc!r}: {msg}"
    more = len(errors) - 1
    return " ".join(text.split()) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def check_same(cards: Sequence[ModelCard], fields: Sequence[str], verb: str,
               names: Sequence[str] | None = None) -> None:
    """UsageError naming the first of ``fields`` in which a card differs from the first card:
    models combined (merged, ensembled) must agree on what their input and output mean."""
    for k, card in enumerate(cards[1:], 1):
        for name in fields:
            first, other = getattr(cards[0], name), getattr(card, name)
            if first != other:
                who = f"{names[0]} and {names[k]}" if names else "the models"
                raise UsageError(f"cannot {verb} {who}: they differ in {name} ({first!r} vs {other!r})")


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """The (weights, card) pair for a path given as either file or as the common stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def write_weights(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file to a temporary name and rename it into place, so a kill mid-way
    never leaves a torn file under the final name. safetensors creates its file owner-only
    (0600); the weights get the mode any new file of the user's gets (their umask), else a
    model copied or shared from a run folder is unreadable to others. ``state`` is a module's
    ``state_dict()``, on any device."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        tmp.touch()
        mode = tmp.stat().st_mode & 0o777
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_model(model: nn.Module, card: ModelCard, path: str | Path, *, half: bool = False) -> tuple[Path, Path]:
    """Write weights and card beside each other, each to a temporary file first and renamed
    into place (the card last, once its weights are whole). ``half`` stores the floating-point
    tensors as float16 (half the file; loading turns them back into float32)."""
    weights_path, card_path = model_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_card = card_path.with_name(card_path.name + f".{os.getpid()}.tmp")
    try:
        tmp_card.write_text(card.to_json() + "\n", encoding="utf-8")
        state = model.state_dict()
        if half:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        write_weights(state, weights_path, metadata={"format": CARD_FORMAT, "backbone": card.backbone})
        os.replace(tmp_card, card_path)
    finally:
        tmp_card.unlink(missing_ok=True)
    return weights_path, card_path


def _regular_file(path: Path, what: str) -> None:
    """A ModelLoadError unless ``path`` is a regular file (a FIFO would block the reader)."""
    import stat

    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelLoadError(f"{what} not found: {path}" + (" (a model is NAME.safetensors + NAME.json)"
                                                           if what == "model card" else "")) from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ModelLoadError(f"{path}: {kind}, not a {what}")


def read_card(path: str | Path) -> ModelCard:
    _, card_path = model_paths(path)
    _regular_file(card_path, "model card")
    if card_path.stat().st_size > MAX_CARD_BYTES:
        raise ModelLoadError(f"{card_path}: {card_path.stat().st_size >> 20} MB is too large for a model card")
    try:
        text = card_path.read_bytes().decode("utf-8-sig")
        data = json.loads(text)
    except OSError as exc:
        raise ModelLoadError(f"{card_path}: cannot read the model card: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelLoadError(f"{card_path}: not a valid model card (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{card_path}: not a valid model card (JSON error: {exc})") from None
    except RecursionError:
        raise ModelLoadError(f"{card_path}: not a valid model card (JSON nested too deeply)") from None
    return ModelCard.from_dict(data, str(card_path))


def record_metrics(path: str | Path, key: str, result: dict[str, Any], command: str | None = None) -> Path:
    """Write an evaluation into the model's card under ``metrics[key]`` (accuracy, macro F1, n,
    per-class recall and the command that measured it); the weights are not touched. The card
    is replaced atomically, so a crash leaves the old one."""
    card = read_card(path)
    entry = {k: result[k] for k in ("accuracy", "macro_f1", "n", "per_class_recall") if k in result}
    if command:
        entry["command"] = command
    card.metrics = {**(card.metrics or {}), key: entry}
    _, card_path = model_paths(path)
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(card.to_json() + "\n", encoding="utf-8")
    tmp.replace(card_path)
    return card_path


def _mismatch(state: dict[str, Any], target: dict[str, Any]) -> str:
    """What keeps ``state`` from loading into a network with ``target``'s tensors ("" if nothing)."""
    def some(keys: list[str]) -> str:
        return ", ".join(keys[:3]) + (" ..." if len(keys) > 3 else "")

    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [f"{k} is {list(state[k].shape)}, expected {list(v.shape)}" for k, v in target.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    parts = ([f"missing {some(missing)}"] if missing else []) + ([f"unexpected {some(unexpected)}"] if unexpected
                                                                 else []) + shapes[:2]
    return "; ".join(parts)


def check_weights(state: dict[str, Any], model: nn.Module, where: str) -> None:
    """Refuse weights that would load but give wrong answers: NaN or infinite values (NaN
    probabilities), integer or boolean tensors for floating-point parameters (silently cast:
    all-zero layers, uniform outputs), and names or shapes the network does not have."""
    import torch

    target = model.state_dict()
    mismatch = _mismatch(state, target)
    if mismatch:
        raise ModelLoadError(f"{where}: {mismatch}")
    for key, expected in target.items():
        tensor = state[key]
        if expected.is_floating_point() and not tensor.is_floating_point():
            raise ModelLoadError(f"{where}: tensor {key} holds {str(tensor.dtype).removeprefix('torch.')} values; "
                                 "weights must be floating point")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelLoadError(f"{where}: tensor {key} holds NaN or infinite values (a diverged or corrupt model)")


def _dry_run(model: nn.Module, card: ModelCard, where: str) -> None:
    """One forward pass on a blank input: a card whose input size the network cannot take
    fails here, on load, with a message, and not inside the first prediction."""
    import torch

    with torch.inference_mode():
        try:
            out = model(torch.zeros(1, 3, card.input_size, card.input_size))
        except RuntimeError as exc:
            raise ModelLoadError(f"{where}: backbone {card.backbone!r} cannot take the card's input_size "
                                 f"{card.input_size} ({' '.join(str(exc).split())[:200]})") from None
    if tuple(out.shape) != (1, len(card.classes)):
        raise ModelLoadError(f"{where}: the network gives {tuple(out.shape)[1:]} outputs for "
                             f"{len(card.classes)} classes")


def load_model(path: str | Path) -> tuple[nn.Module, ModelCard]:
    """Load weights + card into a module on the CPU, in eval mode; errors say what is wrong.
    Weights that cannot give right answers (NaN, integer tensors) are refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from trainer.models.registry import UnknownModelError, build_network

    weights_path, card_path = model_paths(path)
    card = read_card(path)
    _regular_file(weights_path, "model weights file")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{weights_path}: not a valid safetensors file: {' '.join(str(exc).split())}") from None
    try:
        model = build_network(card.backbone, len(card.classes), card.members)
    except UnknownModelError as exc:
        raise ModelLoadError(f"{card_path}: {exc}") from None
    check_weights(state, model, f"{weights_path} (backbone {card.backbone!r}, {len(card.classes)} classes)")
    model.load_state_dict(state)
    model.eval()
    _dry_run(model, card, str(card_path))
    return model, card
