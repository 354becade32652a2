"""Reading images from disk, robustly: ``cv2.imread`` returns None on any failure and cannot
open non-ASCII paths on Windows, so bytes are read with numpy and decoded with
``cv2.imdecode``; every failure becomes an ``ImageReadError`` that says why."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from .types import as_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_JPEG_MAGIC = b"\xff\xd8\xff"


class ImageReadError(ValueError):
    """A file that is missing, unreadable or not a decodable image."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8 (H, W, 3).

    Grey images are expanded to three channels, 16-bit ones scaled to 8 bits, float TIFFs
    taken as [0, 1] (or [0, 255] when brighter), and alpha is composited onto black (the
    colour of transparent pixels is undefined). JPEGs are decoded with EXIF orientation
    applied; multi-page TIFFs give their first page.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a directory, not an image")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    return decode_image(data, name=str(path))


def decode_image(data: bytes | np.ndarray, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, BMP, TIFF, WebP, ...) to BGR uint8."""
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if buf.size == 0:
        raise ImageReadError(f"{name}: empty file")
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
    return _to_bgr8(image)


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 2:  # grey + alpha
        image = np.dstack([image[:, :, 0]] * 3 + [image[:, :, 1]])
    if image.ndim == 3 and image.shape[2] == 4:
        colour = as_uint8(image[:, :, :3]).astype(np.float32)
        alpha = as_uint8(image[:, :, 3]).astype(np.float32) / 255.0
        image = (colour * alpha[:, :, None] + 0.5).astype(np.uint8)
    else:
        image = as_uint8(image)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ImageReadError(f"unsupported image layout {image.shape}")
    return np.ascontiguousarray(image)


def find_images(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files given directly (whatever their extension), and the image files found recursively
    in the directories given, in sorted order."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = [f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
            yield from sorted(found)
        else:
            yield p
