"""``fer-desktop predict`` and ``fer-train predict``: one schema, the same answer for the
same image, folders accepted, a bad file recorded while the others go on."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_desktop.cli_predict import main as desktop_predict
from trainer import cli
from trainer.inference.predict_files import SCHEMA

from test_gui_window import astronaut_png, tiny_model  # noqa: F401 - shared fixtures

FACE_KEYS = {"box", "score", "left_eye", "right_eye", "aligned", "method", "label", "confidence", "probs"}


@pytest.fixture
def folder(tmp_path, astronaut_bgr):
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "a.png"), astronaut_bgr)
    cv2.imwrite(str(tmp_path / "sub" / "b.jpg"), astronaut_bgr)
    (tmp_path / "notes.txt").write_text("not an image, not picked from a folder")
    (tmp_path / "sub" / "broken.png").write_bytes(b"not a png")
    return tmp_path


def test_both_commands_print_the_same_document(folder, tiny_model, capsys):  # noqa: F811
    argv = [str(folder), "--json", "--model", str(tiny_model), "--detector", "haar"]
    assert desktop_predict(argv) == 1  # broken.png is reported, the others predicted
    desktop = json.loads(capsys.readouterr().out)
    assert cli.main(["predict", *argv]) == 1
    trainer = json.loads(capsys.readouterr().out)
    assert desktop == trainer
    assert desktop["schema"] == SCHEMA and desktop["model"] == "tiny-test"
    paths = [image["path"] for image in desktop["images"]]
    assert paths == [str(folder / "a.png"), str(folder / "sub" / "b.jpg"), str(folder / "sub" / "broken.png")]
    good, jpeg, broken = desktop["images"]
    assert broken["error"] and "broken.png" in broken["error"] and broken["faces"] == []
    assert good["error"] is None and len(good["faces"]) == 1 and set(good["faces"][0]) == FACE_KEYS
    face = good["faces"][0]
    assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["label"] == max(face["probs"], key=face["probs"].get) and face["aligned"] is True
    assert jpeg["faces"][0]["box"] == pytest.approx(face["box"], abs=3)  # the same face, JPEG-compressed


def test_crops_mode_says_when_no_face_was_found(tmp_path, tiny_model, capsys):  # noqa: F811
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((48, 48), 128, np.uint8))  # nothing a detector could call a face
    assert cli.main(["predict", str(flat), "--crops", "--json", "--model", str(tiny_model)]) == 0
    (face,) = json.loads(capsys.readouterr().out)["images"][0]["faces"]
    assert face["aligned"] is False and face["score"] == 0
    assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-4)


def test_an_empty_folder_is_one_line(tmp_path, tiny_model, capsys):  # noqa: F811
    (tmp_path / "empty").mkdir()
    assert desktop_predict([str(tmp_path / "empty"), "--model", str(tiny_model)]) == 2
    err = capsys.readouterr().err
    assert "no images in" in err and "Traceback" not in err
