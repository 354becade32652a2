"""An input image -> the model's face crops: the one path every caller takes (the app, both
``predict`` commands, ``fer-train evaluate``, the review workspace, folder datasets).

What the image is decides the path (its *input kind*):

* ``photo``: a photo or a video frame: detect every face and align it by the eyes
  (``FacePipeline.process``); no face -> no crops;
* ``crop``: a face crop (FER-2013's 48x48, SFEW's 143x181): pad it, find the face again and
  re-align it (``FacePipeline.process_crop``); when no face is found the whole crop is used
  as it is (grey, stretched, resized): always exactly one face;
* ``auto`` (the default): detect as for a photo; when nothing is found and the image looks
  like a tight face crop (small and face-shaped, :func:`looks_like_crop`), take the crop
  path; otherwise there is no face.

Each face says which way it was made (``method``): ``detect`` (aligned), ``crop``
(re-aligned crop) or ``asis`` (used as is). Boxes are clipped to the image, so nothing
downstream draws or reports a box past its edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import Face, check_image

INPUT_KINDS = ("auto", "photo", "crop")
DEFAULT_INPUT = "auto"
METHODS = ("detect", "crop", "asis")
METHOD_TITLES = {"detect": "aligned", "crop": "re-aligned crop", "asis": "used as is",
                 # datasets only (trainer.data.crops): a photo without a face stands in whole
                 "noface": "no face found: the whole image"}

# An image no larger than this (pixels, longer side) may be a tight face crop: FER-2013's
# 48x48, SFEW's 143x181, most published crop sets. A photo this small with no face found is
# rare; a crop larger than this is a close-up a detector finds as it is.
CROP_MAX_SIDE = 320
# Face crops are roughly square (SFEW 0.79, FER 1.0); a banner or a strip is not one.
CROP_ASPECT = (0.5, 2.0)


@dataclass
class PreparedFace:
    face: Face  # in the input image's coordinates, box clipped to the image
    crop: np.ndarray  # (size, size) uint8 grey: what the model is fed
    method: str  # detect | crop | asis (METHOD_TITLES)
    matrix: np.ndarray | None = None  # 2x3 affine, image pixels -> crop pixels (None: used as is)

    @property
    def aligned(self) -> bool:
        """Whether a face was found and aligned (False: the whole crop as it is)."""
        return self.method != "asis"

    @property
    def title(self) -> str:
        return METHOD_TITLES[self.method]


@dataclass
class PreparedImage:
    kind: str  # the input kind asked for
    path: str  # which path ran: "photo" or "crop" (auto falls through to crop for a tight crop)
    faces: list[PreparedFace] = field(default_factory=list)  # largest first; [] = no face


def check_kind(kind: str) -> str:
    """``kind`` when it is an input kind; a ValueError naming the known ones otherwise."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"input kind {kind!r}: expected one of {', '.join(INPUT_KINDS)}")
    return kind


def looks_like_crop(shape: tuple[int, ...], max_side: int = CROP_MAX_SIDE) -> bool:
    """Could an image of this shape be a tight face crop? Small and roughly square."""
    h, w = int(shape[0]), int(shape[1])
    return 0 < max(h, w) <= max_side and CROP_ASPECT[0] <= w / h <= CROP_ASPECT[1]


def clip_face(face: Face, width: int, height: int) -> Face:
    """The face with its box cut to the image (detectors reach past the edge for faces at
    the border); eyes and landmarks are measurements and stay as they are."""
    x, y, w, h = (float(v) for v in face.box)
    x0, y0 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x1, y1 = max(min(x + w, float(width)), x0), max(min(y + h, float(height)), y0)
    if (x0, y0, x1 - x0, y1 - y0) == (x, y, w, h):
        return face
    return Face((x0, y0, x1 - x0, y1 - y0), face.score, face.left_eye, face.right_eye, face.landmarks,
                face.eye_corners, face.eye_source)


def prepare_faces(pipeline: Any, image: np.ndarray, kind: str = DEFAULT_INPUT, *,
                  crop_max_side: int = CROP_MAX_SIDE) -> PreparedImage:
    """The model's face crops for ``image`` (BGR or grey, any numeric type) as ``kind`` says.

    ``pipeline`` is a :class:`trainer.faces.FacePipeline` (``process`` / ``process_crop``);
    the crops have its aligner's size. ``crop_max_side``: ``auto`` takes a no-face image up
    to this size as a crop. Raises ValueError for an array that is not an image."""
    check_kind(kind)
    image = check_image(image)
    h, w = image.shape[:2]
    if kind != "crop":
        found = [PreparedFace(clip_face(a.face, w, h), a.crop, "detect", a.matrix) for a in pipeline.process(image)]
        if found or kind == "photo" or not looks_like_crop(image.shape, crop_max_side):
            return PreparedImage(kind, "photo", found)
    aligned = pipeline.process_crop(image)
    if aligned is None:  # check_image accepted it, so process_crop cannot refuse it
        raise ValueError(f"cannot use an image of shape {image.shape} as a face crop")
    method = "asis" if getattr(aligned, "fallback", False) else "crop"
    return PreparedImage(kind, "crop", [PreparedFace(clip_face(aligned.face, w, h), aligned.crop, method,
                                                     aligned.matrix)])
