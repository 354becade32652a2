"""Eye-based face alignment with the crop ratios of Ng et al., ICMI 2015.

The paper rotates and scales each face by its eyes and crops a box measured in units of the
eye-to-eye distance e2e: ``side`` x e2e out from each OUTER eye corner, ``top`` x e2e above
the eyes and ``bottom`` x e2e below them; the crop is grey, min-max stretched to [0, 255]
and resized to a square. Detectors give eye CENTRES; where a back-end does not measure the
corners, each outer corner is put ``eye_corner`` x e2e beyond its eye centre along the eye
line (see ``DEFAULT_EYE_CORNER``).

Coordinates use OpenCV's convention: pixel centres at integer coordinates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

from trainer.errors import UsageError

from .types import Face, to_grey

# Distance from an eye centre to its outer corner in units of e2e. Measured with dlib's
# 68-point model (eye centre = mean of the 6 eye-contour points) on 279 SFEW 2.0 Val faces
# (bench/detectors.py --calibrate): median 0.191, interquartile range 0.177-0.207. Adult
# anthropometry agrees roughly: half a palpebral fissure (~28 mm) over an interpupillary
# distance of ~62 mm is ~0.23.
DEFAULT_EYE_CORNER = 0.19

BORDERS = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
MAX_CROP_SIZE = 2048  # pixels a side of an aligned crop


@dataclass
class AlignConfig:
    """How a face becomes a crop; stored in model cards as a dict (``AlignConfig(**d)``)."""

    size: int = 256  # output side in pixels (the output is square)
    side: float = 0.62  # margin beyond each outer eye corner, x e2e
    top: float = 0.9  # margin above the eye line, x e2e
    bottom: float = 1.35  # margin below the eye line, x e2e
    stretch: bool = True  # min-max stretch the crop's grey levels to [0, 255]
    eye_corner: float = DEFAULT_EYE_CORNER  # outer corner beyond the eye centre, x e2e
    use_landmark_corners: bool = True  # use measured outer corners when the detector has them
    # What fills the parts of the box outside the image: "replicate" (edge pixels) or
    # "constant" (black). Tight crops such as SFEW's leave a third of the box outside;
    # black there is something FER-2013 never shows (zero-shot SFEW Val: docs/RESULTS.md).
    border: str = "replicate"

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, float)) or self.size != int(self.size) \
                or not 8 <= self.size <= MAX_CROP_SIZE:
            raise UsageError(f"aligner size must be a whole number of pixels from 8 to {MAX_CROP_SIZE}, "
                             f"got {self.size!r}")
        self.size = int(self.size)
        for name in ("side", "top", "bottom", "eye_corner"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
                    or not 0 <= value <= 10:
                raise UsageError(f"aligner {name} must be a number from 0 to 10 (x eye distance), got {value!r}")
            setattr(self, name, float(value))
        if self.top + self.bottom <= 0:
            raise UsageError("aligner top + bottom must be positive")
        if not isinstance(self.stretch, bool) or not isinstance(self.use_landmark_corners, bool):
            raise UsageError("aligner stretch and use_landmark_corners must be true or false")
        if self.border not in BORDERS:
            raise UsageError(f"aligner border {self.border!r}; known: {', '.join(BORDERS)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "AlignConfig":
        """Like ``AlignConfig(**data)`` but ignores keys this version does not know."""
        known = {f.name for f in fields(cls)}
        if data is not None and not isinstance(data, dict):
            raise UsageError(f"aligner settings must be a table, got {data!r}")
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    @property
    def width_units(self) -> float:
        """Crop width in e2e units when the corners are estimated from the centres."""
        return 1.0 + 2.0 * (self.eye_corner + self.side)

    @property
    def height_units(self) -> float:
        return self.top + self.bottom


class FaceAligner:
    """Rotates, scales and crops faces by their eyes; one ``cv2.warpAffine`` per face."""

    def __init__(self, config: AlignConfig | None = None) -> None:
        self.config = config or AlignConfig()

    def eye_targets(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Where the (image-left, image-right) eye centres land in the output crop when the
        corners are estimated from the centres. With measured corners the eye line is at
        the same height; the eyes move sideways by how much the face's corners differ
        from ``eye_corner``."""
        c = self.config
        sx = c.size / c.width_units
        sy = c.size / c.height_units
        y = c.top * sy - 0.5
        left = (c.side + c.eye_corner) * sx - 0.5
        return (left, y), (left + sx, y)

    def matrix(self, face: Face) -> np.ndarray:
        """The 2x3 affine that maps the input image's pixels to the crop's."""
        c = self.config
        left = np.asarray(face.left_eye, dtype=np.float64)
        right = np.asarray(face.right_eye, dtype=np.float64)
        d = right - left
        e2e = float(np.hypot(*d))
        if not np.isfinite(e2e) or e2e < 1e-3:
            raise ValueError(f"cannot align a face whose eyes coincide: {face.left_eye}, {face.right_eye}")
        cos, sin = d / e2e
        rot = np.array([[cos, sin], [-sin, cos]])  # image -> eye frame (u along the eye line, v down)
        mid = (left + right) / 2.0

        u_left = -(0.5 + c.eye_corner) * e2e
        u_right = (0.5 + c.eye_corner) * e2e
        if c.use_landmark_corners and face.eye_corners is not None:
            corners = rot @ (np.asarray(face.eye_corners, dtype=np.float64) - mid).T  # (2, 2): u, v rows
            # A corner on the wrong side of its eye or absurdly far out (profile, bad fit)
            # falls back to the estimate.
            if -1.0 * e2e < corners[0, 0] < -0.5 * e2e:
                u_left = float(corners[0, 0])
            if 0.5 * e2e < corners[0, 1] < 1.0 * e2e:
                u_right = float(corners[0, 1])
        u0 = u_left - c.side * e2e
        width = (u_right + c.side * e2e) - u0
        v0 = -c.top * e2e
        height = c.height_units * e2e
        sx = c.size / width
        sy = c.size / height
        lin = np.diag([sx, sy]) @ rot
        # Continuous crop coordinate: (u - u0) * sx; -0.5 moves to pixel-centre indices, and
        # the +0.5 of the input's own convention cancels in (p - mid).
        offset = np.array([-u0 * sx - 0.5, -v0 * sy - 0.5]) - lin @ mid
        return np.hstack([lin, offset[:, None]])

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        """(size, size) uint8 grey crop. Parts of the box outside the image are filled as
        ``config.border`` says."""
        return self.align_with_matrix(image, face)[0]

    def align_with_matrix(self, image: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
        grey = to_grey(image)
        size = self.config.size
        m = self.matrix(face)
        src, m_src = _prescale(grey, m, size)
        crop = cv2.warpAffine(src, m_src, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=BORDERS[self.config.border], borderValue=0)
        if self.config.stretch:
            crop = self._stretch(crop, src, m_src, black_outside=self.config.border == "constant")
        return crop, m

    def whole_image(self, image: np.ndarray) -> np.ndarray:
        """The whole image as a crop (grey, stretched, resized): the fallback for
        pre-cropped inputs where no face was found."""
        grey = to_grey(image)
        size = self.config.size
        interp = cv2.INTER_AREA if max(grey.shape) > size else cv2.INTER_LINEAR
        crop = cv2.resize(grey, (size, size), interpolation=interp)
        return stretch(crop) if self.config.stretch else crop

    @staticmethod
    def _stretch(crop: np.ndarray, src: np.ndarray, m: np.ndarray, black_outside: bool) -> np.ndarray:
        h, w = src.shape[:2]
        size = crop.shape[0]
        # Does the crop reach outside the source? Then only the pixels that came from the
        # image set the range, so the black padding does not pin the minimum at 0.
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[-0.5, -0.5, 1], [size - 0.5, -0.5, 1], [-0.5, size - 0.5, 1], [size - 0.5, size - 0.5, 1]])
        src_pts = corners @ inv.T
        inside = (src_pts[:, 0].min() >= -0.5 and src_pts[:, 1].min() >= -0.5
                  and src_pts[:, 0].max() <= w - 0.5 and src_pts[:, 1].max() <= h - 0.5)
        if inside:
            return stretch(crop)
        # Bilinear coverage: 255 = wholly from the image; pixels blended with the border
        # would drag the minimum down, so only whole ones set the range.
        cover = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out = stretch(crop, (cover == 255).astype(np.uint8))
        if black_outside:
            out[cover == 0] = 0
        return out


def stretch(grey: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Min-max stretch to [0, 255], the range taken over ``mask`` (values outside it are
    clipped). A flat image
    (range under 1 grey level) is returned unchanged: there is no contrast to stretch."""
    if mask is not None and not mask.any():
        return grey
    lo, hi, _, _ = cv2.minMaxLoc(grey, mask)
    if hi - lo < 1.0:
        return grey
    return cv2.convertScaleAbs(grey, alpha=255.0 / (hi - lo), beta=-lo * 255.0 / (hi - lo))


def _prescale(grey: np.ndarray, m: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """warpAffine samples bilinearly: shrinking a large face by more than 2x aliases. Cut the
    region the crop needs and shrink it with INTER_AREA first; returns (source, matrix)."""
    max_scale = float(np.abs(m[:, :2]).sum(axis=1).max())  # >= the larger axis scale
    if max_scale >= 0.5:
        return grey, m
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[-0.5, -0.5, 1], [size - 0.5, -0.5, 1], [-0.5, size - 0.5, 1], [size - 0.5, size - 0.5, 1]])
    pts = corners @ inv.T
    h, w = grey.shape[:2]
    x0 = int(np.clip(np.floor(pts[:, 0].min()) - 1, 0, w))
    y0 = int(np.clip(np.floor(pts[:, 1].min()) - 1, 0, h))
    x1 = int(np.clip(np.ceil(pts[:, 0].max()) + 2, 0, w))
    y1 = int(np.clip(np.ceil(pts[:, 1].max()) + 2, 0, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return grey, m
    f = 2.0 * max_scale  # shrink so that what is left for the warp is a factor of about 2
    roi = grey[y0:y1, x0:x1]
    rw, rh = max(1, int(round(roi.shape[1] * f))), max(1, int(round(roi.shape[0] * f)))
    small = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
    fx, fy = rw / roi.shape[1], rh / roi.shape[0]
    # p_small = (p - origin + 0.5) * f - 0.5  =>  p = (p_small + 0.5) / f - 0.5 + origin
    back = np.array([[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0], [0, 0, 1]])
    m_src = np.vstack([m, [0, 0, 1]]) @ back
    return small, m_src[:2]
