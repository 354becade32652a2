"""Detector names -> back-ends, and which of them can run here."""

from __future__ import annotations

from typing import Any, Callable

from trainer.errors import UsageError

from ..types import DetectorUnavailable, FaceDetector

# ``auto`` tries these in order, chosen from docs/detectors.md (SFEW 2.0 Val, 431 crops with
# the 40% black border FacePipeline.process_crop adds; 17 face-free images; 640x480 frames;
# one thread, all measured in one run on a loaded machine):
#   blazeface 94% found, 1 false positive (a colour wheel), 5.2 ms/frame (both models), eyes
#          always measured, no torch import (fer-desktop predict starts in about a second);
#   mtcnn  88% found, 0 false positives, 91 ms/frame, eyes always measured;
#   dlib   65% found (frontal-only HOG), 0 false positives, 34 ms, the most precise eyes;
#   haar   80% found but 4 false positives, 120 ms, eyes need dlib or the eye cascade.
# face-alignment is opt-in only (an extra package and a one-time weight download).
AUTO_ORDER = ("blazeface", "mtcnn", "dlib", "haar")
NAMES = ("auto", "haar", "mtcnn", "dlib", "face-alignment", "blazeface")
_ALIASES = {"viola-jones": "haar", "opencv": "haar", "fan": "face-alignment", "face_alignment": "face-alignment",
            "facealignment": "face-alignment", "dlib-hog": "dlib", "hog": "dlib", "mediapipe": "blazeface",
            "blaze": "blazeface"}


def canonical_name(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in NAMES:
        raise UsageError(f"unknown face detector {name!r}; choose one of: {', '.join(NAMES)}")
    return key


def _reason(name: str, **options: Any) -> str | None:
    if name == "haar":
        from .haar import unavailable_reason
    elif name == "mtcnn":
        from .mtcnn import unavailable_reason
    elif name == "dlib":
        from .dlib_backend import unavailable_reason
    elif name == "blazeface":
        from .blazeface import unavailable_reason

        return unavailable_reason(str(options.get("model", "both")))
    else:
        from .fan import unavailable_reason

        return unavailable_reason(bool(options.get("allow_download", False)))
    return unavailable_reason()


def _factory(name: str) -> Callable[..., FaceDetector]:
    if name == "haar":
        from .haar import HaarDetector as cls
    elif name == "mtcnn":
        from .mtcnn import MtcnnDetector as cls
    elif name == "dlib":
        from .dlib_backend import DlibDetector as cls
    elif name == "blazeface":
        from .blazeface import BlazeFaceDetector as cls
    else:
        from .fan import FanDetector as cls
    return cls


def resolved_name(name: str = "auto") -> str:
    """The back-end ``name`` stands for here (``auto``: the first usable one of AUTO_ORDER;
    "auto" itself when none is), without loading any model."""
    key = canonical_name(name)
    if key != "auto":
        return key
    return next((candidate for candidate in AUTO_ORDER if _reason(candidate) is None), key)


def available_detectors() -> dict[str, str | None]:
    """Every back-end name -> None when it can run here, else why not (and how to fix it).
    Cheap: checks installed packages and model files without loading any model."""
    out: dict[str, str | None] = {}
    for name in NAMES[1:]:
        out[name] = _reason(name)
    usable = [n for n in AUTO_ORDER if out[n] is None]
    out = {"auto": None if usable else "no face detector back-end is usable: pip install facenet-pytorch==2.5.3", **out}
    return out


def create_detector(name: str = "auto", **options: Any) -> FaceDetector:
    """A ready detector. ``options`` go to the back-end (see its class: HaarDetector,
    MtcnnDetector, DlibDetector, FanDetector, BlazeFaceDetector); with ``auto`` only the options the chosen
    back-end accepts are passed (``device`` for mtcnn, say, is ignored by haar).
    Raises DetectorUnavailable (what is missing, how to install it) or UsageError (bad name)."""
    key = canonical_name(name)
    if key != "auto":
        reason = _reason(key, **options)
        if reason:
            raise DetectorUnavailable(reason)
        return _factory(key)(**options)
    reasons = []
    for candidate in AUTO_ORDER:
        reason = _reason(candidate)
        if reason is None:
            try:
                return _factory(candidate)(**_accepted(_factory(candidate), options))
            except DetectorUnavailable as exc:
                reason = str(exc)
        reasons.append(f"{candidate}: {reason}")
    raise DetectorUnavailable("no face detector is usable here; " + "; ".join(reasons))


def _accepted(cls: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    import inspect

    params = inspect.signature(cls).parameters
    return {k: v for k, v in options.items() if k in params}
