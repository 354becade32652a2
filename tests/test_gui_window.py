"""The main window under QT_QPA_PLATFORM=offscreen: images, videos, a missing camera, a bad
model, snapshots, CSV export, settings. A tiny random-weights model keeps them independent
of the bundled one (its probabilities mean nothing, but they are real probabilities)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPointF, QSettings, Qt  # noqa: E402

from fer_desktop._qt.main_window import MainWindow  # noqa: E402
from trainer.classes import BASIC_CLASSES  # noqa: E402

WAIT_MS = 30000  # first detector load + torch warm-up on a busy 2-core machine


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model

    model, _ = create_model("efficientnet-lite0", len(BASIC_CLASSES), pretrained=False)
    card = ModelCard(name="tiny-test", backbone="efficientnet-lite0", classes=list(BASIC_CLASSES), input_size=64,
                     mean=[0.5], std=[0.5], preprocessing={"faces": "align"},
                     training={"datasets": ["none: random weights for tests"]}, metrics={"test_accuracy": 0.25})
    weights, _ = save_model(model, card, tmp_path_factory.mktemp("model") / "tiny")
    return weights


@pytest.fixture(scope="session")
def astronaut_png(astronaut_bgr, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr)
    return path


@pytest.fixture(scope="session")
def astronaut_video(astronaut_bgr, tmp_path_factory) -> Path:
    """20 frames, 320x240 MJPG: the astronaut's head and shoulders sliding right."""
    path = tmp_path_factory.mktemp("vid") / "moving.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (320, 240))
    assert writer.isOpened()
    head = cv2.resize(astronaut_bgr[0:300, 80:380], (180, 180))
    for i in range(20):
        frame = np.full((240, 320, 3), 90, np.uint8)
        x = 10 + 5 * i
        frame[30:210, x:x + 180] = head
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, tiny_model):
    win = MainWindow(settings, model_path=tiny_model)
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    qtbot.waitUntil(lambda: win.ctx.model is not None, timeout=WAIT_MS)
    yield win
    win.close()


def wait_for_faces(qtbot, win: MainWindow, kind: str = "image"):
    qtbot.waitUntil(lambda: win.ctx.result is not None and win.ctx.result.packet.kind == kind
                    and bool(win.ctx.result.faces), timeout=WAIT_MS)
    return win.ctx.result


def test_opening_a_face_photo_fills_the_bars(qtbot, window, astronaut_png):
    window.open_image(astronaut_png)
    result = wait_for_faces(qtbot, window)
    face = result.faces[0]
    assert np.isclose(face.probs.sum(), 1.0, atol=1e-4)
    x, y, w, h = face.face.box
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200  # her face, not the flag
    bars = window.panels["probabilities"]
    assert np.isclose(bars.values.sum(), 1.0, atol=1e-4)
    label = BASIC_CLASSES[int(np.argmax(face.probs))]
    assert label in bars.title.text() and f"#{face.track_id}" in bars.title.text()
    crops = window.panels["crops"]
    assert crops.tiles[0].isVisible() and label in crops.tiles[0].caption.text()
    assert window.frame_view.has_image()
    assert window.model_label.text() == "model: tiny-test"
    assert window.device_label.text().startswith(("ONNX Runtime", "PyTorch"))


def test_click_selects_a_face(qtbot, window, astronaut_png):
    window.open_image(astronaut_png)
    face = wait_for_faces(qtbot, window).faces[0]
    window.ctx.select(None)
    x, y, w, h = face.face.box
    pos = window.frame_view.widget_point_of(x + w / 2, y + h / 2)
    qtbot.mouseClick(window.frame_view, Qt.MouseButton.LeftButton, pos=pos.toPoint())
    assert window.ctx.selected_id == face.track_id
    assert window.frame_view.face_at(QPointF(1, 1)) is None


def test_video_plays_through_its_frames(qtbot, window, astronaut_video):
    shown: list[int] = []
    window.ctx.resultShown.connect(lambda r: shown.append(r.packet.index))
    window.open_video(astronaut_video)
    wait_for_faces(qtbot, window, "video")  # the first frame, paused
    assert window.transport.slider.maximum() == 19
    with qtbot.waitSignal(window.capture.playingChanged, timeout=5000):
        window.toggle_play()
    qtbot.waitUntil(lambda: window.transport.slider.value() == 19 and not window.capture.playing, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: shown and shown[-1] == 19, timeout=WAIT_MS)
    assert shown == sorted(shown)  # newest-frame-wins may skip frames, never reorder them
    assert len(set(shown)) >= 3
    assert window.ctx.result.faces, "the moving face is followed to the last frame"
    window.next_item()  # at the end: stays
    window.prev_item()
    qtbot.waitUntil(lambda: window.ctx.result.packet.index == 18, timeout=WAIT_MS)
    window.transport.seekRequested.emit(5)  # what dragging the slider does
    qtbot.waitUntil(lambda: window.ctx.result.packet.index == 5 and bool(window.ctx.result.faces), timeout=WAIT_MS)
    assert window.transport.label.text() == "frame 6 / 20"


def test_missing_camera_shows_a_message_and_the_app_goes_on(qtbot, window, astronaut_png):
    window.open_camera(99)
    qtbot.waitUntil(lambda: "camera" in window.banner.text().lower(), timeout=WAIT_MS)
    assert window.banner.level == "error" and "99" in window.banner.text()
    window.open_image(astronaut_png)  # still usable
    wait_for_faces(qtbot, window)
    assert not window.banner.isVisible()  # the stale camera error went with the new source


def test_camera_unplugged_mid_stream(qtbot, window, monkeypatch, astronaut_bgr):
    """A camera that delivers a few frames and then nothing: a message, no exception."""
    import fer_desktop.sources as sources

    class FlakyCapture:
        def __init__(self, *_a) -> None:
            self.reads = 0

        def isOpened(self) -> bool:
            return True

        def set(self, *_a) -> bool:
            return True

        def get(self, _prop) -> float:
            return 640.0

        def read(self):
            time.sleep(0.03)  # a camera delivers at its frame rate
            self.reads += 1
            # Frames flow until one has been shown (model loading takes a while on a busy
            # machine; 15 s at most), then the camera is gone.
            if window.ctx.result is None and self.reads < 500:
                return True, cv2.resize(astronaut_bgr, (640, 480))
            return False, None

        def release(self) -> None:
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", FlakyCapture)
    window.open_camera(0)
    # The capture thread sends "failed" and "closed" one after the other; a busy machine may
    # show the first before the second has been sent.
    qtbot.waitUntil(lambda: "unplugged" in window.banner.text() and window.source_kind == "none",
                    timeout=WAIT_MS)
    assert window.ctx.result is not None and window.ctx.result.packet.kind == "camera"


def test_unreadable_image_shows_a_message(qtbot, window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    window.open_image(bad)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    assert "broken.png" in window.banner.text()


def test_invalid_model_keeps_the_previous_one(qtbot, window, tmp_path, astronaut_png):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    (tmp_path / "bad.json").write_text('{"name": "bad", "backbone": "efficientnet-lite0"}')
    with qtbot.waitSignal(window.inference.modelFailed, timeout=WAIT_MS):
        window.load_model(str(bad))
    qtbot.waitUntil(lambda: "Still using tiny-test" in window.banner.text(), timeout=5000)
    assert window.ctx.model.name == "tiny-test"
    assert window.model_label.text() == "model: tiny-test"
    window.open_image(astronaut_png)
    assert wait_for_faces(qtbot, window).model_name == "tiny-test"


def test_model_card_dialog(qtbot, window):
    window.show_model_card()
    dialog = window.card_dialog
    assert dialog.windowTitle() == "Model card: tiny-test"
    assert dialog.metrics.item(0, 0).text() == "test_accuracy" and dialog.metrics.item(0, 2).text() == "25.0%"
    dialog.close()


def test_snapshot_writes_png_and_json(qtbot, window, astronaut_png, tmp_path):
    window.open_image(astronaut_png)
    result = wait_for_faces(qtbot, window)
    png, js = window.save_snapshot(tmp_path / "snap.png")
    img = cv2.imread(str(png))
    assert img.shape == (512, 512, 3)
    data = json.loads(js.read_text())
    assert data["classes"] == list(BASIC_CLASSES) and data["model"] == "tiny-test"
    assert len(data["faces"]) == len(result.faces)
    assert sum(data["faces"][0]["probs"].values()) == pytest.approx(1.0, abs=1e-4)
    # The box is drawn in: pixels on its edge differ from the original picture.
    x, y, w, h = (int(v) for v in data["faces"][0]["box"])
    original = cv2.imread(str(astronaut_png))
    assert np.abs(img[y + h // 2, x].astype(int) - original[y + h // 2, x].astype(int)).sum() > 30


def test_csv_export_of_a_video(qtbot, window, astronaut_video, tmp_path):
    out = tmp_path / "probs.csv"
    with qtbot.waitSignal(window.exportFinished, timeout=60000) as blocker:
        window.export_csv(out, video=astronaut_video)
    assert blocker.args[0] == str(out)
    rows = list(csv.DictReader(out.open()))
    assert sorted({int(r["frame"]) for r in rows}) == list(range(20))
    with_face = [r for r in rows if r["track_id"]]
    assert len(with_face) >= 18
    p = np.array([[float(r[f"p_{c}"]) for c in BASIC_CLASSES] for r in with_face])
    assert np.allclose(p.sum(1), 1.0, atol=1e-3)
    qtbot.waitUntil(lambda: not window.jobs_indicator.isVisible(), timeout=5000)


def test_annotated_video_export(qtbot, window, astronaut_video, tmp_path):
    """File > Export Annotated Video: every frame, at the source's size and rate, with the face's
    box and label drawn in (strong changes near the head only; the grey right side untouched)."""
    out = tmp_path / "demo.mp4"
    with qtbot.waitSignal(window.exportFinished, timeout=60000) as blocker:
        window.export_annotated_video(out, video=astronaut_video)
    assert blocker.args == [str(out), 20]
    exported, source = cv2.VideoCapture(str(out)), cv2.VideoCapture(str(astronaut_video))
    assert exported.get(cv2.CAP_PROP_FPS) == pytest.approx(20.0)
    frames = 0
    while True:
        ok, drawn = exported.read()
        ok_source, original = source.read()
        if not ok:
            break
        assert ok_source and drawn.shape == original.shape == (240, 320, 3)
        if frames == 0:  # the head spans x 10-190 in the first frame
            changed = np.abs(drawn.astype(int) - original.astype(int)).sum(axis=2) > 90
            assert changed.sum() > 300 and not changed[:, 230:].any()
        frames += 1
    assert frames == 20
    qtbot.waitUntil(lambda: not window.jobs_indicator.isVisible(), timeout=5000)


def test_settings_remember_layout_and_choices(qtbot, settings, tiny_model):
    win = MainWindow(settings, model_path=tiny_model)
    qtbot.addWidget(win)
    win.show()
    win.resize(760, 560)  # the offscreen screen is 800x600: a restored window is kept inside it
    size = win.size()
    win.camera_index.setValue(3)
    win.ctx.set_smoothing(False)
    win.docks["crops"].hide()
    win.close()
    win2 = MainWindow(settings, model_path=tiny_model)
    qtbot.addWidget(win2)
    win2.show()
    assert win2.camera_index.value() == 3
    assert win2.ctx.smoothing is False and not win2.act_smooth.isChecked()
    assert win2.size() == size
    assert not win2.docks["crops"].isVisible() and win2.docks["probabilities"].isVisible()
    win2.close()


def test_shortcuts_exist(window):
    keys = {a.text().replace("&", ""): [k.toString() for k in a.shortcuts()] for a in window.actions()}
    assert "Ctrl+O" in keys["Open Image…"] and "Ctrl+S" in keys["Save Snapshot…"]
    assert "Space" in keys["Play / Pause"] and "PgDown" in keys["Next"] and "PgUp" in keys["Previous"]
    assert "Ctrl+Q" in keys["Quit"]


def test_folder_next_and_previous(qtbot, window, astronaut_png, astronaut_bgr, tmp_path):
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), astronaut_bgr)
    window.open_folder(tmp_path)
    qtbot.waitUntil(lambda: window.ctx.result is not None and window.ctx.result.packet.path == tmp_path / "a.png",
                    timeout=WAIT_MS)
    window.activateWindow()
    qtbot.keyClick(window.frame_view, Qt.Key.Key_PageDown)  # the shortcut, as a user presses it
    qtbot.waitUntil(lambda: window.ctx.result.packet.path == tmp_path / "b.png", timeout=WAIT_MS)
    assert window.transport.label.text() == "image 2 / 2"
    qtbot.keyClick(window.frame_view, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: window.ctx.result.packet.path == tmp_path / "a.png", timeout=WAIT_MS)


def test_dropping_a_file_opens_it(qtbot, window, astronaut_png):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(astronaut_png))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert wait_for_faces(qtbot, window).packet.path == astronaut_png


def test_a_tool_panel_plugs_in(qtbot, settings, tiny_model, astronaut_png):
    """Later features (confusion browser, relabeling, retraining) are PanelSpecs: a panel gets
    the app's context and, through it, every result the window shows."""
    from PySide6.QtWidgets import QLabel

    from fer_desktop._qt.panels import PanelSpec, default_panels

    seen = []

    def confusion_browser(ctx):
        ctx.resultShown.connect(seen.append)
        return QLabel("confusion examples")

    win = MainWindow(settings, model_path=tiny_model,
                     panels=default_panels() + [PanelSpec("confusion", "Confusion examples", confusion_browser,
                                                          menu="Tools")])
    qtbot.addWidget(win)
    assert win.menus["Tools"].menuAction().isVisible()
    assert [a.text() for a in win.menus["Tools"].actions()] == ["Confusion examples"]
    assert win.docks["confusion"].widget().text() == "confusion examples"
    win.open_image(astronaut_png)
    qtbot.waitUntil(lambda: any(r.faces for r in seen), timeout=WAIT_MS)
    assert [len(r.faces) for r in seen if r.faces][-1] == 1  # the astronaut, as the window shows her
    win.close()


def test_the_window_module_does_not_import_torch():
    """The window shows before torch loads: the engine is imported in the inference thread."""
    import subprocess
    import sys

    code = ("import sys, fer_desktop.app, fer_desktop._qt.main_window; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_no_model_still_shows_frames(qtbot, settings, tmp_path, astronaut_png):
    win = MainWindow(settings, model_path=tmp_path / "missing.safetensors")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "No model loaded" in win.banner.text(), timeout=WAIT_MS)
    win.open_image(astronaut_png)
    qtbot.waitUntil(lambda: win.ctx.result is not None, timeout=WAIT_MS)
    assert win.ctx.result.faces == [] and win.frame_view.has_image()
    win.close()
