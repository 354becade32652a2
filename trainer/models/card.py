"""A model on disk: ``NAME.safetensors`` (weights) beside ``NAME.json`` (its card).

The card says everything needed to feed the model what it was trained on (classes, input
size, normalisation, face preprocessing) and where it came from (backbone, pretrained
weights, training data, metrics). Loading never unpickles anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

CARD_FORMAT = "fer-desktop-model/1"


class ModelLoadError(RuntimeError):
    """A model file that is missing, corrupt or does not match its card."""


@dataclass
class ModelCard:
    name: str
    backbone: str
    classes: list[str]
    input_size: int
    mean: list[float]
    std: list[float]
    # How a face becomes the model's input: {"faces": "align" | "crops", "aligner": {...}}.
    preprocessing: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    format: str = CARD_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        required = ("name", "backbone", "classes", "input_size", "mean", "std")
        missing = [k for k in required if k not in data]
        if missing:
            raise ModelLoadError(f"model card lacks {', '.join(missing)}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """The (weights, card) pair for a path given as either file or as the common stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_model(model: nn.Module, card: ModelCard, path: str | Path) -> tuple[Path, Path]:
    from safetensors.torch import save_file

    weights_path, card_path = model_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights_path), metadata={"format": CARD_FORMAT, "backbone": card.backbone})
    card_path.write_text(card.to_json() + "\n", encoding="utf-8")
    return weights_path, card_path


def read_card(path: str | Path) -> ModelCard:
    _, card_path = model_paths(path)
    if not card_path.is_file():
        raise ModelLoadError(f"model card not found: {card_path} (a model is NAME.safetensors + NAME.json)")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{card_path}: not a valid model card: {exc}") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{card_path}: not a valid model card (expected a JSON object)")
    return ModelCard.from_dict(data)


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


def load_model(path: str | Path) -> tuple[nn.Module, ModelCard]:
    """Load weights + card into a module on the CPU, in eval mode; errors say what is wrong."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from trainer.models.registry import UnknownModelError, get_spec

    weights_path, card_path = model_paths(path)
    card = read_card(path)
    if not weights_path.is_file():
        raise ModelLoadError(f"model weights not found: {weights_path}")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{weights_path}: not a valid safetensors file: {exc}") from None
    try:
        model = get_spec(card.backbone).build(len(card.classes))
    except UnknownModelError as exc:
        raise ModelLoadError(f"{card_path}: {exc}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelLoadError(f"{weights_path}: weights do not match backbone {card.backbone!r} "
                             f"with {len(card.classes)} classes: {str(exc)[:300]}") from None
    model.eval()
    return model, card
