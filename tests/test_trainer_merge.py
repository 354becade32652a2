"""``fer-train merge``: weight-space interpolation of two models."""

from __future__ import annotations

import torch

from trainer import cli
from trainer.classes import BASIC_CLASSES
from trainer.models import ModelCard, create_model, load_model, save_model


def _model(tmp_path, name: str, seed: int, classes=BASIC_CLASSES):
    torch.manual_seed(seed)
    model, _ = create_model("efficientnet-lite0", len(classes), pretrained=False)
    card = ModelCard(name=name, backbone="efficientnet-lite0", classes=list(classes), input_size=32,
                     mean=[0.5], std=[0.5], metrics={"x": {"accuracy": 0.9}})
    save_model(model, card, tmp_path / name)
    return model


def test_merge_is_the_weighted_average(tmp_path):
    a, b = _model(tmp_path, "a", 0), _model(tmp_path, "b", 1)
    out = tmp_path / "m"
    assert cli.main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--alpha", "0.25", "--out", str(out)]) == 0
    merged, card = load_model(out)
    key = "conv_stem.weight"
    expected = 0.75 * a.state_dict()[key] + 0.25 * b.state_dict()[key]
    assert torch.allclose(merged.state_dict()[key], expected, atol=1e-6)
    assert card.training["merged"]["alpha"] == 0.25
    assert card.metrics == {}  # the merged weights were never evaluated


def test_merge_refuses_models_with_other_classes(tmp_path, capsys):
    _model(tmp_path, "a", 0)
    _model(tmp_path, "b", 1, classes=BASIC_CLASSES + ("contempt",))
    assert cli.main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m")]) == 2
    assert "differ in classes" in capsys.readouterr().err


def test_three_models_make_a_uniform_soup(tmp_path):
    models = [_model(tmp_path, name, seed) for seed, name in enumerate("abc")]
    out = tmp_path / "soup"
    assert cli.main(["merge", *(str(tmp_path / n) for n in "abc"), "--out", str(out)]) == 0
    merged, card = load_model(out)
    key = "conv_stem.weight"
    expected = sum(m.state_dict()[key] for m in models) / 3
    assert torch.allclose(merged.state_dict()[key], expected, atol=1e-6)
    assert card.training["merged"]["weights"] == [1 / 3] * 3


def test_alpha_needs_exactly_two_models(tmp_path, capsys):
    for seed, name in enumerate("abc"):
        _model(tmp_path, name, seed)
    args = ["merge", *(str(tmp_path / n) for n in "abc"), "--alpha", "0.3", "--out", str(tmp_path / "m")]
    assert cli.main(args) == 2
    assert "uniform average" in capsys.readouterr().err


def test_test_views_on_one_model_make_a_copy_whose_card_lists_them(tmp_path, capsys):
    from trainer.evaluation.views import VIEWS

    a = _model(tmp_path, "a", 0)
    out = tmp_path / "a-views" / "model"
    assert cli.main(["merge", str(tmp_path / "a"), "--test-views", "eight", "--out", str(out)]) == 0
    assert "a copy, test views: eight" in capsys.readouterr().out
    copy, card = load_model(out)
    assert card.test_views == [v.to_dict() for v in VIEWS] and len(card.test_views) == 8
    assert card.name == "a-views"
    assert card.metrics == {}  # measured without the views: they no longer describe this model
    assert all(torch.equal(a.state_dict()[k], v) for k, v in copy.state_dict().items())
    # ... and none takes them off again
    back = tmp_path / "plain"
    assert cli.main(["merge", str(out), "--test-views", "none", "--out", str(back)]) == 0
    assert load_model(back)[1].test_views == []


def test_one_model_without_test_views_or_as_an_ensemble_is_refused(tmp_path, capsys):
    _model(tmp_path, "a", 0)
    assert cli.main(["merge", str(tmp_path / "a"), "--out", str(tmp_path / "m")]) == 2
    assert "or one with --test-views" in capsys.readouterr().err
    assert cli.main(["merge", str(tmp_path / "a"), "--ensemble", "--test-views", "eight",
                     "--out", str(tmp_path / "m")]) == 2
    assert "--ensemble needs two or more models" in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()
