"""Image and box geometry: rotations (tests, the detector benchmark), box overlap and
matching (the live view's tracking, the benchmarks). A face's points are mapped by
``Face.mapped`` / ``Face.transformed``."""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np


def rotate_padded(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate counter-clockwise by ``degrees`` on a canvas large enough to keep every pixel;
    returns (rotated, 2x3 matrix) so known points can be mapped into the rotated image."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT), m


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return float(inter / (aw * ah + bw * bh - inter))


def match_boxes(tracks: Sequence[Sequence[float]], detections: Sequence[Sequence[float]],
                threshold: float) -> list[tuple[int, int]]:
    """Greedy one-to-one (track, detection) pairs by decreasing IoU, each at least ``threshold``.
    Greedy is optimal enough for the handful of faces in a frame."""
    pairs = sorted(
        ((box_iou(t, d), i, j) for i, t in enumerate(tracks) for j, d in enumerate(detections)),
        reverse=True,
    )
    used_t: set[int] = set()
    used_d: set[int] = set()
    out = []
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i in used_t or j in used_d:
            continue
        used_t.add(i)
        used_d.add(j)
        out.append((i, j))
    return out
