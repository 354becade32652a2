"""Finding ImageNet weights offline: a file the user names, a package that ships them,
torch's hub cache, and a download only when the user allows it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


class PretrainedNotFound(FileNotFoundError):
    """No weights were found for a backbone; the message lists the ways to provide them."""


@dataclass(frozen=True)
class PretrainedWeights:
    state_dict: dict[str, torch.Tensor]
    source: str  # said in the run log and stored in the model card


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read tensors from .safetensors, or from a torch file without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedNotFound(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise PretrainedNotFound(f"{path}: not a readable weights file ({type(exc).__name__}: {exc})") from None
    for key in ("state_dict", "model", "model_state"):  # common checkpoint wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PretrainedNotFound(f"{path}: holds no state dict of tensors")
    return obj


def match_state_dict(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Return ``weights`` keyed like ``model``: by name when the names agree, else one-to-one
    in order when every shape agrees (e.g. the lukemelas EfficientNet names vs timm's)."""
    target = model.state_dict()
    stripped = {k.removeprefix("module."): v for k, v in weights.items()}
    if set(stripped) == set(target):
        return stripped
    if len(stripped) == len(target) and all(
        a.shape == b.shape for a, b in zip(stripped.values(), target.values())
    ):
        return dict(zip(target.keys(), stripped.values()))
    missing = sorted(set(target) - set(stripped))[:5]
    raise PretrainedNotFound(
        f"{source}: weights do not fit this architecture "
        f"({len(stripped)} tensors vs {len(target)}; e.g. missing {missing})"
    )


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
