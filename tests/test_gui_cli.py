"""The scripted entry points: ``fer-desktop predict --json`` (no Qt) and the headless
``--open IMAGE --screenshot OUT --quit-after-ms N``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import cv2
import pytest

from fer_desktop.cli_predict import main as predict_main
from trainer.classes import BASIC_CLASSES

from test_gui_window import astronaut_png, tiny_model  # noqa: F401 - shared fixtures


def test_predict_json(tiny_model, astronaut_png, tmp_path, capsys):  # noqa: F811
    missing = tmp_path / "missing.png"
    code = predict_main([str(astronaut_png), str(missing), "--json", "--model", str(tiny_model)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # one image could not be read
    assert out["model"] == "tiny-test" and out["classes"] == list(BASIC_CLASSES)
    first, second = out["images"]
    assert first["error"] is None and len(first["faces"]) == 1
    assert sum(first["faces"][0]["probs"].values()) == pytest.approx(1.0, abs=1e-3)
    assert first["faces"][0]["label"] in BASIC_CLASSES
    assert second["error"] and second["faces"] == []


def test_predict_bad_model_is_one_line(tmp_path, astronaut_png, capsys):  # noqa: F811
    code = predict_main([str(astronaut_png), "--model", str(tmp_path / "nope.safetensors")])
    assert code == 2 and "model not found" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_does_not_import_qt(tiny_model, astronaut_png):  # noqa: F811
    code = ("import sys; from fer_desktop.__main__ import main; "
            f"rc = main(['predict', {str(astronaut_png)!r}, '--json', '--model', {str(tiny_model)!r}]); "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"][0]["faces"]


@pytest.mark.slow
def test_headless_screenshot(tiny_model, astronaut_png, tmp_path):  # noqa: F811
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FER_DESKTOP_SETTINGS=str(tmp_path / "s.ini"))
    proc = subprocess.run(
        [sys.executable, "-m", "fer_desktop", "--open", str(astronaut_png), "--model", str(tiny_model),
         "--screenshot", str(out), "--quit-after-ms", "60000", "--size", "1000x700"],
        capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] >= 700
