"""``fer-train evaluate --record`` writes a card only when that is what was meant: never a
subset's accuracy over the split's, never the bundled model's card unless --model names it."""

from __future__ import annotations

import json

import pytest

from trainer.cli import main
from trainer.data.synthetic import write_fer_csv
from trainer.inference import default_model_path


@pytest.fixture
def setup(tmp_path, monkeypatch, one_torch_thread):
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model

    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))
    classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    model, _ = create_model("timm:test_resnet", len(classes), pretrained=False)
    card = ModelCard(name="tiny", backbone="timm:test_resnet", classes=classes, input_size=32, mean=[0.5], std=[0.5],
                     preprocessing={"faces": "crops"},
                     metrics={"fer2013/PublicTest": {"accuracy": 0.5, "n": 48, "command": "the full split"}})
    weights, card_path = save_model(model, card, tmp_path / "model")
    csv = write_fer_csv(tmp_path / "fer2013.csv.gz", {"Training": 8, "PublicTest": 48, "PrivateTest": 8})
    return weights, card_path, csv


def _run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_a_subset_is_not_recorded_over_the_split(setup, capsys):
    weights, card_path, csv = setup
    before = card_path.read_text()
    code, err = _run(capsys, "evaluate", "--model", weights, "--data", csv, "--split", "PublicTest",
                     "--max-samples", "10", "--record")
    assert code == 2 and "--record-subset" in err and "10 of 48" in err and "Traceback" not in err
    assert card_path.read_text() == before

    code, err = _run(capsys, "evaluate", "--model", weights, "--data", csv, "--split", "PublicTest",
                     "--max-samples", "10", "--record", "--record-subset")
    assert code == 0, err
    metrics = json.loads(card_path.read_text())["metrics"]
    assert metrics["fer2013/PublicTest"]["command"] == "the full split"  # untouched
    subset = metrics["fer2013/PublicTest (10 random samples)"]
    assert subset["n"] == 10 and "--max-samples 10" in subset["command"]


def test_the_bundled_card_needs_an_explicit_model(setup, capsys):
    _, _, csv = setup
    bundled = default_model_path().with_suffix(".json")
    before = bundled.read_bytes()
    code, err = _run(capsys, "evaluate", "--data", csv, "--split", "PublicTest", "--record")
    assert code == 2 and "--model" in err and "Traceback" not in err
    assert bundled.read_bytes() == before
