"""Bundled models are picked by name wherever a model is named (--model, the app's Model menu),
while a file of that name still wins."""

from __future__ import annotations

from pathlib import Path

from trainer.inference.bundled import DEFAULT_MODEL_NAME, bundled_models, default_model_path, resolve_model
from trainer.models.card import read_card

PAPER = "paper-fer32-sfew"


def test_the_default_and_the_paper_protocol_model_ship():
    models = bundled_models()
    assert {"default", PAPER} <= set(models)
    assert read_card(models[PAPER]).classes == read_card(models["default"]).classes
    assert models[PAPER].stat().st_size < 25 * 2 ** 20  # the limit for a second model


def test_the_fer2013_label_model_ships_with_its_test_views():
    """Issue 10's second model for FER-2013's own labels: by name, under 25 MB, the default's
    classes, and the eight views its PublicTest choice was made with (every path honours them)."""
    from trainer.evaluation.views import VIEWS

    path = bundled_models()["fer2013-labels"]
    card = read_card(path)
    assert path.stat().st_size < 25 * 2 ** 20
    assert card.classes == read_card(bundled_models()["default"]).classes
    assert card.test_views == [v.to_dict() for v in VIEWS]


def test_names_files_and_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER_DESKTOP_MODEL", raising=False)
    assert resolve_model(None) == default_model_path() == resolve_model("")
    assert resolve_model(PAPER) == bundled_models()[PAPER]
    assert resolve_model(Path(PAPER)) == bundled_models()[PAPER]
    assert resolve_model("no-such-model") == Path("no-such-model")  # its loader says it is missing
    (tmp_path / f"{PAPER}.json").write_text("{}")  # a file here is what the user means
    assert resolve_model(PAPER) == Path(PAPER)
    assert resolve_model(f"sub/{PAPER}") == Path(f"sub/{PAPER}")  # a path is never a name


def test_predict_takes_a_bundled_name(capsys, tmp_path, astronaut_bgr):
    import cv2

    from trainer.cli import main as fer_train

    cv2.imwrite(str(tmp_path / "astronaut.png"), astronaut_bgr)
    code = fer_train(["predict", "--model", PAPER, str(tmp_path / "astronaut.png"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert read_card(bundled_models()[PAPER]).name in out


def test_the_model_menu_lists_the_other_bundled_models_and_loads_them(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from fer_desktop._qt.main_window import MainWindow

    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), model_path=PAPER)
    qtbot.addWidget(window)
    try:
        others = sorted(name for name in bundled_models() if name != DEFAULT_MODEL_NAME)
        texts = [act.text() for act in window.bundled_model_actions]
        assert texts == [f"Use Bundled Model: {name}" for name in others]
        assert all(act in window.menus["Model"].actions() for act in window.bundled_model_actions)
        qtbot.waitUntil(lambda: window.ctx.model is not None, timeout=120_000)
        assert window.ctx.model.name == read_card(bundled_models()[PAPER]).name
    finally:
        window.close()


def test_every_bundled_card_reads_as_words_and_says_how_it_was_measured():
    from fer_desktop.card_view import training_rows

    for name, path in bundled_models().items():
        card = read_card(path)
        for label, text in training_rows(card):
            assert not any(repr_ in text for repr_ in ("['", "{'", "': ")), (name, label, text)  # no Python reprs
        for split, metric in card.metrics.items():
            assert str(metric.get("command", "")).startswith("fer-train evaluate"), (name, split)
    default = read_card(default_model_path())
    assert {"sfew2/Val", "fer2013/PrivateTest"} <= {key.split(" ")[0] for key in default.metrics}
    assert any(key.startswith("ferplus/PrivateTest") for key in default.metrics)
