"""Image files -> aligned grey face crops of one size, cached on disk.

Modes (``FaceOptions.mode``):

* ``detect``: the files are photos: detect and align (``FacePipeline.process``), keep the
  largest face;
* ``crops``: the files are face crops (e.g. SFEW's): ``FacePipeline.process_crop`` pads,
  detects and aligns, else uses the image as it is;
* ``auto``: per image: small images (longest side <= ``auto_max_side``) take the crop path,
  larger ones the detect path, falling back to the crop path when no face is found;
* ``none``: no face processing: the image, grey, resized (already aligned data, tests).

Whatever finds no face falls back to the whole image, so every readable file yields one crop
(an evaluation counts every image; see ``methods`` for how each crop was made). A file that
cannot be read (corrupt, empty, too large) is marked ``unreadable`` with the reason in
``errors``, and the loaders leave it out, saying so, instead of losing the whole dataset.

Detection is slow, so results are cached: ``<cache>/<sha256>.npz`` where the hash covers the
dataset root, every file's relative path, size and mtime, and the preprocessing settings
(aligner config included). Change any of them and a new cache entry is made.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from trainer.data.cache import expect, load_entry, save_entry
from trainer.data.samples import DataError

FACE_MODES = ("detect", "crops", "auto", "none")
CACHE_VERSION = 2  # bump when the crop-making code changes meaning


@dataclass(frozen=True)
class FaceOptions:
    mode: str = "auto"
    crop_size: int = 96  # the cached crops' side; training resizes to its input size anyway
    detector: str = "auto"
    aligner: dict[str, Any] = field(default_factory=dict)  # AlignConfig overrides (size is crop_size)
    auto_max_side: int = 320

    def __post_init__(self) -> None:
        if self.mode not in FACE_MODES:
            raise DataError(f"unknown faces mode {self.mode!r}; known: {', '.join(FACE_MODES)}")
        if self.crop_size < 8:
            raise DataError(f"crop size {self.crop_size} is too small")

    def align_config(self) -> Any:
        faces = faces_module()
        try:
            return faces.AlignConfig(**{**self.aligner, "size": self.crop_size})
        except TypeError as exc:  # an unknown aligner setting
            raise DataError(f"aligner settings {self.aligner}: {exc}") from None

    def describe(self) -> dict[str, Any]:
        """What a model card records: enough to make the same crops at inference."""
        if self.mode == "none":
            return {**ready_crops(self.crop_size), "mode": "none"}
        return {"faces": "align", "mode": self.mode, "detector": self.detector, "grey": True,
                "crop_size": self.crop_size, "aligner": asdict(self.align_config())}


def ready_crops(crop_size: int | None = None) -> dict[str, Any]:
    """How a card describes crops used as they are (FER-2013's 48x48): grey, no detection."""
    return {"faces": "crops", "grey": True, **({"crop_size": crop_size} if crop_size else {})}


def faces_module() -> Any:
    """``trainer.faces``, imported on first use (detectors are heavy); a DataError if absent."""
    try:
        import trainer.faces as faces

        faces.FacePipeline  # noqa: B018 - the package may exist before its API does
    except (ImportError, AttributeError) as exc:
        raise DataError(f"the face pipeline (trainer.faces) is unavailable ({exc}); "
                        "use --faces none for images that are already aligned face crops") from None
    return faces


def default_cache_dir() -> Path:
    """``$FER_DESKTOP_CACHE/crops``, else ``$XDG_CACHE_HOME/fer-desktop/crops`` (``~/.cache``)."""
    base = os.environ.get("FER_DESKTOP_CACHE")
    if base:
        return Path(base) / "crops"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fer-desktop" / "crops"


def read_bgr(path: Path) -> np.ndarray:
    """Any common image format (grey/colour, 8/16-bit, alpha) -> BGR uint8, via trainer.faces."""
    faces = faces_module()
    try:
        return faces.read_image(path)
    except faces.ImageReadError as exc:
        raise DataError(str(exc)) from None


def _to_grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    grey = _to_grey(image)
    if grey.dtype != np.uint8:
        grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if grey.shape == (size, size):
        return grey
    interp = cv2.INTER_AREA if max(grey.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(grey, (size, size), interpolation=interp)


def make_pipeline(options: FaceOptions) -> Any:
    faces = faces_module()
    try:
        detector = faces.create_detector(options.detector)
    except faces.DetectorUnavailable as exc:
        raise DataError(f"face detector {options.detector!r}: {exc}") from None
    return faces.FacePipeline(detector, faces.FaceAligner(options.align_config()))


def crop_one(path: Path, options: FaceOptions, pipeline: Any) -> tuple[np.ndarray, str]:
    """One file -> (crop, how it was made: detect | crop | asis)."""
    image = read_bgr(path)
    if options.mode == "none":
        return _fit(image, options.crop_size), "asis"
    use_detect = options.mode == "detect" or (
        options.mode == "auto" and max(image.shape[:2]) > options.auto_max_side)
    if use_detect:
        faces = pipeline.process(image)
        if faces:
            return _fit(faces[0].crop, options.crop_size), "detect"  # largest first
        if options.mode == "detect":
            return _fit(image, options.crop_size), "asis"
    aligned = pipeline.process_crop(image)
    if aligned is not None and not getattr(aligned, "fallback", False):
        return _fit(aligned.crop, options.crop_size), "crop"
    # No face: the whole image (the pipeline's fallback stretches it as the aligner would).
    return _fit(aligned.crop if aligned is not None else image, options.crop_size), "asis"


UNREADABLE = "unreadable"


@dataclass
class CropResult:
    crops: np.ndarray  # (N, S, S) uint8 (zeros for unreadable files)
    methods: list[str]  # per file: detect | crop | asis | unreadable
    detector: str | None  # the back-end that ran (what "auto" resolved to); None for mode none
    errors: dict[str, str] = field(default_factory=dict)  # unreadable file -> why


def cache_key(root: Path, files: list[str], options: FaceOptions) -> str:
    stats = []
    for rel in files:
        st = (root / rel).stat()
        stats.append([rel, st.st_size, st.st_mtime_ns])
    prep = options.describe()
    if options.mode != "none":
        prep["faces_version"] = getattr(faces_module(), "__version__", "")
    blob = json.dumps({"v": CACHE_VERSION, "root": str(root.resolve()), "files": stats, "prep": prep},
                      sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _from_cache(files: list[str], size: int) -> Callable[[dict[str, np.ndarray]], CropResult]:
    def read(data: dict[str, np.ndarray]) -> CropResult:
        n = len(files)
        expect([str(f) for f in data["files"]] == files, "other files")
        crops, methods = data["crops"], [str(m) for m in data["methods"]]
        expect(crops.dtype == np.uint8 and crops.shape == (n, size, size), f"crops of shape {crops.shape}")
        expect(len(methods) == n, "methods")
        errors = {str(f): str(e) for f, e in zip(data.get("error_files", []), data.get("error_texts", []))}
        return CropResult(crops, methods, str(data["detector"]) or None, errors)
    return read


def _to_cache(files: list[str], result: CropResult) -> dict[str, np.ndarray]:
    return {"files": np.array(files), "crops": result.crops, "methods": np.array(result.methods),
            "detector": np.array(result.detector or ""), "error_files": np.array(list(result.errors), dtype=str),
            "error_texts": np.array(list(result.errors.values()), dtype=str)}


def prepare_crops(root: str | Path, files: list[str], options: FaceOptions, *,
                  cache_dir: str | Path | None = None, use_cache: bool = True, pipeline: Any = None,
                  report: Callable[[str], None] | None = None) -> CropResult:
    """Crops (N, S, S) uint8 for ``files`` (relative to ``root``) and how each was made."""
    root = Path(root)
    report = report or (lambda _text: None)
    cache_path = None
    if use_cache:
        cache_path = Path(cache_dir or default_cache_dir()) / f"{cache_key(root, files, options)}.npz"
        cached = load_entry(cache_path, _from_cache(files, options.crop_size))
        if cached is not None:
            report(f"{root}: {len(files)} crops from cache {cache_path}")
            return cached
    if pipeline is None and options.mode != "none":
        pipeline = make_pipeline(options)
    crops = np.zeros((len(files), options.crop_size, options.crop_size), dtype=np.uint8)
    methods: list[str] = []
    errors: dict[str, str] = {}
    step = max(1, len(files) // 10)
    for i, rel in enumerate(files):
        try:
            crops[i], how = crop_one(root / rel, options, pipeline)
        except DataError as exc:  # this file is unreadable; the others go on
            how, errors[rel] = UNREADABLE, str(exc)
        methods.append(how)
        if options.mode != "none" and (i + 1) % step == 0:
            report(f"{root}: faces {i + 1}/{len(files)}")
    detector = None
    if options.mode != "none":
        counts = {m: methods.count(m) for m in sorted(set(methods))}
        report(f"{root}: {len(files)} images -> crops ({', '.join(f'{k} {v}' for k, v in counts.items())})")
        detector = getattr(getattr(pipeline, "detector", None), "name", None) or options.detector
    result = CropResult(crops, methods, detector, errors)
    if cache_path is not None:
        save_entry(cache_path, _to_cache(files, result))
    return result
