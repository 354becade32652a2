"""Synthetic camera frames with N real faces, for the live-view benchmarks.

Real faces cut from public-domain photos (scikit-image's astronaut Eileen Collins,
matplotlib's Grace Hopper) and, when ``../shared/data/sfew2`` is there, SFEW 2.0 Val faces,
pasted on a static background in a grid and moving gently (each on its own small ellipse),
so that tracking has work to do and the detector finds every face. The motion is periodic:
a stream is a loop of ``period_s * fps`` distinct frames.

    stream = FaceStream(face_patches(), n_faces=8, fps=60)
    frames = stream.frames()          # the loop, (480, 640, 3) uint8 BGR each
    boxes = stream.patch_boxes(0)     # where the pasted patches are in frame 0
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

FRAME_W, FRAME_H = 640, 480
# MTCNN's boxes on the two built-in photos (trainer.faces mtcnn detector, score 1.0), so
# that the patches are cut around the face with the same context for both.
ASTRONAUT_FACE = (180, 62, 90, 112)
HOPPER_FACE = (176, 114, 180, 224)
# A patch is the face box grown by these factors (hair, chin, a bit of background):
# detectors need context around a face.
CONTEXT_W, CONTEXT_H = 1.9, 1.6


def cut_face(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The face in ``box`` with context around it (edge pixels repeated where the image ends)."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    pw, ph = int(round(w * CONTEXT_W)), int(round(h * CONTEXT_H))
    x0, y0 = int(round(cx - pw / 2)), int(round(cy - ph / 2))
    pad = max(0, -x0, -y0, x0 + pw - image.shape[1], y0 + ph - image.shape[0])
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    return np.ascontiguousarray(padded[y0 + pad:y0 + pad + ph, x0 + pad:x0 + pad + pw])


def builtin_faces() -> list[np.ndarray]:
    """Eileen Collins and Grace Hopper (public domain; they ship with scikit-image and
    matplotlib), BGR patches."""
    import matplotlib
    from skimage import data

    astronaut = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    if hopper is None:
        raise FileNotFoundError("matplotlib's sample_data/grace_hopper.jpg is missing")
    return [cut_face(astronaut, ASTRONAUT_FACE), cut_face(hopper, HOPPER_FACE)]


def sfew_faces(root: Path, count: int, accept: Callable[[np.ndarray], bool]) -> list[np.ndarray]:
    """Up to ``count`` SFEW 2.0 Val face crops (one per class in turn, in file-name order)
    that ``accept`` (e.g. "the detector finds one face in it") takes. SFEW's crops are tight,
    so each gets a border of its own edge pixels for context."""
    val = root / "Val"
    if not val.is_dir():
        return []
    per_class = [sorted(p for p in d.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
                 for d in sorted(val.iterdir()) if d.is_dir()]
    out: list[np.ndarray] = []
    for row in range(max((len(c) for c in per_class), default=0)):
        for files in per_class:
            if len(out) >= count:
                return out
            if row >= len(files):
                continue
            image = cv2.imread(str(files[row]))
            if image is None or image.std() < 10:  # SFEW holds a few all-black images
                continue
            h, w = image.shape[:2]
            patch = cut_face(image, (0, 0, w, h))
            if accept(patch):
                out.append(patch)
    return out


def face_patches(shared_data: Path | None = None, detector: Any = None, sfew: int = 6) -> list[np.ndarray]:
    """The built-in faces, then (with ``shared_data`` holding sfew2 and a ``detector``) SFEW
    faces the detector finds alone on a grey background."""
    patches = builtin_faces()
    if shared_data is not None and detector is not None and (shared_data / "sfew2").is_dir():
        def one_face(patch: np.ndarray) -> bool:
            canvas = np.full((FRAME_H, FRAME_W, 3), 110, np.uint8)
            scaled = fit(patch, 200, 220)
            y, x = (FRAME_H - scaled.shape[0]) // 2, (FRAME_W - scaled.shape[1]) // 2
            canvas[y:y + scaled.shape[0], x:x + scaled.shape[1]] = scaled
            faces = detector.detect(canvas)
            return len(faces) == 1 and faces[0].score >= 0.95
        patches += sfew_faces(shared_data / "sfew2", sfew, one_face)
    return patches


def fit(patch: np.ndarray, max_w: float, max_h: float) -> np.ndarray:
    """``patch`` scaled to fit in max_w x max_h, aspect kept."""
    s = min(max_w / patch.shape[1], max_h / patch.shape[0])
    size = (max(1, int(round(patch.shape[1] * s))), max(1, int(round(patch.shape[0] * s))))
    return cv2.resize(patch, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def grid(n: int) -> tuple[int, int]:
    """(columns, rows) for n faces in a 4:3 frame: 1 -> 1x1, 4 -> 2x2, 8 -> 4x2."""
    if n <= 0:
        raise ValueError(f"n_faces must be positive, not {n}")
    rows = max(1, round(math.sqrt(n * 3 / 4)))  # cells about as wide as high in 4:3
    cols = math.ceil(n / rows)
    return cols, math.ceil(n / cols)


def background(seed: int = 0) -> np.ndarray:
    """A static, softly lit wall with sensor-like noise: no face-like structure."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    base = 95 + 40 * (x / FRAME_W) + 25 * (y / FRAME_H)
    noise = cv2.GaussianBlur(rng.normal(0, 6, (FRAME_H, FRAME_W)).astype(np.float32), (0, 0), 3)
    grey = np.clip(base + noise, 0, 255)
    tint = np.array([1.0, 0.97, 0.92], np.float32)  # BGR: a warm wall
    return np.clip(grey[:, :, None] * tint, 0, 255).astype(np.uint8)


@dataclass
class Placement:
    patch: np.ndarray
    cx: float  # the patch centre at rest, frame pixels
    cy: float
    phase: float  # where on its ellipse the patch starts (radians)


class FaceStream:
    """``n_faces`` faces on a static background, each moving on a small ellipse (one turn
    per ``period_s``) inside its grid cell. Patches are ``patches[i % len(patches)]``, every
    other copy mirrored, so 8 faces from 2 photos are not 4 identical pairs."""

    def __init__(self, patches: Sequence[np.ndarray], n_faces: int, fps: float = 60.0, period_s: float = 2.0,
                 amplitude: tuple[float, float] = (14.0, 7.0), seed: int = 0) -> None:
        if not patches:
            raise ValueError("no face patches")
        self.n_faces = n_faces
        self.fps = fps
        self.length = max(1, int(round(period_s * fps)))
        self.amplitude = amplitude
        self.background = background(seed)
        cols, rows = grid(n_faces)
        cell_w, cell_h = FRAME_W / cols, FRAME_H / rows
        # Room for the motion; 1 face stays camera-sized (~40% of the frame's height).
        max_w = min(cell_w - 2 * amplitude[0] - 8, 300)
        max_h = min(cell_h - 2 * amplitude[1] - 8, 260)
        rng = np.random.default_rng(seed)
        self.placements: list[Placement] = []
        for i in range(n_faces):
            patch = patches[i % len(patches)]
            if (i // len(patches)) % 2:
                patch = patch[:, ::-1]
            patch = fit(patch, max_w * rng.uniform(0.88, 1.0), max_h * rng.uniform(0.88, 1.0))
            col, row = i % cols, i // cols
            # A last row that is not full is centred.
            in_row = min(cols, n_faces - row * cols)
            x_offset = (cols - in_row) * cell_w / 2
            self.placements.append(Placement(np.ascontiguousarray(patch), x_offset + (col + 0.5) * cell_w,
                                             (row + 0.5) * cell_h, float(rng.uniform(0, 2 * np.pi))))

    def patch_boxes(self, index: int) -> list[tuple[int, int, int, int]]:
        """(x, y, w, h) of every pasted patch in frame ``index`` (the face is inside, with context)."""
        t = 2 * np.pi * (index % self.length) / self.length
        boxes = []
        for p in self.placements:
            h, w = p.patch.shape[:2]
            cx = p.cx + self.amplitude[0] * math.cos(t + p.phase)
            cy = p.cy + self.amplitude[1] * math.sin(t + p.phase)
            x, y = int(round(cx - w / 2)), int(round(cy - h / 2))
            x = min(max(0, x), FRAME_W - w)
            y = min(max(0, y), FRAME_H - h)
            boxes.append((x, y, w, h))
        return boxes

    def frame(self, index: int) -> np.ndarray:
        out = self.background.copy()
        for p, (x, y, w, h) in zip(self.placements, self.patch_boxes(index)):
            out[y:y + h, x:x + w] = p.patch
        return out

    def frames(self) -> list[np.ndarray]:
        """One loop of the stream: frame ``length`` would equal frame 0."""
        return [self.frame(i) for i in range(self.length)]


def faces_found(detections: Sequence[Any], patch_boxes: Sequence[tuple[int, int, int, int]]) -> int:
    """How many patches hold exactly one detection's centre (detections are trainer Faces,
    or anything with ``.box``): a found face, none counted twice."""
    hits = [0] * len(patch_boxes)
    for det in detections:
        x, y, w, h = det.box
        cx, cy = x + w / 2, y + h / 2
        for i, (px, py, pw, ph) in enumerate(patch_boxes):
            if px <= cx < px + pw and py <= cy < py + ph:
                hits[i] += 1
                break
    return sum(1 for h in hits if h == 1)
