"""OpenCV's Viola-Jones cascades, as in the paper: frontal + profile (both directions),
merged by non-maximum suppression; eyes from the eye cascade, a landmark model, or priors.

Eye centres, in order of preference (``eyes="auto"``):
1. dlib's 5-point shape predictor run on the box, when dlib is installed (the ``dlib``
   extra); it also gives the outer eye corners;
2. OpenCV's eye cascade inside the face's upper part, when it finds a plausible pair
   (one eye each side of the box's centre line, sensible spacing and tilt);
3. geometric priors: fixed positions inside the box (``FRONTAL_EYE_PRIOR`` /
   ``PROFILE_EYE_PRIOR``). Such faces have ``eye_source == "prior"``.
The order is measured (bench/detectors.py --calibrate, SFEW 2.0 Val with a 40% border, on
the 168 Haar boxes where the eye cascade finds a pair): mean distance to MTCNN's eyes is
0.057 e2e for dlib's points, 0.075 for the eye cascade and 0.080 for the priors; the
cascade finds a pair in only half of the faces.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..types import DetectorUnavailable, Face, to_grey
from .base import largest_first, min_face_pixels, nms, to_original, working_image

FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"
EYE = "haarcascade_eye.xml"

# Eye centres as fractions of the box (x, y for the image-left eye, x, y for the right):
# medians of MTCNN's eyes in the Haar boxes of SFEW 2.0 Val (bench/detectors.py --calibrate;
# 329 frontal boxes; only 2 to 6 profile ones, so the profile prior is rough).
FRONTAL_EYE_PRIOR = (0.32, 0.38, 0.68, 0.38)
# The profile cascade fires on faces turned towards the image's left; mirrored for the others.
PROFILE_EYE_PRIOR = (0.20, 0.43, 0.53, 0.43)


def cascade_dir() -> Path:
    try:
        return Path(cv2.data.haarcascades)
    except AttributeError:  # some OpenCV builds (and 5.x) do not ship the cascades
        return Path(cv2.__file__).parent / "data"


def unavailable_reason() -> str | None:
    missing = [n for n in (FRONTAL, PROFILE, EYE) if not (cascade_dir() / n).is_file()]
    if missing:
        return (f"OpenCV's Haar cascades are missing from {cascade_dir()} ({', '.join(missing)}): "
                f"pip install 'opencv-python-headless>=4.8,<5'")
    if not hasattr(cv2, "CascadeClassifier"):
        return "this OpenCV has no CascadeClassifier: pip install 'opencv-python-headless>=4.8,<5'"
    return None


def _load(name: str) -> cv2.CascadeClassifier:
    path = cascade_dir() / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise DetectorUnavailable(f"cannot load the Haar cascade {path}: pip install 'opencv-python-headless>=4.8,<5'")
    return cascade


class HaarDetector:
    """Viola-Jones frontal and profile cascades.

    ``min_face``: smallest face as a fraction of the shorter image side (floor 24 px, the
    cascades' window): 0.1 searches from 48 px up on a 640x480 frame.
    ``scale_factor``: pyramid step of the frontal cascade; 1.1 finds more faces than 1.2
    (SFEW 2.0 with the 40% border: 80% vs 71%) at about 1.7x the cost.
    ``profile_scale_factor``: the profile cascade's step. Profiles add little on SFEW (0.7
    points) but the cascade runs twice (image and mirror), so it searches more coarsely.
    ``min_neighbors``: overlapping raw detections needed to report a face.
    ``profile``: also run the profile cascade on the image and on its mirror.
    ``eyes``: "auto" (dlib landmarks when installed, else the eye cascade, then priors),
    "cascade" (then priors), "landmarks" (dlib, then priors) or "prior".
    Score: n / (n + min_neighbors) for a face supported by n raw detections (0.5 to 1).
    """

    name = "haar"

    def __init__(self, *, min_face: float = 0.1, scale_factor: float = 1.1, profile_scale_factor: float = 1.2,
                 min_neighbors: int = 5, profile: bool = True, eyes: str = "auto", equalize: bool = True,
                 max_side: int | None = 1280) -> None:
        reason = unavailable_reason()
        if reason:
            raise DetectorUnavailable(reason)
        if eyes not in ("auto", "cascade", "landmarks", "prior"):
            raise ValueError(f"eyes must be auto, cascade, landmarks or prior, got {eyes!r}")
        self.min_face = float(min_face)
        self.scale_factor = float(scale_factor)
        self.profile_scale_factor = float(profile_scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.profile = profile
        self.equalize = equalize
        self.max_side = max_side
        self.eyes = eyes
        self._frontal = _load(FRONTAL)
        self._profile = _load(PROFILE) if profile else None
        self._eye = _load(EYE)
        self._landmarker = None
        if eyes in ("auto", "landmarks"):
            from . import dlib_backend

            if dlib_backend.unavailable_reason() is None:
                try:
                    self._landmarker = dlib_backend.DlibLandmarker(5)
                except DetectorUnavailable:
                    self._landmarker = None

    # -- detection ---------------------------------------------------------------------
    def _run(self, cascade: cv2.CascadeClassifier, grey: np.ndarray, min_px: int,
             scale_factor: float) -> tuple[np.ndarray, np.ndarray]:
        rects, counts = cascade.detectMultiScale2(grey, scaleFactor=scale_factor, minNeighbors=self.min_neighbors,
                                                  minSize=(min_px, min_px))
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        return np.asarray(rects, dtype=np.float64), np.asarray(counts, dtype=np.float64).reshape(-1)

    def raw_boxes(self, grey: np.ndarray) -> list[tuple[np.ndarray, float, str]]:
        """Merged (box, score, kind) with kind in frontal / profile-left / profile-right."""
        min_px = min_face_pixels(grey.shape, self.min_face, 24)
        found: list[tuple[np.ndarray, float, str]] = []
        rects, counts = self._run(self._frontal, grey, min_px, self.scale_factor)
        found += [(r, c, "frontal") for r, c in zip(rects, counts)]
        if self._profile is not None:
            rects, counts = self._run(self._profile, grey, min_px, self.profile_scale_factor)
            found += [(r, c, "profile-left") for r, c in zip(rects, counts)]
            w = grey.shape[1]
            rects, counts = self._run(self._profile, cv2.flip(grey, 1), min_px, self.profile_scale_factor)
            for r, c in zip(rects, counts):
                r = r.copy()
                r[0] = w - r[0] - r[2]  # mirror the box back
                found.append((r, c, "profile-right"))
        if not found:
            return []
        # Frontal boxes win ties with profile ones: their eye geometry is better known.
        scores = np.array([c + (0.5 if k == "frontal" else 0.0) for _, c, k in found])
        keep = nms(np.stack([b for b, _, _ in found]), scores)
        return [found[i] for i in keep]

    def detect(self, image: np.ndarray) -> list[Face]:
        image, scale = working_image(image, self.max_side)
        grey = to_grey(image)
        work = cv2.equalizeHist(grey) if self.equalize else grey
        faces = []
        for box, count, kind in self.raw_boxes(work):
            score = float(count / (count + self.min_neighbors))
            faces.append(self._eyes(grey, work, box, score, kind))
        return largest_first(to_original(faces, scale))

    # -- eyes ----------------------------------------------------------------------------
    def _eyes(self, grey: np.ndarray, work: np.ndarray, box: np.ndarray, score: float, kind: str) -> Face:
        box_t = tuple(float(v) for v in box)
        if self._landmarker is not None and self.eyes in ("auto", "landmarks"):
            face = self._landmarker(np.ascontiguousarray(grey), box_t)
            face.score = score
            return face
        if self.eyes in ("auto", "cascade"):
            pair = self._eye_pair(work, box)
            if pair is not None:
                return Face(box_t, score, pair[0], pair[1], None, None, "cascade")
        left, right = prior_eyes(box_t, kind)
        return Face(box_t, score, left, right, None, None, "prior")

    def _eye_pair(self, work: np.ndarray, box: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]] | None:
        x, y, w, h = (int(round(v)) for v in box)
        y0, y1 = y + int(0.15 * h), y + int(0.6 * h)
        x0, x1 = max(0, x), min(work.shape[1], x + w)
        y0, y1 = max(0, y0), min(work.shape[0], y1)
        if x1 - x0 < 20 or y1 - y0 < 10:
            return None
        roi = work[y0:y1, x0:x1]
        min_eye = max(8, int(0.12 * w))
        eyes = self._eye.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=3, minSize=(min_eye, min_eye),
                                          maxSize=(int(0.45 * w), int(0.45 * w)))
        if len(eyes) < 2:
            return None
        centres = np.array([(ex + ew / 2.0 - 0.5 + x0, ey + eh / 2.0 - 0.5 + y0, ew) for ex, ey, ew, eh in eyes])
        mid = x + w / 2.0
        best, best_cost = None, np.inf
        prior_l, prior_r = prior_eyes(tuple(float(v) for v in box), "frontal")
        for i in range(len(centres)):
            for j in range(len(centres)):
                a, b = centres[i], centres[j]
                dx, dy = b[0] - a[0], b[1] - a[1]
                # One eye each side of the centre line, 25-65% of the box apart, under ~25 degrees
                # of tilt, similar sizes.
                if not (a[0] < mid < b[0] and 0.25 * w <= dx <= 0.65 * w and abs(dy) <= 0.47 * dx):
                    continue
                if not 0.6 <= a[2] / b[2] <= 1.67:
                    continue
                cost = np.hypot(a[0] - prior_l[0], a[1] - prior_l[1]) + np.hypot(b[0] - prior_r[0], b[1] - prior_r[1])
                if cost < best_cost:
                    best, best_cost = ((float(a[0]), float(a[1])), (float(b[0]), float(b[1]))), cost
        return best


def prior_eyes(box: tuple[float, float, float, float], kind: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Typical eye centres for a Haar box of the given kind."""
    x, y, w, h = box
    lx, ly, rx, ry = PROFILE_EYE_PRIOR if kind.startswith("profile") else FRONTAL_EYE_PRIOR
    if kind == "profile-right":  # mirrored: what was the left eye's offset is now the right's
        lx, ly, rx, ry = 1.0 - rx, ry, 1.0 - lx, ly
    return (x + lx * w - 0.5, y + ly * h - 0.5), (x + rx * w - 0.5, y + ry * h - 0.5)
