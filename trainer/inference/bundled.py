"""Where the bundled model is. Light on purpose (no torch, no OpenCV): command lines and the
GUI ask for the path long before they load anything."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL_NAME = "default"


def resources_dir() -> Path:
    """The bundled resources: the package ``trainer.resources`` (the repository's top-level
    ``resources/``, which setup.py maps there in wheels and editable installs), else that
    folder beside the packages (a source checkout run without installing, and the PyInstaller
    bundle, whose spec puts it there)."""
    try:
        root = files("trainer.resources")
    except ModuleNotFoundError:
        root = None
    if isinstance(root, Path) and (root / "models").is_dir():
        return root
    return Path(__file__).resolve().parents[2] / "resources"


def default_model_path() -> Path:
    """The bundled model; ``FER_DESKTOP_MODEL`` overrides it."""
    override = os.environ.get("FER_DESKTOP_MODEL")
    if override:
        return Path(override)
    return resources_dir() / "models" / f"{DEFAULT_MODEL_NAME}.safetensors"


def bundled_models() -> dict[str, Path]:
    """The models that ship with fer-desktop, by name (``default`` is the one used when none is
    named; the others are picked with ``--model NAME`` or the app's Model menu)."""
    folder = resources_dir() / "models"
    return {p.stem: p for p in sorted(folder.glob("*.safetensors"))} if folder.is_dir() else {}


def resolve_model(given: str | Path | None) -> Path:
    """What a ``--model`` value names: nothing is the default model; a file (or its card) that
    exists is itself; a bare name that is no file here is a bundled model's name when one has
    it; anything else stays a path (its loader says it is missing)."""
    if given is None or str(given) == "":
        return default_model_path()
    path = Path(given)
    if path.exists() or path.with_suffix(".json").exists() or path.with_suffix(".safetensors").exists():
        return path
    if path.name == str(given) and path.stem in bundled_models():
        return bundled_models()[path.stem]
    return path
