"""Detector + aligner: an image in, aligned face crops out."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .align import FaceAligner
from .types import Face, FaceDetector, check_image, to_grey

MAX_DETECT_SIDE = 2048  # process_crop never enlarges an image past this many pixels a side


@dataclass
class AlignedFace:
    face: Face  # in the input image's coordinates
    crop: np.ndarray  # (size, size) uint8 grey
    matrix: np.ndarray | None = None  # 2x3 affine, input pixels -> crop pixels (None: whole-image fallback)
    fallback: bool = False  # process_crop found no face and used the whole image


class FacePipeline:
    """Detects faces and aligns each one.

    ``crop_padding``: for ``process_crop``, the black border added on each side, as a
    fraction of the crop's width (left/right) and height (top/bottom). Detectors are
    trained on faces with context around them and miss most tight crops as they are
    (SFEW 2.0 Val: MTCNN 51% -> 88% with a 40% border; docs/detectors.md).
    ``min_detect_side``: padded crops smaller than this (FER-2013's 48x48 -> 86 px) are
    enlarged before detection, as detectors have a minimum face size.
    ``refine_angle``: landmark models are trained on mostly upright faces and misjudge the
    roll of strongly tilted ones. A face whose eye line is tilted more than this many
    degrees is searched again in a patch rotated upright by that tilt, and its eyes (and
    landmarks) are taken from that second look when it finds the same face; None turns
    this off. On SFEW faces rotated by 15-20 degrees this cuts the mean roll error from 2.6
    to 1.7 degrees (MTCNN), 1.5 to 1.3 (dlib) and 1.8 to 1.5 (Haar) (docs/detectors.md).
    Upright faces (the usual webcam case) cost nothing extra.
    """

    def __init__(self, detector: FaceDetector, aligner: FaceAligner | None = None, *,
                 crop_padding: float = 0.4, min_detect_side: int = 224, refine_angle: float | None = 10.0) -> None:
        if crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {crop_padding}")
        self.detector = detector
        self.aligner = aligner or FaceAligner()
        self.crop_padding = float(crop_padding)
        self.min_detect_side = int(min_detect_side)
        self.refine_angle = refine_angle

    def detect(self, image: np.ndarray) -> list[Face]:
        """The detector's faces (largest first), tilted ones refined (see ``refine_angle``)."""
        faces = self.detector.detect(image)
        if self.refine_angle is not None:
            faces = [self._refine(image, f) if abs(f.eye_angle()) > self.refine_angle else f for f in faces]
        return sorted(faces, key=lambda f: -f.area)

    def _refine(self, image: np.ndarray, face: Face) -> Face:
        left, right = np.asarray(face.left_eye, float), np.asarray(face.right_eye, float)
        e2e = float(np.hypot(*(right - left)))
        if e2e < 4:
            return face
        # A patch of 4 e2e around the face, rotated so the eyes are level, at 160-320 px.
        side = int(np.clip(4 * e2e, 160, 320))
        scale = side / (4 * e2e)
        mid = (left + right) / 2
        m = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), face.eye_angle(), scale)
        target = np.array([side / 2, 0.45 * side])  # eyes a little above the centre, like a face's
        m[:, 2] += target - mid
        patch = cv2.warpAffine(image, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        best, best_d = None, 0.5 * e2e * scale
        for cand in self.detector.detect(patch):
            c_mid = (np.asarray(cand.left_eye) + np.asarray(cand.right_eye)) / 2
            d = float(np.hypot(*(c_mid - target)))
            if d < best_d and 0.6 < cand.eye_distance() / (e2e * scale) < 1.6:
                best, best_d = cand, d
        if best is None:  # not found again: keep the first look
            return face
        back = best.transformed(cv2.invertAffineTransform(m))  # its points, in the image
        return Face(face.box, face.score, back.left_eye, back.right_eye, back.landmarks, back.eye_corners,
                    best.eye_source)

    def process(self, image: np.ndarray) -> list[AlignedFace]:
        """Every face in a full image (a photo, a video frame), largest first."""
        image = check_image(image)
        grey = to_grey(image)
        faces = self.detect(image)
        out = []
        for face in faces:
            crop, m = self.aligner.align_with_matrix(grey, face)
            out.append(AlignedFace(face, crop, m))
        return out

    def process_crop(self, image: np.ndarray | None) -> AlignedFace | None:
        """One face from an image that is already a face crop (FER-2013 48x48, SFEW crops).

        The crop is padded with a black border (``crop_padding`` of its size on each side),
        enlarged if small, and searched; the face returned is in the unpadded image's
        coordinates (the largest one whose centre lies inside the original crop).

        When no face is found, the whole image is the crop (grey, stretched, resized to
        size x size) and ``fallback`` is True; its Face has the whole image as box, score
        0, ``eye_source="prior"`` and eyes where the aligner would put them
        (``eye_targets()`` scaled to the image). Returns None only for an unusable image
        (None, empty, or not an image array).
        """
        try:
            image = check_image(image)  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError):
            return None
        h, w = image.shape[:2]
        px, py = int(round(self.crop_padding * w)), int(round(self.crop_padding * h))
        padded = cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_CONSTANT, value=0)
        # Enlarged so the shorter side reaches min_detect_side, but never past MAX_DETECT_SIDE
        # on the longer one (a 1x100000 strip would otherwise become gigabytes).
        scale = min(self.min_detect_side / min(padded.shape[:2]), MAX_DETECT_SIDE / max(padded.shape[:2]))
        if scale > 1.0:
            padded = cv2.resize(padded, (int(round(padded.shape[1] * scale)), int(round(padded.shape[0] * scale))),
                                interpolation=cv2.INTER_CUBIC)
        sx, sy = padded.shape[1] / (w + 2 * px), padded.shape[0] / (h + 2 * py)
        faces = [f.mapped(1 / sx, 1 / sy, -px, -py) for f in self.detect(padded)]
        inside = [f for f in faces if 0 <= f.box[0] + f.box[2] / 2 < w and 0 <= f.box[1] + f.box[3] / 2 < h]
        if inside:
            face = max(inside, key=lambda f: f.area)
            crop, m = self.aligner.align_with_matrix(image, face)
            return AlignedFace(face, crop, m)
        return self._whole_image(image)

    def _whole_image(self, image: np.ndarray) -> AlignedFace:
        h, w = image.shape[:2]
        size = self.aligner.config.size
        (lx, ly), (rx, ry) = self.aligner.eye_targets()
        fx, fy = w / size, h / size

        def to_image(x: float, y: float) -> tuple[float, float]:
            return ((x + 0.5) * fx - 0.5, (y + 0.5) * fy - 0.5)

        face = Face((0.0, 0.0, float(w), float(h)), 0.0, to_image(lx, ly), to_image(rx, ry), None, None, "prior")
        return AlignedFace(face, self.aligner.whole_image(image), None, True)
