"""Finding ImageNet weights offline: a file the user names, a package that ships them,
torch's hub cache, and a download only when the user allows it."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.errors import UserError


class PretrainedNotFound(UserError, FileNotFoundError):
    """No weights were found for a backbone; the message lists the ways to provide them."""


@dataclass(frozen=True)
class PretrainedWeights:
    state_dict: dict[str, torch.Tensor]
    source: str  # said in the run log and stored in the model card


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read tensors from .safetensors, or from a torch file without unpickling arbitrary
    objects. Weights with NaN or infinite values are refused (training would only spread them)."""
    import stat

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        raise PretrainedNotFound(f"weights file not found: {path}") from None
    if not stat.S_ISREG(mode):
        raise PretrainedNotFound(f"{path}: not a regular file, not a weights file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise PretrainedNotFound(f"{path}: holds pickled Python objects, which are never loaded "
                                 "(give a .safetensors file or a torch file of tensors)") from None
    except Exception as exc:  # noqa: BLE001 - torch and safetensors raise many kinds for a bad file
        detail = " ".join(str(exc).split())[:200]
        raise PretrainedNotFound(f"{path}: not a readable weights file ({type(exc).__name__}: {detail})") from None
    for key in ("state_dict", "model", "model_state"):  # common checkpoint wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PretrainedNotFound(f"{path}: holds no state dict of tensors")
    for key, tensor in obj.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise PretrainedNotFound(f"{path}: tensor {key} holds NaN or infinite values")
    return obj


def match_state_dict(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Return ``weights`` keyed like ``model``: by name when the names agree, else one-to-one
    in order when every shape agrees (e.g. the lukemelas EfficientNet names vs timm's)."""
    target = model.state_dict()
    stripped = {k.removeprefix("module."): v for k, v in weights.items()}
    if set(stripped) == set(target):
        matched = stripped
    elif len(stripped) == len(target) and all(a.shape == b.shape for a, b in zip(stripped.values(), target.values())):
        matched = dict(zip(target.keys(), stripped.values()))
    else:
        missing = sorted(set(target) - set(stripped))[:5]
        raise PretrainedNotFound(
            f"{source}: weights do not fit this architecture "
            f"({len(stripped)} tensors vs {len(target)}; e.g. missing {missing})"
        )
    shapes = [f"{k} is {list(v.shape)}, expected {list(target[k].shape)}" for k, v in matched.items()
              if tuple(v.shape) != tuple(target[k].shape)]
    if shapes:
        raise PretrainedNotFound(f"{source}: weights do not fit this architecture ({'; '.join(shapes[:2])})")
    for key, tensor in matched.items():
        if target[key].is_floating_point() and not tensor.is_floating_point():
            raise PretrainedNotFound(f"{source}: tensor {key} holds {str(tensor.dtype).removeprefix('torch.')} "
                                     "values; weights must be floating point")
    return matched


def hub_cache_file(filename: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def from_hub_cache_or_download(filename: str, url: str | None, allow_download: bool) -> PretrainedWeights | None:
    cached = hub_cache_file(filename)
    if cached.is_file():
        return PretrainedWeights(read_state_dict(cached), f"torch hub cache: {cached}")
    if allow_download and url:
        state = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True, file_name=filename)
        return PretrainedWeights(state, f"downloaded: {url}")
    return None
