"""``fer-train export MODEL --onnx OUT``: one ONNX file that ONNX Runtime and OpenCV's dnn
module both run, matching torch on real faces within 1e-4, with its card (opset, checks)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")

from trainer.cli import main  # noqa: E402
from trainer.evaluation.predict import predict_batch  # noqa: E402
from trainer.models.card import load_model  # noqa: E402
from trainer.models.onnx_export import fix_same_padding  # noqa: E402

from test_gui_window import tiny_model  # noqa: F401,E402 - an EfficientNet-Lite0 with TF "same" padding


def test_static_padding_changes_nothing(tiny_model):  # noqa: F811
    model, card = load_model(tiny_model)
    fixed = fix_same_padding(model, card.input_size)
    assert any(type(m).__name__ == "Conv2dSame" for m in model.modules())
    assert not any(type(m).__name__ == "Conv2dSame" for m in fixed.modules())
    x = torch.randn(3, 3, card.input_size, card.input_size)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), fixed(x))


@pytest.mark.slow
def test_export_runs_in_onnxruntime_and_opencv(tiny_model, tmp_path, capsys, astronaut_bgr):  # noqa: F811
    import cv2

    face = tmp_path / "astronaut.png"
    cv2.imwrite(str(face), astronaut_bgr)
    out = tmp_path / "m.onnx"
    code = main(["export", str(tiny_model), "--onnx", str(out), "--tta-flip", "--check", str(face)])
    assert code == 0, capsys.readouterr().err
    card = json.loads(out.with_suffix(".json").read_text())
    info = card["onnx"]
    assert card["classes"] == load_model(tiny_model)[1].classes and info["opset"] == 17 and info["tta_flip"] is True
    assert info["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    runtimes = {c["runtime"].split()[0]: c for c in info["checks"]}
    assert set(runtimes) >= {"opencv"} and all(c["passed"] and c["max_abs_diff"] <= 1e-4 for c in runtimes.values())
    assert runtimes["opencv"]["faces"] == 4  # one face, mirrored, darker, brighter

    # Independently of the command's own check: ONNX Runtime against the predictor's torch path.
    ort = pytest.importorskip("onnxruntime")
    model, _ = load_model(tiny_model)
    x = torch.randn(5, 1, 64, 64)
    expected = predict_batch(model.eval(), x, tta_flip=True).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert np.abs(got - expected).max() <= 1e-4


def test_bad_options_are_one_line(tiny_model, tmp_path, capsys):  # noqa: F811
    assert main(["export", str(tiny_model), "--onnx", str(tmp_path / "m.onnx"), "--opset", "9"]) == 2
    assert "--opset 9" in capsys.readouterr().err
    assert main(["export", str(tiny_model), "--onnx", str(tmp_path / "m.bin")]) == 2
    assert "NAME.onnx" in capsys.readouterr().err
