"""Image files -> aligned grey face crops of one size, cached on disk.

Every image goes through :func:`trainer.faces.prepare.prepare_faces`, the path the app and
``predict`` take, with the input kind its mode names (``FaceOptions.mode``):

* ``detect`` (input kind ``photo``): detect and align, keep the largest face;
* ``crops`` (input kind ``crop``): face crops (FER-2013's, SFEW's): pad, find the face again
  and re-align it, else use the crop as it is;
* ``auto``: detect; when nothing is found in a small face-shaped image, the crop path;
* ``none``: no face processing: the image, grey, resized (the old protocol for ready-made
  crops, tests).

``photo`` and ``crop`` are accepted as spellings of ``detect`` and ``crops``. An image in
which no face is found (a photo) still yields one crop, the whole image (method
``noface``), so an evaluation counts every image; ``methods`` says how each crop was made
(detect | crop | asis | noface). A file that cannot be read (corrupt, empty, too large) is
marked ``unreadable`` with the reason in ``errors``, and the loaders leave it out, saying so,
instead of losing the whole dataset.

Detection is slow, so results are cached: ``<cache>/<sha256>.npz`` where the hash covers the
dataset root, every file's relative path, size and mtime (or, for arrays such as FER-2013's,
the pixels), the preprocessing settings (input kind and aligner config included) and the
detector back-end that runs. Change any of them and a new cache entry is made.
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
# The input kinds of trainer.faces.prepare, as spellings of the modes (and back).
MODE_ALIASES = {"photo": "detect", "crop": "crops"}
INPUT_OF_MODE = {"detect": "photo", "crops": "crop", "auto": "auto"}
NO_FACE = "noface"  # no face found in a photo: the whole image stands in, so the sample counts
CACHE_VERSION = 3  # bump when the crop-making code changes meaning (3: one path with the app)


@dataclass(frozen=True)
class FaceOptions:
    mode: str = "auto"
    crop_size: int = 96  # the cached crops' side; training resizes to its input size anyway
    detector: str = "auto"
    aligner: dict[str, Any] = field(default_factory=dict)  # AlignConfig overrides (size is crop_size)
    auto_max_side: int = 320  # auto: a no-face image this small (and face-shaped) is taken as a crop

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", MODE_ALIASES.get(self.mode, self.mode))
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

    @property
    def input_kind(self) -> str | None:
        """The input kind of trainer.faces.prepare this mode is (None for ``none``)."""
        return INPUT_OF_MODE.get(self.mode)

    def describe(self) -> dict[str, Any]:
        """What a model card records: enough to make the same crops at inference."""
        if self.mode == "none":
            return {**ready_crops(self.crop_size), "mode": "none"}
        return {"faces": "align", "mode": self.mode, "input": self.input_kind, "detector": self.detector,
                "grey": True, "crop_size": self.crop_size, "aligner": asdict(self.align_config())}


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
    """One file -> (crop, how it was made: detect | crop | asis | noface)."""
    return crop_image(read_bgr(path), options, pipeline)


def crop_image(image: np.ndarray, options: FaceOptions, pipeline: Any) -> tuple[np.ndarray, str]:
    """One image -> (crop, how it was made), through the app's path (trainer.faces.prepare);
    the largest face when there are several."""
    if options.mode == "none":
        return _fit(image, options.crop_size), "asis"
    from trainer.faces.prepare import prepare_faces

    prepared = prepare_faces(pipeline, image, options.input_kind, crop_max_side=options.auto_max_side)
    if prepared.faces:
        face = prepared.faces[0]
        return _fit(face.crop, options.crop_size), face.method
    # A photo without a face: the whole image (grey, stretched as the aligner would), so the
    # sample still counts in an evaluation; its method says no face was found.
    return _fit(pipeline.aligner.whole_image(image), options.crop_size), NO_FACE


UNREADABLE = "unreadable"


@dataclass
class CropResult:
    crops: np.ndarray  # (N, S, S) uint8 (zeros for unreadable files)
    methods: list[str]  # per file: detect | crop | asis | noface | unreadable
    detector: str | None  # the back-end that ran (what "auto" resolved to); None for mode none
    errors: dict[str, str] = field(default_factory=dict)  # unreadable file -> why


def cache_key(root: Path, files: list[str], options: FaceOptions) -> str:
    stats = []
    for rel in files:
        st = (root / rel).stat()
        stats.append([rel, st.st_size, st.st_mtime_ns])
    return _settings_key({"root": str(root.resolve()), "files": stats}, options)


def _settings_key(what: dict[str, Any], options: FaceOptions) -> str:
    """The cache key of ``what`` (the files or pixels) made with ``options``: the input kind,
    the aligner and the detector back-end that runs ("auto" resolved: installing dlib must
    not hand out crops another back-end made)."""
    prep = options.describe()
    if options.mode != "none":
        prep["faces_version"] = getattr(faces_module(), "__version__", "")
        prep["detector_backend"] = resolved_detector(options.detector)
    blob = json.dumps({"v": CACHE_VERSION, **what, "prep": prep}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def resolved_detector(name: str) -> str:
    """The back-end ``name`` stands for here (``auto``: the first usable one), checked
    without loading a model; the name itself when that cannot be told."""
    try:
        from trainer.faces.detectors.registry import AUTO_ORDER, available_detectors, canonical_name

        key = canonical_name(name)
        if key != "auto":
            return key
        usable = available_detectors()
        return next((n for n in AUTO_ORDER if usable.get(n) is None), key)
    except Exception:  # noqa: BLE001 - only a cache key: an unknown name fails later, with its message
        return str(name)


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
    key = cache_key(root, files, options) if use_cache else None
    return _make_crops(files, lambda rel: read_bgr(root / rel), str(root), options, key, cache_dir, pipeline, report)


def prepare_array_crops(images: np.ndarray, ids: list[str], options: FaceOptions, *, name: str,
                        cache_dir: str | Path | None = None, use_cache: bool = True, pipeline: Any = None,
                        report: Callable[[str], None] | None = None) -> CropResult:
    """Crops for images already in memory (FER-2013's 48x48 rows), one per id, cached by
    their pixels; ``name`` is what progress reports call them."""
    key = None
    if use_cache:
        digest = hashlib.sha256(np.ascontiguousarray(images).data)
        digest.update("\n".join(ids).encode("utf-8"))
        key = _settings_key({"pixels": digest.hexdigest(), "shape": list(images.shape)}, options)
    index = {sample_id: i for i, sample_id in enumerate(ids)}
    return _make_crops(list(ids), lambda sample_id: images[index[sample_id]], name, options, key, cache_dir,
                       pipeline, report)


def _make_crops(items: list[str], load: Callable[[str], np.ndarray], where: str, options: FaceOptions,
                key: str | None, cache_dir: str | Path | None, pipeline: Any,
                report: Callable[[str], None] | None) -> CropResult:
    """Crops for ``items`` (each read by ``load``), from the cache entry ``key`` when it has them."""
    report = report or (lambda _text: None)
    cache_path = None
    if key is not None:
        cache_path = Path(cache_dir or default_cache_dir()) / f"{key}.npz"
        cached = load_entry(cache_path, _from_cache(items, options.crop_size))
        if cached is not None:
            report(f"{where}: {len(items)} crops from cache {cache_path}")
            return cached
    if pipeline is None and options.mode != "none":
        pipeline = make_pipeline(options)
    crops = np.zeros((len(items), options.crop_size, options.crop_size), dtype=np.uint8)
    methods: list[str] = []
    errors: dict[str, str] = {}
    step = max(1, len(items) // 10)
    for i, item in enumerate(items):
        try:
            crops[i], how = crop_image(load(item), options, pipeline)
        except DataError as exc:  # this file is unreadable; the others go on
            how, errors[item] = UNREADABLE, str(exc)
        methods.append(how)
        if options.mode != "none" and (i + 1) % step == 0:
            report(f"{where}: faces {i + 1}/{len(items)}")
    detector = None
    if options.mode != "none":
        counts = {m: methods.count(m) for m in sorted(set(methods))}
        report(f"{where}: {len(items)} images -> crops ({', '.join(f'{k} {v}' for k, v in counts.items())})")
        detector = getattr(getattr(pipeline, "detector", None), "name", None) or options.detector
    result = CropResult(crops, methods, detector, errors)
    if cache_path is not None:
        save_entry(cache_path, _to_cache(items, result))
    return result
