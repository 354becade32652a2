"""Collecting faces from the live view (Collect menu): Alt+digit saves the selected face into
its class folder, Alt+0 into unlabelled/; the folder declares face crops, reads as a dataset
with those labels, and each saved face is found again and aligned when it is read."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from fer_desktop.collect import face_region  # noqa: E402
from fer_desktop.review import DatasetRequest  # noqa: E402
from test_gui_window import astronaut_png, settings, tiny_model, wait_for_faces, window  # noqa: E402,F401


def test_face_region_grows_the_box_and_stops_at_the_edges():
    frame = np.arange(100 * 200, dtype=np.uint32).reshape(100, 200)
    region = face_region(frame, (50, 20, 40, 30), margin=0.5)  # 20 px and 15 px of context each way
    assert region.shape == (60, 80) and region[0, 0] == frame[5, 30]
    at_edge = face_region(frame, (180, 90, 40, 20), margin=0.25)  # past the right and bottom edges
    assert at_edge.shape == (15, 30) and at_edge[-1, -1] == frame[99, 199]
    with pytest.raises(ValueError, match="outside the 200x100 frame"):
        face_region(frame, (300, 10, 20, 20))


def test_a_faces_context_stops_where_another_face_begins():
    """Measured on boxes placed by hand: the region gives up the side a neighbour is on, up to
    the neighbour's edge, never into the face's own box; a face outside the region changes nothing."""
    frame = np.zeros((100, 200), np.uint8)
    box = (50, 20, 40, 30)  # margin 0.5: columns 30-110, rows 5-65
    assert face_region(frame, box, margin=0.5, others=[(150, 20, 40, 30)]).shape == (60, 80)
    assert face_region(frame, box, margin=0.5, others=[(100, 25, 40, 30)]).shape == (60, 70)  # to column 100
    assert face_region(frame, box, margin=0.5, others=[(85, 22, 40, 30)]).shape == (60, 60)  # overlaps: box edge
    assert face_region(frame, box, margin=0.5, others=[(52, 58, 36, 30)]).shape == (53, 80)  # below: to row 58
    assert face_region(frame, box, margin=0.5, others=[(10, 10, 25, 30)]).shape == (60, 75)  # left: from column 35


def test_faces_saved_from_the_live_view_make_a_dataset(qtbot, window, astronaut_png, tmp_path):  # noqa: F811
    from trainer.data.crops import FaceOptions
    from trainer.data.datasets import LoadOptions, load_samples
    from trainer.data.input_kinds import declared_input

    folder = tmp_path / "my faces"
    tool = window.tools["Collect"]
    tool.choose_folder(str(folder))
    window.open_image(astronaut_png)
    result = wait_for_faces(qtbot, window)
    happy = result.classes.index("happy")
    QTest.keyClick(window, getattr(Qt.Key, f"Key_{happy + 1}"), Qt.KeyboardModifier.AltModifier)
    QTest.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)
    saved = sorted(p.relative_to(folder).parts[0] for p in folder.rglob("*.png"))
    assert saved == ["Happy", "unlabelled"] and declared_input(folder) == "crop"
    assert "(happy 1, unlabelled 1)" in window.banner.text()

    # What was saved is the face with context: read back as face crops, the face is found again.
    faces = load_samples(str(folder), LoadOptions(faces=FaceOptions(mode="crops", crop_size=64), use_cache=False))
    assert sorted(faces.classes[k] if k >= 0 else "?" for k in faces.labels) == ["?", "happy"]
    assert list(faces.meta["face_methods"]) == ["crop", "crop"]
    x, y, w, h = result.faces[0].face.box
    crop = next(folder.glob("Happy/*.png"))
    height, width = cv2.imread(str(crop)).shape[:2]
    assert abs(width - 1.8 * w) <= 2 and abs(height - 1.8 * h) <= 2  # 40% of the box each way, inside the frame

    with qtbot.waitSignal(window.ctx.openDatasetRequested) as asked:
        tool.act_review.trigger()
    assert asked.args[0] == DatasetRequest(str(folder))


def test_saving_without_a_face_says_so(qtbot, window, tmp_path):  # noqa: F811
    tool = window.tools["Collect"]
    tool.choose_folder(str(tmp_path / "faces"))
    assert tool.save("happy") is None and "No face to save" in window.banner.text()
    assert not any((tmp_path / "faces").rglob("*.png"))


def test_help_lists_the_tools_keys_too(window):  # noqa: F811
    rows = dict(window.shortcut_rows())
    assert rows["Save Face as happy"] == "Alt+4" and rows["Save Face Unlabelled"] == "Alt+0"
    assert rows["Open Dataset…"] == "Ctrl+R" and rows["Retrain…"] == "Ctrl+Shift+R"
    assert "Ctrl+O" in rows["Open Image…"]


def test_review_every_face_here_opens_the_faces_of_what_is_on_screen(qtbot, window, tmp_path,  # noqa: F811
                                                                    two_people_bgr, monkeypatch):
    """Review > Review Every Face Here: with a photo on screen, its folder's faces one by one
    (the model on screen scores them); with nothing open, a warning and no window."""
    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    tool = window.tools["Review"]
    opened = []
    monkeypatch.setattr(tool, "open", opened.append)  # the request; opening it is test_every_face's
    assert tool.every_face_here() is None and opened == []
    assert "Open a video, an image or a folder of images first" in window.banner.text()

    party = tmp_path / "party"
    party.mkdir()
    cv2.imwrite(str(party / "two.png"), two_people_bgr)
    window.open_image(party / "two.png")
    wait_for_faces(qtbot, window)
    tool.act_every_face.trigger()
    [request] = opened
    assert request == DatasetRequest(str(party), model=str(window.ctx.model.path), every_face=True)
