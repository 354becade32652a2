"""Reading images from disk, robustly: ``cv2.imread`` returns None on any failure and cannot
open non-ASCII paths on Windows, so the bytes are read in Python (regular files only, of a
bounded size), the header's pixel count is checked with Pillow, and ``cv2.imdecode``
decodes; every failure becomes an ``ImageReadError`` that says why."""

from __future__ import annotations

import io
import os
import stat
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from trainer.errors import UserError

from .types import as_uint8

# The one list of image file types: folders are searched for these, file dialogs offer them.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".tif", ".tiff", ".webp",
                    ".pgm", ".ppm", ".pbm", ".pnm")
# Videos the app plays and `fer-train align` samples frames from (what OpenCV's FFmpeg reads).
VIDEO_EXTENSIONS = (".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv")
# Limits, checked before anything is decoded (a 19 kB JPEG can claim 30000x30000 pixels):
# a 100-megapixel photo decodes to 300 MB, and reading it takes under 1.5 GB at its peak.
MAX_FILE_BYTES = 512 << 20
MAX_IMAGE_PIXELS = 100_000_000
_MAX_DECODED_BYTES = 1 << 30  # the decoder's own buffer, 16-bit and alpha channels included
_JPEG_MAGIC = b"\xff\xd8\xff"


class ImageReadError(UserError, ValueError):
    """A file that is missing, unreadable or not a decodable image."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8 (H, W, 3).

    Grey images are expanded to three channels, 16-bit ones scaled to 8 bits, float TIFFs
    taken as [0, 1] (or [0, 255] when brighter), and alpha is composited onto black (the
    colour of transparent pixels is undefined). JPEGs are decoded with EXIF orientation
    applied; multi-page TIFFs give their first page. Only regular files are read (a FIFO or
    a device would block or never end), of at most ``MAX_FILE_BYTES`` and
    ``MAX_IMAGE_PIXELS``; anything else is an ``ImageReadError`` that says why.
    """
    return decode_image(read_file_bytes(path, MAX_FILE_BYTES, "image"), name=str(path))


def read_file_bytes(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """A regular file's bytes, refusing what is not one (before blocking on it) or is
    larger than ``limit``; ImageReadError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise ImageReadError(f"{path}: is a directory, not an {what}")
    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ImageReadError(f"{path}: not a regular file (a pipe, device or socket), not an {what}")
        if st.st_size == 0:
            raise ImageReadError(f"{path}: empty file")
        if st.st_size > limit:
            raise ImageReadError(f"{path}: {st.st_size / 2 ** 20:.0f} MB is more than the {limit >> 20} MB "
                                 f"fer-desktop reads as an {what}")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise ImageReadError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ImageReadError(f"{path}: more than the {limit >> 20} MB fer-desktop reads as an {what}")
    return data


def image_header(data: bytes | np.ndarray, name: str = "<bytes>") -> tuple[str, int, int]:
    """(format, width, height) from the header alone, refusing images too large to decode."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    raw = data if isinstance(data, (bytes, bytearray)) else np.ascontiguousarray(data).tobytes()
    supported = ", ".join(e[1:] for e in IMAGE_EXTENSIONS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:  # reads the header only
                fmt, (width, height), bands = im.format or "?", im.size, len(im.getbands())
                sample = 4 if im.mode in ("I", "F") else 2 if fmt in ("PNG", "TIFF", "PPM") else 1
    except Image.DecompressionBombError:
        raise ImageReadError(f"{name}: more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels; "
                             "downscale it first") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, EOFError) as exc:
        detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({' '.join(str(exc).split())})"
        raise ImageReadError(f"{name}: not an image fer-desktop can read{detail} (supported: {supported})") from None
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{name}: {fmt} header says {width}x{height} pixels")
    if width * height > MAX_IMAGE_PIXELS or width * height * bands * sample > _MAX_DECODED_BYTES:
        raise ImageReadError(f"{name}: {width}x{height} pixels is more than the {MAX_IMAGE_PIXELS // 1_000_000} "
                             "megapixels fer-desktop reads; downscale it first")
    return fmt, width, height


def decode_image(data: bytes | np.ndarray, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, BMP, TIFF, WebP, ...) to BGR uint8; the size the
    header claims is checked first (``MAX_IMAGE_PIXELS``)."""
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if buf.size == 0:
        raise ImageReadError(f"{name}: empty file")
    image_header(data if not isinstance(data, memoryview) else bytes(data), name)
    image = None
    try:
        if bytes(buf[:3]) == _JPEG_MAGIC:
            # JPEG has no alpha or 16-bit; IMREAD_COLOR applies the EXIF orientation.
            image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        else:
            image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageReadError(f"{name}: corrupt or unsupported image ({str(exc).strip().splitlines()[-1]})") from None
    if image is None or image.size == 0:
        raise ImageReadError(
            f"{name}: not an image OpenCV can decode (supported: {', '.join(e[1:] for e in IMAGE_EXTENSIONS)})")
    return _to_bgr8(image, name)


def _to_bgr8(image: np.ndarray, name: str = "<image>") -> np.ndarray:
    """Decoded pixels of any layout -> BGR uint8, with no float copy of the whole image."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    image = as_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (2, 3, 4):
        raise ImageReadError(f"{name}: unsupported image layout {image.shape}")
    if image.shape[2] == 3:
        return np.ascontiguousarray(image)
    # Alpha composited onto black: colour * alpha / 255, rounded.
    colour = image[:, :, :3] if image.shape[2] == 4 else cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    alpha = cv2.cvtColor(np.ascontiguousarray(image[:, :, -1]), cv2.COLOR_GRAY2BGR)
    return cv2.multiply(np.ascontiguousarray(colour), alpha, scale=1 / 255.0)


def find_images(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files given directly (whatever their extension), and the image files found recursively
    in the directories given, in sorted order."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from images_under(p)
        else:
            yield p


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write ``image`` in the format its suffix names (PNG, JPEG ...); encoded in memory and
    written with numpy, so non-ASCII paths work on every platform (cv2.imwrite's do not on
    Windows). An OSError when it cannot be written."""
    path = Path(path)
    try:
        ok, buf = cv2.imencode(path.suffix or ".png", image)
    except cv2.error:  # no encoder for that suffix
        ok = False
    if not ok:
        raise OSError(f"could not encode {path.name} as {path.suffix or '.png'}")
    buf.tofile(str(path))
    return path


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@contextmanager
def _opened_video(path: str | os.PathLike) -> Iterator[cv2.VideoCapture]:
    """An open capture of a video file, released on leaving; an ImageReadError when there is none."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such video")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ImageReadError(f"{path}: not a video OpenCV can read")
        yield cap
    finally:
        cap.release()


def video_frames(path: str | os.PathLike, every_s: float) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, BGR frame) for one frame every ``every_s`` seconds of a video, from the
    first; an ImageReadError when it cannot be opened or holds no frame."""
    with _opened_video(path) as cap:
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and np.isfinite(fps) and 1 <= fps <= 240 else 25.0  # broken headers: a usual rate
        step = max(1, round(every_s * fps))
        index = 0
        while True:
            ok = cap.grab()  # grab without decoding the frames that are skipped
            if not ok:
                break
            if index % step == 0:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    yield index, frame
            index += 1
        if index == 0:
            raise ImageReadError(f"{path}: no frame could be read")


def read_video_frame(path: str | os.PathLike, index: int) -> np.ndarray:
    """Frame ``index`` of a video (BGR), the frame :func:`video_frames` numbers so; an
    ImageReadError when the video or the frame cannot be read."""
    with _opened_video(path) as cap:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)  # FFmpeg seeks to the keyframe before and decodes on
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ImageReadError(f"{path}: no frame {index}")
        return frame


def videos_under(folder: Path) -> list[Path]:
    """The video files under ``folder``, recursively, sorted (hidden ones left out)."""
    return _files_under(folder, is_video_name)


def images_under(folder: Path) -> list[Path]:
    """The image files under ``folder``, recursively, sorted; hidden files and folders are
    left out, and symlinked folders are not followed (a link to a parent would loop)."""
    return _files_under(folder, is_image_name)


def _files_under(folder: Path, wanted: Callable[[str], bool]) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            p = Path(dirpath) / f
            if not f.startswith(".") and wanted(f) and p.is_file():
                found.append(p)
    return sorted(found)
