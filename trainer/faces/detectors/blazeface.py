"""MediaPipe's BlazeFace (Bazarevsky et al. 2019), run by LiteRT (``ai-edge-litert``): a
single-shot detector that also gives 6 points (eyes, nose tip, mouth, ear tragions). No
torch, no TensorFlow: the model files ship in resources/detectors/blazeface (Apache-2.0,
see the README there) and the decoding below follows MediaPipe's graph
(mediapipe/modules/face_detection/face_detection_{short,full}_range_common.pbtxt): SSD
anchors, box and keypoint offsets scaled by the input size, a sigmoid score, and weighted
non-maximum suppression (overlapping detections averaged, weighted by score)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..types import DetectorUnavailable, Face, check_image
from .base import has_module, largest_first

INSTALL_HINT = "pip install ai-edge-litert"


@dataclass(frozen=True)
class BlazeModel:
    """One BlazeFace variant: its file and the anchor/decoder settings of its MediaPipe graph."""

    file: str
    size: int  # square input, pixels
    strides: tuple[int, ...]  # one per anchor layer; consecutive equal strides share a grid
    interpolated_anchor: bool  # a second anchor per layer (interpolated scale), as MediaPipe's default


# short: faces within ~2 m of a phone camera (the face fills a good part of the frame);
# full: faces up to ~5 m, i.e. small in the frame (MediaPipe's model cards).
MODELS = {
    "short": BlazeModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), True),
    "full": BlazeModel("face_detection_full_range.tflite", 192, (4,), False),
}
# MediaPipe's FaceKeyType order: the subject's right eye (on the image's left in an unmirrored
# photo), the subject's left eye, nose tip, mouth centre, right and left ear tragion.
RIGHT_EYE, LEFT_EYE = 0, 1
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold
SCORE_CLIP = 100.0  # MediaPipe's score_clipping_thresh


def model_dir() -> Path:
    from trainer.inference.bundled import resources_dir  # light: importlib.resources only

    return resources_dir() / "detectors" / "blazeface"


def unavailable_reason(model: str = "both") -> str | None:
    if not has_module("ai_edge_litert"):
        return f"ai-edge-litert (LiteRT, runs the BlazeFace .tflite model) is not installed: {INSTALL_HINT}"
    names = [MODELS[m].file for m in (("short", "full") if model == "both" else (model,)) if m in MODELS]
    missing = [n for n in names if not (model_dir() / n).is_file()]
    if missing:
        return (f"BlazeFace model files missing from {model_dir()}: {', '.join(missing)} "
                f"(they ship with fer-desktop; reinstall it)")
    return None


def ssd_anchors(model: BlazeModel) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the order the model's outputs use (MediaPipe's
    SsdAnchorsCalculator with fixed_anchor_size: every anchor is 1 x 1, only centres matter)."""
    centres, i = [], 0
    while i < len(model.strides):
        stride, per_cell = model.strides[i], 0
        while i < len(model.strides) and model.strides[i] == stride:
            per_cell += 2 if model.interpolated_anchor else 1
            i += 1
        n = int(np.ceil(model.size / stride))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, size: int,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's outputs -> (boxes (K, 4) as x1, y1, x2, y2; scores (K,); points (K, 6, 2)),
    in [0, 1] of the input tensor, for the anchors scoring at least ``min_score``."""
    raw_scores = np.clip(raw_scores.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-raw_scores))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes.reshape(-1, raw_boxes.shape[-1])[keep] / size
    centre = anchors[keep]
    cx, cy = raw[:, 0] + centre[:, 0], raw[:, 1] + centre[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    points = raw[:, 4:16].reshape(-1, 6, 2) + centre[:, None, :]
    return boxes, scores[keep], points


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray,
                 iou: float = NMS_IOU) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's WEIGHTED suppression: take the best remaining detection and every one
    overlapping it by more than ``iou``; report their score-weighted mean box and points with
    the best one's score; repeat on the rest. Smoother boxes than plain NMS."""
    out = []
    order = np.argsort(-scores, kind="stable")
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    while order.size:
        best = order[0]
        iw = np.clip(np.minimum(boxes[best, 2], boxes[order, 2]) - np.maximum(boxes[best, 0], boxes[order, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[best, 3], boxes[order, 3]) - np.maximum(boxes[best, 1], boxes[order, 1]), 0, None)
        inter = iw * ih
        overlap = inter / np.maximum(area[best] + area[order] - inter, 1e-12)
        group = order[overlap > iou]
        if group.size == 0:  # a degenerate (empty) box overlaps nothing, not even itself
            group = order[:1]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        pts = (points[group] * weights[:, :, None]).sum(0) / weights.sum()
        out.append((box, float(scores[best]), pts))
        order = order[~np.isin(order, group)]
    return out


class BlazeFaceDetector:
    """BlazeFace on LiteRT's CPU interpreter (XNNPACK).

    ``model``: ``"short"`` (128x128 input: faces from about 1/8 of the image's longer side
    up, the webcam and the padded-crop case), ``"full"`` (192x192: from about 1/13, but it
    misses many faces that fill the frame) or ``"both"`` (both run; a face found by both gets
    their score-weighted mean box and points, which are nearer the true eyes than either). The image is letterboxed into the model's square
    input (black border, aspect kept), as MediaPipe does, so there is one scale per image:
    faces much smaller than the model's smallest anchor are not found.
    ``min_score``: the sigmoid score needed, for both models: 0.5, MediaPipe's Python default
    (``min_detection_confidence``; its full-range graph alone says 0.6, which finds 71% of the
    bordered SFEW crops instead of 89%, and 4.4 instead of 6.4 of 8 small faces in a frame,
    with no false positive either way).
    ``num_threads``: LiteRT's threads for one call.

    One LiteRT interpreter per instance: an interpreter is not thread-safe, so calls on one
    instance are serialised by a lock; give each thread its own detector to run in parallel.
    Scores are the model's face probability (0 to 1). ``landmarks`` holds the 6 points.
    """

    name = "blazeface"

    def __init__(self, *, model: str = "both", min_score: float = 0.5, num_threads: int = 1,
                 max_faces: int | None = None) -> None:
        if model not in (*MODELS, "both"):
            raise ValueError(f"blazeface model {model!r}; choose short, full or both")
        reason = unavailable_reason(model)
        if reason:
            raise DetectorUnavailable(reason)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise DetectorUnavailable(f"the blazeface back-end cannot import ai_edge_litert ({exc}): {INSTALL_HINT}") from None
        self.model = model
        self.min_score = float(min_score)
        self.num_threads = max(1, int(num_threads))
        self.max_faces = max_faces
        self._lock = threading.Lock()
        with _litert_banner_dropped():
            self._runners = [_Runner(Interpreter, MODELS[m], self.num_threads)
                             for m in (("short", "full") if model == "both" else (model,))]

    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        found = []
        with self._lock:
            for runner in self._runners:
                found += runner.detect(image, self.min_score)
        if len(self._runners) > 1 and len(found) > 1:
            # A face both models found becomes their score-weighted mean, as within one model:
            # on SFEW Val the mean's eyes are nearer dlib's (0.065 e2e) than either model's
            # (short 0.071, full 0.077).
            found = weighted_nms(np.array([b for b, _, _ in found]), np.array([s for _, s, _ in found]),
                                 np.array([p for _, _, p in found]))
        h, w = image.shape[:2]
        faces = []
        for box, score, p in found:
            x1, x2 = np.clip(box[[0, 2]], 0, w)
            y1, y2 = np.clip(box[[1, 3]], 0, h)
            if x2 - x1 < 1 or y2 - y1 < 1:  # outside the image (in the letterbox border)
                continue
            faces.append(Face((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), score,
                              (float(p[RIGHT_EYE, 0]), float(p[RIGHT_EYE, 1])),
                              (float(p[LEFT_EYE, 0]), float(p[LEFT_EYE, 1])), p, None, "landmarks"))
        faces = largest_first(faces)
        return faces[: self.max_faces] if self.max_faces else faces


@contextlib.contextmanager
def _litert_banner_dropped():
    """LiteRT's C++ side prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on
    the process's stderr when the first interpreter is made (no setting turns it off), a
    stray line in ``fer-desktop predict``'s output. Meanwhile file descriptor 2 goes to a
    temporary file, and everything else written there is passed on afterwards."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else -1
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd < 0:
        yield
        return
    sys.__stderr__.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.__stderr__.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
            rest = "".join(line for line in lines if "XNNPACK delegate for CPU" not in line)
            if rest:
                sys.__stderr__.write(rest)
                sys.__stderr__.flush()


class _Runner:
    """One model file in one interpreter: letterbox, invoke, decode, suppress, map back."""

    def __init__(self, interpreter_cls, spec: BlazeModel, num_threads: int) -> None:
        self.spec = spec
        self.anchors = ssd_anchors(spec)
        self.interpreter = interpreter_cls(model_path=str(model_dir() / spec.file), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        if tuple(inp["shape"]) != (1, spec.size, spec.size, 3):
            raise DetectorUnavailable(f"{spec.file}: unexpected input shape {tuple(inp['shape'])}")
        self.input_index = inp["index"]
        # Two outputs: (1, N, 16) boxes + points and (1, N, 1) scores; told apart by shape.
        outs = {int(o["shape"][-1]): o["index"] for o in self.interpreter.get_output_details()}
        if set(outs) != {16, 1}:
            raise DetectorUnavailable(f"{spec.file}: unexpected outputs, not a BlazeFace model")
        self.box_index, self.score_index = outs[16], outs[1]
        if len(self.anchors) != int(self.interpreter.get_output_details()[0]["shape"][1]):
            raise DetectorUnavailable(f"{spec.file}: anchor count does not match the model")
        self._tensor = np.zeros((1, spec.size, spec.size, 3), np.float32)

    def detect(self, image: np.ndarray, min_score: float) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """(box x1, y1, x2, y2; score; the 6 points) per face, in the image's pixels."""
        size = self.spec.size
        h, w = image.shape[:2]
        scale = size / max(h, w)
        nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB if small.ndim == 2 else cv2.COLOR_BGR2RGB)
        px, py = (size - nw) // 2, (size - nh) // 2
        # Letterbox: black border, pixel values to [-1, 1] (black -> -1, as MediaPipe's).
        self._tensor.fill(-1.0)
        self._tensor[0, py:py + nh, px:px + nw] = rgb.astype(np.float32) * (2.0 / 255.0) - 1.0
        self.interpreter.set_tensor(self.input_index, self._tensor)
        self.interpreter.invoke()
        boxes, scores, points = decode(self.interpreter.get_tensor(self.box_index),
                                       self.interpreter.get_tensor(self.score_index), self.anchors, size, min_score)
        # Tensor [0, 1] -> image pixels: box edges are continuous coordinates, points pixel
        # centres (the -0.5); each axis by its own resize factor. Boxes as x1, y1, x2, y2.
        fx, fy = w / nw, h / nh
        out = []
        for box, score, pts in weighted_nms(boxes, scores, points):
            b = np.empty(4)
            b[[0, 2]] = (box[[0, 2]] * size - px) * fx
            b[[1, 3]] = (box[[1, 3]] * size - py) * fy
            p = np.empty(pts.shape)
            p[:, 0] = (pts[:, 0] * size - px) * fx - 0.5
            p[:, 1] = (pts[:, 1] * size - py) * fy - 0.5
            out.append((b, score, p))
        return out
