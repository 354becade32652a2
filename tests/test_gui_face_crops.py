"""File > These Are Face Crops under QT_QPA_PLATFORM=offscreen: set by itself for a known
crop dataset, off for photos, a toggle makes the image on screen again; the window shows the
probabilities ``fer-desktop predict`` prints; no face box is drawn past the picture's edge."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QColor  # noqa: E402

from fer_desktop._qt.frame_view import FrameView  # noqa: E402
from fer_desktop.cli_predict import main as desktop_predict  # noqa: E402
from fer_desktop.results import FramePacket, FrameResult  # noqa: E402
from trainer.classes import BASIC_CLASSES  # noqa: E402
from trainer.faces import Face  # noqa: E402
from trainer.inference.live import LiveFace  # noqa: E402

from test_gui_window import WAIT_MS, astronaut_png, settings, tiny_model, window  # noqa: F401,E402


def wait_for_method(qtbot, win, path, methods: set[str]):
    """The result for ``path`` once its first face was made one of ``methods`` ways."""
    def ready() -> bool:
        r = win.ctx.result
        return (r is not None and r.packet.path is not None and r.packet.path.name == path.name
                and bool(r.faces) and r.faces[0].method in methods)

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return win.ctx.result


def test_a_known_crop_dataset_is_face_crops_and_the_toggle_redoes_the_image(qtbot, window, tmp_path,  # noqa: F811
                                                                           astronaut_bgr, astronaut_png):  # noqa: F811
    crop = tmp_path / "sfew2-demo" / "Val" / "Happy" / "tight.png"  # an SFEW-named dataset: crops
    crop.parent.mkdir(parents=True)
    cv2.imwrite(str(crop), astronaut_bgr[70:220, 160:290])
    assert not window.act_face_crops.isChecked()
    window.open_image(crop)
    assert window.act_face_crops.isChecked()  # at once, before the image arrives
    first = wait_for_method(qtbot, window, crop, {"crop", "asis"})  # padded, found again, re-aligned
    assert first.faces[0].method == "crop"
    tile = window.panels["crops"].tiles[0]
    qtbot.waitUntil(lambda: "re-aligned crop" in tile.caption.text(), timeout=WAIT_MS)  # says how it was made

    window.act_face_crops.trigger()  # off: the same image as a photo, made again at once
    assert not window.act_face_crops.isChecked()
    again = wait_for_method(qtbot, window, crop, {"detect"})  # the detector finds this crop's face as it is
    assert again.packet.path == first.packet.path
    qtbot.waitUntil(lambda: "re-aligned" not in tile.caption.text(), timeout=WAIT_MS)

    window.open_image(astronaut_png)  # a photo elsewhere: not crops
    assert not window.act_face_crops.isChecked()
    wait_for_method(qtbot, window, astronaut_png, {"detect"})


def test_the_window_shows_what_predict_prints(qtbot, window, astronaut_png, tiny_model, capsys):  # noqa: F811
    window.open_image(astronaut_png)
    shown = wait_for_method(qtbot, window, astronaut_png, {"detect"})
    assert desktop_predict([str(astronaut_png), "--json", "--model", str(tiny_model)]) == 0
    (image,) = json.loads(capsys.readouterr().out)["images"]
    assert len(image["faces"]) == len(shown.faces) == 1
    printed = np.array([image["faces"][0]["probs"][c] for c in shown.classes])
    np.testing.assert_allclose(shown.faces[0].probs, printed, atol=1e-4)
    assert image["faces"][0]["box"] == pytest.approx(list(shown.faces[0].face.box), abs=0.01)


def test_no_box_is_drawn_past_the_picture(qtbot):
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    frame = np.full((100, 200, 3), 128, np.uint8)  # drawn 400x200, from y=100 to y=300
    probs = np.eye(len(BASIC_CLASSES), dtype=np.float32)[3]
    faces = [LiveFace(1, Face((-50.0, -30.0, 150.0, 100.0), 0.9, (20.0, 20.0), (60.0, 20.0)),
                      np.zeros((8, 8), np.uint8), probs, probs, detected=True),
             LiveFace(2, Face((150.0, 60.0, 120.0, 80.0), 0.9, (170.0, 80.0), (190.0, 80.0)),
                      np.zeros((8, 8), np.uint8), probs, probs, detected=True)]
    packet = FramePacket(frame, time.perf_counter(), "image", "x.png", 1, still=True)
    view.set_result(FrameResult(packet, faces, list(BASIC_CLASSES), "m", 1.0, 1.0), 1, False)
    image = view.grab().toImage()
    background = QColor("#1e1f22").rgb()
    outside = [(x, y) for y in list(range(0, 100)) + list(range(300, 400)) for x in range(0, 400, 3)
               if image.pixel(x, y) != background]
    assert not outside, f"drawn past the picture at {outside[:5]}"
    inside = {image.pixel(x, y) for y in range(100, 300, 2) for x in range(0, 400, 2)}
    assert len(inside) > 3  # the boxes and their labels are drawn, inside


def test_input_from_the_command_line_wins(qtbot, window, astronaut_png):  # noqa: F811
    from fer_desktop.app import build_parser

    assert build_parser().parse_args(["--input", "crop"]).input == "crop"
    window.input_override = "crop"  # fer-desktop --input crop: every opened image is a face crop
    window.open_image(astronaut_png)
    assert window.act_face_crops.isChecked()
    shown = wait_for_method(qtbot, window, astronaut_png, {"crop", "asis"})
    assert len(shown.faces) == 1  # one crop, one face: the photo's largest, re-aligned


def test_the_review_dialog_says_what_the_dataset_holds(qtbot, tmp_path):
    from fer_desktop._qt.tools.review.open_dialog import OpenDatasetDialog

    (tmp_path / "sfew2-copy" / "Happy").mkdir(parents=True)
    (tmp_path / "mine" / "Happy").mkdir(parents=True)
    dialog = OpenDatasetDialog(path=str(tmp_path / "sfew2-copy"))
    qtbot.addWidget(dialog)
    assert dialog.face_crops.isChecked() and dialog.request().input is None  # as declared: crop
    dialog.face_crops.setChecked(False)
    assert dialog.request().input == "auto"  # the user says otherwise
    dialog.path.setText(str(tmp_path / "mine"))  # declares nothing: photos until ticked
    assert not dialog.face_crops.isChecked() and dialog.request().input is None
    dialog.face_crops.setChecked(True)
    assert dialog.request().input == "crop"


def test_the_review_dialog_asks_for_every_face_or_face_crops_not_both(qtbot, tmp_path):
    from fer_desktop._qt.tools.review.open_dialog import OpenDatasetDialog

    (tmp_path / "party").mkdir()
    dialog = OpenDatasetDialog(path=str(tmp_path / "party"))
    qtbot.addWidget(dialog)
    assert not dialog.every_face.isChecked() and dialog.request().every_face is False
    dialog.face_crops.setChecked(True)
    dialog.every_face.setChecked(True)  # group photos: one sample a face, so not face crops
    assert not dialog.face_crops.isChecked()
    request = dialog.request()
    assert request.every_face is True and request.input is None
    assert dialog.every_s.isEnabled() and request.every_s is None  # one frame a second: the default
    dialog.every_s.setValue(0.5)
    assert dialog.request().every_s == 0.5
    dialog.face_crops.setChecked(True)
    assert not dialog.every_face.isChecked() and dialog.request().input == "crop"
    assert not dialog.every_s.isEnabled() and dialog.request().every_s is None
