"""The classifier's back-ends: ONNX Runtime matches PyTorch on real faces (1e-4), ``auto``
picks ONNX Runtime on a machine without a GPU, the ONNX file is made once per model and
remade when damaged, and a back-end asked for by name that cannot run says why."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import UsageError
from trainer.inference import default_model_path
from trainer.inference.backends import (BackendUnavailable, gpu_possible, onnxruntime_installed, predict_probs,
                                        resolve)
from trainer.inference.predictor import Predictor

pytestmark = pytest.mark.skipif(not onnxruntime_installed(), reason="onnxruntime is not installed")


def _real_faces(astronaut_bgr) -> list[np.ndarray]:
    """Aligned crops of two real faces (the astronaut; Grace Hopper from matplotlib), each also
    mirrored, darker and brighter: what the live view feeds the classifier."""
    import cv2
    import matplotlib

    hopper = cv2.imread(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg")
    predictor = Predictor.from_path(backend="onnx", detector="haar")
    crops = [a.crop for image in (astronaut_bgr, hopper) for a in predictor.pipeline.process(image)]
    assert len(crops) == 2
    return [v for c in crops for v in (c, c[:, ::-1].copy(), (c * 0.6).astype(np.uint8),
                                        np.clip(c * 1.3 + 10, 0, 255).astype(np.uint8))]


def test_onnx_runtime_matches_pytorch_on_real_faces(astronaut_bgr):
    faces = _real_faces(astronaut_bgr)
    onnx = Predictor.from_path(backend="onnx")
    torch_cpu = Predictor.from_path(backend="torch", device="cpu")
    assert onnx.backend_name == "onnxruntime-cpu" and torch_cpu.backend_name == "torch-cpu"
    for tta in (False, True):
        a, b = onnx.predict_crops(faces, tta_flip=tta), torch_cpu.predict_crops(faces, tta_flip=tta)
        assert np.abs(a - b).max() <= 1e-4
        assert (a.argmax(1) == b.argmax(1)).all()
    # One face at a time gives what the batch gives (the batch axis of the graph is real).
    single = np.concatenate([onnx.predict_crops([f]) for f in faces])
    assert np.abs(single - onnx.predict_crops(faces)).max() <= 1e-5
    # Embeddings too: the review's label-quality head reads them.
    batch = onnx.to_batch(faces[:3])
    (_, e_onnx), (_, e_torch) = (predict_probs(p.classifier, batch, True, embeddings=True) for p in (onnx, torch_cpu))
    assert e_onnx.shape == e_torch.shape and np.abs(e_onnx - e_torch).max() <= 1e-3 * max(1.0, np.abs(e_torch).max())


def test_auto_resolves_to_onnx_runtime_without_a_gpu_and_names_are_checked():
    if gpu_possible():
        pytest.skip("this machine has an NVIDIA driver: auto may pick CUDA")
    assert resolve("auto", "auto") == ("onnx", "cpu")
    assert resolve("auto", "cpu") == ("onnx", "cpu")
    assert resolve("torch", "auto") == ("torch", "cpu")
    with pytest.raises(UsageError, match="runs on the CPU"):
        resolve("onnx", "cuda")
    with pytest.raises(UsageError, match="unknown back-end"):
        resolve("tensorrt")


def test_onnx_file_is_made_once_and_remade_when_damaged(tmp_path, monkeypatch):
    from trainer.inference import onnx_cache

    monkeypatch.setenv("FER_DESKTOP_ONNX_CACHE", str(tmp_path / "onnx"))
    first = Predictor.from_path(backend="onnx")
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1 and first.classifier.path == files[0]
    stamp = files[0].stat().st_mtime_ns
    Predictor.from_path(backend="onnx")  # reused, not exported again
    assert files[0].stat().st_mtime_ns == stamp
    files[0].write_bytes(b"truncated by a full disk")
    again = Predictor.from_path(backend="onnx")
    assert again.classifier.path.stat().st_size > 1_000_000  # the real graph, made again
    probs = again.predict_crops([np.full((96, 96), 128, np.uint8)])
    assert probs.shape == (1, 7) and abs(float(probs.sum()) - 1) < 1e-5
    assert onnx_cache.cache_dir() == tmp_path / "onnx"


def test_missing_onnxruntime_is_said_when_asked_for_by_name(monkeypatch):
    import trainer.inference.backends as backends

    monkeypatch.setattr(backends, "onnxruntime_installed", lambda: False)
    with pytest.raises(BackendUnavailable, match="pip install onnxruntime"):
        resolve("onnx")
    assert resolve("auto", "cpu") == ("torch", "cpu")  # auto falls back to PyTorch
    assert default_model_path().is_file()
