"""MTCNN (Zhang et al. 2016) from facenet-pytorch: a three-stage CNN cascade that also
gives 5 points (eye centres, nose tip, mouth corners). The weights ship in the wheel."""

from __future__ import annotations

import numpy as np

from ..types import DetectorUnavailable, Face, to_rgb
from .base import largest_first, min_face_pixels, module_dir, to_original, working_image

INSTALL_HINT = "pip install facenet-pytorch==2.5.3"
WEIGHT_FILES = ("pnet.pt", "rnet.pt", "onet.pt")


def unavailable_reason() -> str | None:
    root = module_dir("facenet_pytorch")
    if root is None:
        return f"facenet-pytorch is not installed: {INSTALL_HINT}"
    missing = [f for f in WEIGHT_FILES if not (root / "data" / f).is_file()]
    if missing:
        return (f"MTCNN weights missing from {root / 'data'}: {', '.join(missing)} "
                f"(reinstall: pip install --force-reinstall facenet-pytorch==2.5.3)")
    return None


class MtcnnDetector:
    """facenet-pytorch's MTCNN on CPU or CUDA.

    ``min_face``: smallest face searched, as a fraction of the shorter image side (floor
    20 px, MTCNN's own default); a relative size keeps the image pyramid short on large
    frames (at 640x480, 0.1 takes 54 ms and 0.0, i.e. 20 px, 103 ms). ``min_score``: the
    final stage's face probability needed to report a face; 0.7 is MTCNN's own last-stage
    threshold (0.9 lost 2.3 points of SFEW faces and removed no false positive).
    Scores are that probability (0 to 1).
    """

    name = "mtcnn"

    def __init__(self, *, device: str = "auto", min_face: float = 0.1, min_score: float = 0.7,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), max_side: int | None = 1280) -> None:
        reason = unavailable_reason()
        if reason:
            raise DetectorUnavailable(reason)
        try:
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise DetectorUnavailable(f"the mtcnn back-end cannot import facenet_pytorch ({exc}): {INSTALL_HINT}") from None
        from trainer.device import choose_device  # torch loads with the back-end, not on import

        self.device = str(choose_device(device))
        self.min_face = float(min_face)
        self.min_score = float(min_score)
        self.max_side = max_side
        self._mtcnn = MTCNN(keep_all=True, device=self.device, thresholds=list(thresholds), post_process=False)

    def detect(self, image: np.ndarray) -> list[Face]:
        image, scale = working_image(image, self.max_side)
        rgb = to_rgb(image)
        self._mtcnn.min_face_size = min_face_pixels(rgb.shape, self.min_face, 20)
        if min(rgb.shape[:2]) < self._mtcnn.min_face_size:
            return []  # no face fits (and facenet-pytorch fails on an empty image pyramid)
        boxes, probs, points = self._mtcnn.detect(rgb, landmarks=True)
        faces: list[Face] = []
        if boxes is not None:
            for (x1, y1, x2, y2), p, pts in zip(boxes, probs, points):
                if p is None or float(p) < self.min_score:
                    continue
                pts = np.asarray(pts, dtype=np.float64)
                # Points 0 and 1 are the eyes, image-left first.
                faces.append(Face((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), float(p),
                                  (float(pts[0, 0]), float(pts[0, 1])), (float(pts[1, 0]), float(pts[1, 1])),
                                  pts, None, "landmarks"))
        return largest_first(to_original(faces, scale))
