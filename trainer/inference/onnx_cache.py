"""The ONNX file ONNX Runtime runs for a model: exported once from the safetensors weights,
checked against PyTorch, and kept in the user's cache keyed by the weights' hash. The model
files stay safetensors + card; the .onnx is a derived file that can always be rebuilt."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.errors import UserError

if TYPE_CHECKING:
    from trainer.models.card import ModelCard

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the exported graph changes: old cache files are then not used
CHECK_TOLERANCE = 1e-4  # largest |p_onnx - p_torch| accepted when the file is made


def cache_dir() -> Path:
    """``$FER_DESKTOP_ONNX_CACHE``, else ``onnx`` beside the crop cache (``$FER_DESKTOP_CACHE``,
    else ``$XDG_CACHE_HOME/fer-desktop``, else ``~/.cache/fer-desktop``)."""
    if os.environ.get("FER_DESKTOP_ONNX_CACHE"):
        return Path(os.environ["FER_DESKTOP_ONNX_CACHE"])
    from trainer.data.crops import default_cache_dir

    return default_cache_dir().parent / "onnx"


def cache_key(weights: Path, card: ModelCard) -> str:
    """The weights' bytes and what the graph depends on in the card."""
    h = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps([EXPORT_VERSION, card.backbone, card.input_size, len(card.classes)]).encode())
    return h.hexdigest()[:32]


def runtime_onnx(model_path: Path, card: ModelCard, directory: Path | None = None) -> Path:
    """The checked ONNX file for the model at ``model_path``, exporting it on first use (a few
    seconds, with torch). Raises ModelLoadError for a bad model, onnx_export.ExportError when
    the export cannot be made or does not match PyTorch."""
    from trainer.models.card import ModelLoadError, model_paths

    weights, _ = model_paths(model_path)
    try:
        path = Path(directory or cache_dir()) / f"{cache_key(weights, card)}.onnx"
    except OSError as exc:
        raise ModelLoadError(f"{weights}: cannot read the model weights: {exc.strerror or exc}") from None
    if path.is_file():
        return path
    log.info("Preparing %s for ONNX Runtime (once): %s", weights.name, path)
    _export_checked(model_path, card, path)
    return path


def _export_checked(model_path: Path, card: ModelCard, path: Path) -> None:
    import numpy as np
    import torch

    from trainer.models.card import load_model
    from trainer.models.onnx_export import ExportError, export_runtime_onnx

    model, _ = load_model(model_path)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.onnx")
    try:
        try:
            head = export_runtime_onnx(model, card.input_size, tmp)
        except Exception as exc:  # the exporter's own errors: any op it cannot write
            raise ExportError(f"torch could not export {card.backbone}: {' '.join(str(exc).split())[:300]}") from exc
        # Inputs a face crop can produce after normalisation; the real-face check lives in the
        # tests (tests/test_inference_backends.py) and in fer-train export --onnx.
        rng = np.random.default_rng(0)
        x = rng.uniform(-1.0, 1.0, (4, 1, card.input_size, card.input_size)).astype(np.float32)
        with torch.no_grad():
            expected = head(torch.from_numpy(x))[0].numpy()
        from trainer.inference.backends import OnnxClassifier

        got, _ = OnnxClassifier(tmp, threads=1).run(x)
        diff = float(np.abs(got - expected).max())
        if not diff <= CHECK_TOLERANCE:
            raise ExportError(f"the ONNX export of {model_path} differs from PyTorch by {diff:.1e} "
                              f"(limit {CHECK_TOLERANCE:g})")
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write the ONNX cache {path.parent}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
