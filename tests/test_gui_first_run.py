"""What a new user meets in the window first: the picture at once (the model follows), Ctrl+Q,
a readable model card, About with a version, face crops that are never cut off, and face
numbers that start at 1 on every image."""

from __future__ import annotations

import os
import time

import cv2
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from fer_desktop._qt.main_window import MainWindow  # noqa: E402

from test_gui_window import WAIT_MS, astronaut_png, astronaut_video, settings, tiny_model  # noqa: F401,E402

MODEL_DELAY_S = 3.0  # an artificially slow model load: long enough to see what happens meanwhile


@pytest.fixture(scope="session")
def two_faces_png(astronaut_bgr, two_people_bgr, tmp_path_factory):
    """Two real people side by side (conftest's two_people_bgr), then the astronaut alone."""
    folder = tmp_path_factory.mktemp("two")
    path = folder / "two_faces.png"
    cv2.imwrite(str(path), two_people_bgr)
    cv2.imwrite(str(folder / "zz_one_face.png"), astronaut_bgr)  # the next file in the folder
    return path


@pytest.fixture
def slow_model(monkeypatch):
    """The engine loads MODEL_DELAY_S later than it would (as the bundled model on a slow disk)."""
    import fer_desktop.engine as engine

    real = engine.load_engine

    def slow(*args, **kwargs):
        time.sleep(MODEL_DELAY_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "load_engine", slow)


def _window(qtbot, settings, model, size=(1100, 700)) -> MainWindow:  # noqa: F811
    win = MainWindow(settings, model_path=model)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    return win


@pytest.mark.parametrize("kind", ["image", "video"])
def test_the_frame_shows_before_the_model_and_latency_excludes_loading(qtbot, settings, tiny_model, slow_model,  # noqa: F811
                                                                       astronaut_png, astronaut_video, kind):  # noqa: F811
    win = _window(qtbot, settings, tiny_model)
    started = time.perf_counter()
    win.open_image(astronaut_png) if kind == "image" else win.open_video(astronaut_video)
    qtbot.waitUntil(lambda: win.ctx.result is not None, timeout=WAIT_MS)
    first = win.ctx.result
    assert time.perf_counter() - started < MODEL_DELAY_S, "the frame waited for the model"
    assert first.model_name is None and first.model_loading and first.faces == []
    assert win.frame_view.has_image()
    assert "Loading the model" in win.panels["crops"].empty.text()
    assert win.latency_label.text() in ("not processed yet", "latency —")
    # The same frame again once the model is there (nothing else was asked for), with faces.
    qtbot.waitUntil(lambda: win.ctx.result.model_name == "tiny-test" and bool(win.ctx.result.faces),
                    timeout=WAIT_MS)
    result = win.ctx.result
    assert result.packet.index == first.packet.index and result.packet.kind == kind
    assert result.latency_ms < MODEL_DELAY_S * 1000, "the wait for the model counted as latency"
    assert "latency" not in win.latency_label.text() or f"{result.latency_ms:.0f} ms" in win.latency_label.text()
    win.close()


def test_a_model_that_fails_after_the_frame_leaves_no_loading_message(qtbot, settings, slow_model, tmp_path,  # noqa: F811
                                                                     astronaut_png):  # noqa: F811
    """The frame is shown while the model loads; when the load fails, the panels say there is
    no model instead of "loading" for ever."""
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model")
    win = _window(qtbot, settings, str(broken))
    win.open_image(astronaut_png)
    qtbot.waitUntil(lambda: win.ctx.result is not None, timeout=WAIT_MS)
    assert win.ctx.result.model_loading and "Loading the model" in win.panels["crops"].empty.text()
    qtbot.waitUntil(lambda: not win.ctx.result.model_loading, timeout=WAIT_MS)
    assert win.ctx.model is None and win.ctx.result.model_name is None
    assert "No model loaded" in win.panels["crops"].empty.text()
    assert "No model loaded" in win.banner.text()
    win.close()


def test_ctrl_q_is_bound_once_and_quits(qtbot, settings, tiny_model):  # noqa: F811
    win = _window(qtbot, settings, tiny_model)
    assert [k.toString() for k in win.act_quit.shortcuts()] == ["Ctrl+Q"]
    bound = [k.toString() for a in win.actions() for k in a.shortcuts()]
    assert len(bound) == len(set(bound)), f"a key bound twice: {sorted(bound)}"
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    qtbot.keySequence(win, QKeySequence("Ctrl+Q"))
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=5000)


def test_model_card_is_a_table_of_percentages(qtbot, settings):  # noqa: F811
    """The bundled model's card: every recorded measurement is a row, named by its data."""
    from fer_desktop._qt.model_dialog import ModelCardDialog
    from fer_desktop.results import ModelInfo
    from trainer.inference import default_model_path
    from trainer.models.card import read_card

    card = read_card(default_model_path())
    dialog = ModelCardDialog(ModelInfo(card.name, default_model_path(), "CPU", list(card.classes), card))
    qtbot.addWidget(dialog)
    dialog.show()
    table = dialog.metrics
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert set(rows) == set(card.metrics)
    sfew = card.metrics["sfew2/Val"]
    assert rows["sfew2/Val"][1] == str(sfew["n"]) and rows["sfew2/Val"][2] == f"{100 * sfew['accuracy']:.1f}%"
    header = [table.horizontalHeaderItem(c).text().replace("\n", " ") for c in range(table.columnCount())]
    assert header[:4] == ["Measured on", "Images", "Accuracy", "Macro F1"] and "happy recall" in header
    assert table.item(0, 2).toolTip().startswith("Measured with: fer-train evaluate")
    assert all(t.endswith("%") for row in rows.values() for t in row[2:])
    texts = [w.text() for w in dialog.training.findChildren(QLabel)]
    replay = card.training["data"]["replay"]
    assert any("sfew2/Train (864 images)" in t for t in texts)
    assert any(f"{replay['name']} ({replay['samples']:,} images)" in t for t in texts)  # in words, not a dict
    dialog.close()


def test_about_names_the_version(qtbot, settings, tiny_model):  # noqa: F811
    from fer_desktop._qt.about import app_version

    win = _window(qtbot, settings, tiny_model)
    qtbot.waitUntil(lambda: win.ctx.model is not None, timeout=WAIT_MS)
    win._about()
    text = win.about_box.text()
    assert f"fer-desktop {app_version()}" in text and "tiny-test" in text and "Apache-2.0" in text
    win.about_box.close()
    win.close()


@pytest.mark.parametrize("width", [800, 1100, 1400])
def test_crops_are_never_cut_off_and_faces_count_from_one(qtbot, settings, tiny_model, two_faces_png, width):  # noqa: F811
    win = _window(qtbot, settings, tiny_model, (width, 700))
    qtbot.waitUntil(lambda: win.ctx.model is not None, timeout=WAIT_MS)
    win.open_image(two_faces_png)
    qtbot.waitUntil(lambda: win.ctx.result is not None and len(win.ctx.result.faces) == 2, timeout=WAIT_MS)
    assert sorted(f.track_id for f in win.ctx.result.faces) == [1, 2]
    panel = win.panels["crops"]
    qtbot.waitUntil(lambda: all(t.isVisible() for t in panel.tiles[:2]), timeout=5000)
    viewport = panel.viewport().width()
    for tile in panel.tiles[:2]:
        right = tile.mapTo(panel.widget(), tile.rect().topRight()).x()
        assert right < viewport, f"tile cut off at {width} px: right edge {right} >= {viewport}"
    assert not panel.horizontalScrollBar().isVisible()
    assert "two_faces.png" in win.fps_label.text() and win.windowTitle().startswith("two_faces.png")
    win.next_item()  # the one-face image next to it: its face is face 1 again
    qtbot.waitUntil(lambda: win.ctx.result.packet.path.name == "zz_one_face.png" and bool(win.ctx.result.faces),
                    timeout=WAIT_MS)
    assert [f.track_id for f in win.ctx.result.faces] == [1]
    win.close()


def test_smoothing_is_one_control_not_two(qtbot, settings, tiny_model):  # noqa: F811
    win = _window(qtbot, settings, tiny_model)
    assert win.act_smooth not in win.toolbar.actions()
    assert win.panels["probabilities"].smooth_box.isVisible()
    win.close()


@pytest.mark.slow
def test_a_bare_path_opens_it_and_the_screenshot_says_when(tiny_model, astronaut_png, tmp_path):  # noqa: F811
    """What a file manager runs (Exec=fer-desktop %f): the path alone opens it."""
    import subprocess
    import sys

    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FER_DESKTOP_SETTINGS=str(tmp_path / "s.ini"))
    proc = subprocess.run([sys.executable, "-m", "fer_desktop", str(astronaut_png), "--model", str(tiny_model),
                           "--screenshot", str(out)], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if "screenshot saved" in x)
    assert "window after" in line and "first frame after" in line and "result after" in line, proc.stderr
    assert cv2.imread(str(out)) is not None
