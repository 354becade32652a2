"""The face pipeline's data types: what a detector returns and what every back-end promises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from trainer.errors import UserError

Point = tuple[float, float]
Box = tuple[float, float, float, float]

# Where a Face's eye centres came from: a landmark model, OpenCV's eye cascade, or a
# geometric guess from the box. Only the first two are measurements.
EYE_SOURCES = ("landmarks", "cascade", "prior")


class DetectorUnavailable(UserError, RuntimeError):
    """A back-end cannot run here; the message says what is missing and how to get it."""


@dataclass
class Face:
    """One detected face, in the input image's pixel coordinates (pixel centres at integers).

    ``left_eye`` is the eye on the IMAGE's left (the subject's right eye). ``landmarks`` holds
    the back-end's own points when it has more than the two eyes (MTCNN: 5, dlib: 5 or 68,
    face-alignment: 68). ``eye_corners`` holds the OUTER corners (image-left eye's, then
    image-right eye's) when the back-end measures them (dlib, face-alignment); the aligner
    then measures the crop's sides from them instead of estimating them from the centres.
    """

    box: Box
    score: float
    left_eye: Point
    right_eye: Point
    landmarks: np.ndarray | None = None
    eye_corners: tuple[Point, Point] | None = None
    eye_source: str = "landmarks"

    @property
    def area(self) -> float:
        return float(self.box[2]) * float(self.box[3])

    def eye_distance(self) -> float:
        return float(np.hypot(self.right_eye[0] - self.left_eye[0], self.right_eye[1] - self.left_eye[1]))

    def eye_angle(self) -> float:
        """Angle of the eye line in degrees (0 = level, positive = right eye lower)."""
        return float(np.degrees(np.arctan2(self.right_eye[1] - self.left_eye[1], self.right_eye[0] - self.left_eye[0])))

    def mapped(self, scale_x: float, scale_y: float, shift_x: float = 0.0, shift_y: float = 0.0) -> "Face":
        """This face in a resized and shifted frame: points ``p' = (p + 0.5) * scale - 0.5 +
        shift`` (pixel centres), the box ``b' = b * scale + shift`` (pixel edges)."""
        scale, shift = np.array([scale_x, scale_y]), np.array([shift_x, shift_y])
        x, y, w, h = self.box
        box = (float(x * scale_x + shift_x), float(y * scale_y + shift_y), float(w * scale_x), float(h * scale_y))
        return self._moved(lambda p: (p + 0.5) * scale - 0.5 + shift, box)

    def transformed(self, m: np.ndarray) -> "Face":
        """This face moved by the 2x3 similarity ``m`` (pixel coordinates in, pixel
        coordinates out): points exactly, the box by its centre and scale (it stays
        axis-aligned, as detectors give it)."""
        m = np.asarray(m, dtype=np.float64)

        def apply(p: np.ndarray) -> np.ndarray:
            return p @ m[:, :2].T + m[:, 2]

        x, y, w, h = self.box
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        cx, cy = apply(np.array([[x + w / 2, y + h / 2]]))[0]
        box = (float(cx - w * scale / 2), float(cy - h * scale / 2), float(w * scale), float(h * scale))
        return self._moved(apply, box)

    def _moved(self, fn, box: Box) -> "Face":
        """A copy with ``box`` and every point (eyes, landmarks, eye corners) through ``fn``
        ((N, 2) -> (N, 2)): the one place a face's points are mapped."""
        eyes = fn(np.array([self.left_eye, self.right_eye], dtype=np.float64))
        landmarks = None if self.landmarks is None else fn(np.asarray(self.landmarks, dtype=np.float64).reshape(-1, 2))
        corners = None
        if self.eye_corners is not None:
            c = fn(np.asarray(self.eye_corners, dtype=np.float64).reshape(2, 2))
            corners = ((float(c[0, 0]), float(c[0, 1])), (float(c[1, 0]), float(c[1, 1])))
        return Face(box, self.score, (float(eyes[0, 0]), float(eyes[0, 1])), (float(eyes[1, 0]), float(eyes[1, 1])),
                    landmarks, corners, self.eye_source)

    def to_dict(self) -> dict:
        """JSON-friendly form (the ``faces.json`` schema of ``fer-train align``)."""
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "left_eye": [round(float(v), 2) for v in self.left_eye],
            "right_eye": [round(float(v), 2) for v in self.right_eye],
        }


@runtime_checkable
class FaceDetector(Protocol):
    """A face detector back-end. ``detect`` takes a BGR uint8 (H, W, 3) or grey (H, W) image
    and returns every face found, largest box first. One instance per thread."""

    name: str

    def detect(self, image: np.ndarray) -> list[Face]: ...


def as_uint8(image: np.ndarray) -> np.ndarray:
    """Any numeric image -> uint8 with the same channels (16-bit scaled, float [0,1] or [0,255])."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16 and (image.ndim == 2 or image.shape[2] <= 4):
        # Full-range 16-bit: 65535 -> 255, rounded, with no float copy of a large photo.
        return cv2.convertScaleAbs(image, alpha=1 / 257.0)
    if image.dtype == np.uint16:
        return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.floating):
        arr = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        # Float images are conventionally [0, 1]; anything brighter is taken as [0, 255].
        if arr.size and float(arr.max()) <= 1.0:
            arr = arr * 255.0
        return np.clip(arr + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {image.dtype}")


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate a detector input and return it as BGR uint8 (H, W, 3) or grey uint8 (H, W).

    Accepts (H, W), (H, W, 1), (H, W, 3) BGR and (H, W, 4) BGRA of any numeric dtype."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"expected an image as a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"expected a grey (H, W) or BGR (H, W, 3) image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    image = as_uint8(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)  # views (flips, crops) -> what OpenCV and dlib expect


def to_grey(image: np.ndarray) -> np.ndarray:
    image = check_image(image)
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3), C-contiguous: what the torch and dlib back-ends expect."""
    image = check_image(image)
    code = cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)
