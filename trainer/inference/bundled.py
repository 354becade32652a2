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
