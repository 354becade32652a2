"""face-alignment (Bulat & Tzimiropoulos 2017): S3FD detector + 2D-FAN 68 landmarks.

Optional, never a dependency: the package needs opencv-python (whose Qt clashes with
PySide6) and downloads its weights into torch's hub cache on first use. We never download
behind the user's back: without the weight files this back-end is unavailable unless it is
created with ``allow_download=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..types import DetectorUnavailable, Face, to_rgb
from .base import has_module, largest_first, to_original, working_image

INSTALL_HINT = "pip install face-alignment"
# face-alignment's own URLs, used when its tables cannot be read (the file names are what
# matter: they are looked up in <torch hub dir>/checkpoints/).
FALLBACK_FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-cd938726ad.zip"
FALLBACK_S3FD_URL = "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth"


def checkpoint_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_urls() -> list[str]:
    """The 2D-FAN-4 and S3FD URLs the installed face-alignment will load."""
    fan_url, sfd_url = FALLBACK_FAN_URL, FALLBACK_S3FD_URL
    try:
        import torch
        from face_alignment import api  # noqa: F401  (only its URL tables are read)

        version = torch.__version__
        # face-alignment keys its table by torch "major.minor", parsed as it does.
        key = version.rsplit(".", 2)[0] if "dev" in version else version.rsplit(".", 1)[0]
        table = getattr(api, "models_urls", {}).get(key, getattr(api, "default_model_urls", {}))
        fan_url = table.get("2DFAN-4", fan_url)
    except Exception:  # noqa: BLE001 - any failure here just means "use the known names"
        pass
    try:
        from face_alignment.detection.sfd import sfd_detector

        sfd_url = sfd_detector.models_urls.get("s3fd", sfd_url)
    except Exception:  # noqa: BLE001
        pass
    return [fan_url, sfd_url]


def missing_weights() -> list[Path]:
    folder = checkpoint_dir()
    return [folder / os.path.basename(u) for u in weight_urls() if not (folder / os.path.basename(u)).is_file()]


def unavailable_reason(allow_download: bool = False) -> str | None:
    if not has_module("face_alignment"):
        return (f"the face-alignment package is not installed: {INSTALL_HINT} (it needs opencv-python, "
                f"which can clash with PySide6's Qt; it then downloads its model weights once, needing network)")
    if allow_download:
        return None
    missing = missing_weights()
    if missing:
        files = ", ".join(p.name for p in missing)
        return (f"face-alignment weights not found in {missing[0].parent}: missing {files}. They are downloaded "
                f"once (needs network) by create_detector('face-alignment', allow_download=True), or by running "
                f"face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D) once; "
                f"package: {INSTALL_HINT}")
    return None


class FanDetector:
    """face-alignment's S3FD boxes and 68 landmarks: eye centres are the means of the six
    eye-contour points, outer corners points 36 and 45. Scores are S3FD's (0 to 1)."""

    name = "face-alignment"

    def __init__(self, *, device: str = "auto", allow_download: bool = False, face_detector: str = "sfd",
                 min_score: float = 0.9, max_side: int | None = 1280) -> None:
        reason = unavailable_reason(allow_download)
        if reason:
            raise DetectorUnavailable(reason)
        try:
            import face_alignment
        except ImportError as exc:
            raise DetectorUnavailable(f"cannot import face_alignment ({exc}): {INSTALL_HINT}") from None
        from trainer.device import choose_device

        landmarks_type = getattr(face_alignment.LandmarksType, "TWO_D", None) or getattr(face_alignment.LandmarksType, "_2D")
        self.device = str(choose_device(device))
        self.min_score = float(min_score)
        self.max_side = max_side
        try:
            self._fa = face_alignment.FaceAlignment(landmarks_type, device=self.device, face_detector=face_detector,
                                                    flip_input=False)
        except OSError as exc:  # a failed download (no network) surfaces as URLError/OSError
            raise DetectorUnavailable(f"face-alignment could not load its weights ({exc}); "
                                      f"download them once with network access") from None

    def detect(self, image: np.ndarray) -> list[Face]:
        image, scale = working_image(image, self.max_side)
        rgb = to_rgb(image)
        landmarks, _, boxes = self._fa.get_landmarks_from_image(rgb, return_bboxes=True, return_landmark_score=True)
        faces: list[Face] = []
        for pts, box in zip(landmarks or [], boxes or []):
            pts = np.asarray(pts, dtype=np.float64)[:, :2]
            x1, y1, x2, y2 = (float(v) for v in box[:4])
            score = float(box[4]) if len(box) > 4 else 1.0
            if score < self.min_score:
                continue
            left, right = pts[36:42].mean(0), pts[42:48].mean(0)
            faces.append(Face((x1, y1, x2 - x1, y2 - y1), score, (float(left[0]), float(left[1])),
                              (float(right[0]), float(right[1])), pts,
                              ((float(pts[36, 0]), float(pts[36, 1])), (float(pts[45, 0]), float(pts[45, 1]))),
                              "landmarks"))
        return largest_first(to_original(faces, scale))
