"""The same image gives the same probabilities everywhere: ``fer-desktop predict --json`` and
``fer-train evaluate --predictions`` make each face through the one path
(trainer.faces.prepare) and must agree on the top class and on every probability to 1e-4,
on photos, on tight crops and (with ../shared/data) on SFEW 2.0 Val, the way each command
runs with its default options."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_desktop.cli_predict import main as desktop_predict
from trainer import cli
from trainer.evaluation.predictions import Predictions

from test_gui_window import tiny_model  # noqa: F401 - shared fixture

TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))


def evaluate(data: Path, model: Path | None, out: Path, capsys, *extra: str) -> tuple[Predictions, dict]:
    argv = ["evaluate", "--data", str(data), "--json", "--predictions", str(out), *extra]
    assert cli.main(argv + (["--model", str(model)] if model else [])) == 0
    return Predictions.load(out), json.loads(capsys.readouterr().out)


def predict(paths: list[Path], model: Path | None, capsys, *extra: str) -> dict:
    argv = [*map(str, paths), "--json", *extra] + (["--model", str(model)] if model else [])
    assert desktop_predict(argv) == 0
    return json.loads(capsys.readouterr().out)


def assert_same(pred: Predictions, doc: dict, root: Path) -> int:
    """Every image predict found a face in has evaluate's probabilities for it (its largest
    face, evaluate's crop); returns how many were compared."""
    by_id = {Path(image["path"]).relative_to(root).as_posix(): image for image in doc["images"]}
    compared = 0
    for i, sample_id in enumerate(pred.ids):
        image = by_id[sample_id]
        assert image["error"] is None
        if not image["faces"]:
            continue
        face = image["faces"][0]
        probs = np.array([face["probs"][c] for c in pred.classes])
        assert face["label"] == pred.classes[int(pred.probs[i].argmax())], sample_id
        np.testing.assert_allclose(probs, pred.probs[i], atol=TOLERANCE, err_msg=sample_id)
        compared += 1
    return compared


def test_photos_and_crops_agree(tmp_path, astronaut_bgr, tiny_model, capsys):  # noqa: F811
    data = tmp_path / "mine"
    for cls in ("Happy", "Sad"):
        (data / cls).mkdir(parents=True)
    cv2.imwrite(str(data / "Happy" / "photo.png"), astronaut_bgr)  # a photo: detected, aligned
    cv2.imwrite(str(data / "Happy" / "tight.png"), astronaut_bgr[70:220, 160:290])  # a face crop
    cv2.imwrite(str(data / "Sad" / "small.jpg"), cv2.resize(astronaut_bgr[60:240, 150:300], (48, 58)))
    cv2.imwrite(str(data / "Sad" / "flat.png"), np.full((48, 48), 120, np.uint8))  # auto: no face: as is
    pred, result = evaluate(data, tiny_model, tmp_path / "eval.npz", capsys)
    assert result["input"] == "auto" and result["n"] == 4
    methods = result["face_methods"]
    assert methods["detect"] >= 2 and methods.get("asis") == 1, methods
    doc = predict(sorted(data.rglob("*.*")), tiny_model, capsys)
    assert {image["input"] for image in doc["images"]} == {"auto"}
    assert assert_same(pred, doc, data) == 4

    # Face crops, by their old and new names: the same crops in both commands.
    pred, result = evaluate(data, tiny_model, tmp_path / "crop.npz", capsys, "--faces", "crops")
    assert result["input"] == "crop" and "detect" not in result["face_methods"]
    doc = predict(sorted(data.rglob("*.*")), tiny_model, capsys, "--crops")
    assert [f["method"] for image in doc["images"] for f in image["faces"]].count("detect") == 0
    assert assert_same(pred, doc, data) == 4


def test_conflicting_input_options_are_one_line(tmp_path, tiny_model, capsys):  # noqa: F811
    (tmp_path / "d" / "Happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "d" / "Happy" / "a.png"), np.full((48, 48), 100, np.uint8))
    code = cli.main(["evaluate", "--data", str(tmp_path / "d"), "--model", str(tiny_model),
                     "--input", "crop", "--faces", "detect"])
    err = capsys.readouterr().err
    assert code == 2 and "--input crop and --faces detect disagree" in err and "Traceback" not in err


@pytest.mark.shared_data
def test_sfew_val_agrees_with_the_default_options(shared_data, tmp_path, capsys):
    """SFEW's crops: evaluate (the dataset declares crop) and predict on its files (which lie in
    a dataset that declares crop) take the crop path without being told; the bundled model."""
    source = shared_data / "sfew2" / "Val"
    if not source.is_dir():  # the fixture checks FER-2013 only
        pytest.skip(f"SFEW 2.0 Val not found at {source}")
    data = tmp_path / "sfew2-sample"  # named like SFEW: it declares crop as SFEW does
    picked = []
    for cls in ("Angry", "Fear", "Happy", "Neutral", "Sad", "Surprise"):
        files = sorted((source / cls).glob("*.png"))[:2]
        (data / "Val" / cls).mkdir(parents=True)
        for f in files:
            shutil.copy(f, data / "Val" / cls / f.name)
            picked.append(data / "Val" / cls / f.name)
    pred, result = evaluate(data, None, tmp_path / "sfew.npz", capsys, "--split", "Val")
    assert result["input"] == "crop" and set(result["face_methods"]) <= {"crop", "asis"}
    doc = predict(picked, None, capsys)
    assert {image["input"] for image in doc["images"]} == {"crop"}
    assert assert_same(pred, doc, data) == len(picked)


def test_every_face_in_the_review_gets_predicts_probabilities(tmp_path, two_people_bgr, capsys,
                                                              tiny_model, monkeypatch):  # noqa: F811
    """A group photo opened in the review with every face: each face's probabilities are those
    ``fer-desktop predict`` gives the same face of the photo (matched by its box)."""
    from fer_desktop.review import DatasetRequest
    from fer_desktop.review_io import open_session
    from trainer.faces.geometry import box_iou

    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    photos = tmp_path / "party"
    photos.mkdir()
    cv2.imwrite(str(photos / "two.png"), two_people_bgr)
    doc = predict([photos / "two.png"], tiny_model, capsys)
    faces = doc["images"][0]["faces"]
    s = open_session(DatasetRequest(str(photos), model=str(tiny_model), every_face=True),
                     cache_dir=tmp_path / "predictions")
    assert len(faces) == len(s) == 2
    for i, origin in enumerate(s.origins):
        face = max(faces, key=lambda f: box_iou(f["box"], origin.box))
        assert box_iou(face["box"], origin.box) > 0.99
        probs = np.array([face["probs"][c] for c in s.classes])
        np.testing.assert_allclose(probs, s.probs[i], atol=TOLERANCE, err_msg=s.ids[i])
