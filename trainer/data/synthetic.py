"""Synthetic labelled "faces": one texture per class, in every on-disk format the readers take.

For tests and smoke runs without real data: each class is a distinct pattern (stripes of one
orientation, a checkerboard, a disc ...) with random phase, contrast and noise, so a small
network separates them in a few epochs while chance stays at 1 / classes.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import cv2
import numpy as np

from trainer.classes import BASIC_CLASSES

PATTERNS = ("hstripes", "vstripes", "checker", "disc", "diagonal", "ring", "blank")


def pattern_image(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size) uint8 image of pattern ``label`` (0..6)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    freq = rng.uniform(3.0, 4.5)
    phase = rng.uniform(0, 2 * np.pi)
    kind = PATTERNS[label]
    if kind == "hstripes":
        base = np.sin(2 * np.pi * freq * y + phase)
    elif kind == "vstripes":
        base = np.sin(2 * np.pi * freq * x + phase)
    elif kind == "checker":
        base = np.sign(np.sin(2 * np.pi * freq * x + phase) * np.sin(2 * np.pi * freq * y + phase))
    elif kind == "disc":
        r = np.hypot(x - 0.5 - rng.uniform(-0.05, 0.05), y - 0.5 - rng.uniform(-0.05, 0.05))
        base = np.where(r < rng.uniform(0.2, 0.3), 1.0, -1.0)
    elif kind == "diagonal":
        base = np.sin(2 * np.pi * freq * (x + y) / np.sqrt(2) + phase)
    elif kind == "ring":
        r = np.hypot(x - 0.5, y - 0.5)
        base = np.sin(2 * np.pi * freq * 1.5 * r + phase)
    else:
        base = np.zeros_like(x)
    contrast = rng.uniform(60, 100)
    image = 128 + contrast * base + rng.normal(0, 12, size=base.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def pattern_set(n: int, num_classes: int, size: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images with balanced labels 0..num_classes-1, shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % num_classes)
    images = np.stack([pattern_image(int(k), size, rng) for k in labels])
    return images, labels


def write_fer_csv(path: str | Path, splits: dict[str, int], num_classes: int = 4, seed: int = 0) -> Path:
    """A FER-2013-format csv (gzipped when the name ends in .gz) with ``splits`` = {Usage: rows}."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i, (usage, n) in enumerate(splits.items()):
            images, labels = pattern_set(n, num_classes, 48, seed + i)
            for image, label in zip(images, labels):
                writer.writerow([int(label), " ".join(map(str, image.ravel())), usage])
    return path


def write_ferplus_csv(path: str | Path, rows: list[tuple[str, str, list[int]]]) -> Path:
    """A FER+ votes csv from (Usage, Image name, 10 vote counts) rows."""
    from trainer.data.ferplus import VOTE_COLUMNS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Usage", "Image name", *VOTE_COLUMNS])
        for usage, name, votes in rows:
            writer.writerow([usage, name, *votes])
    return path


def write_class_folders(root: str | Path, n_per_class: int, *, class_names: list[str] | None = None,
                        splits: list[str] | None = None, ext: str = "png", colour: bool = False,
                        size: int = 48, seed: int = 0, depth16: bool = False) -> Path:
    """``root[/<split>]/<Class>/<i>.<ext>`` images of the patterns; class k gets pattern k.

    ``class_names`` are folder names in any accepted spelling (default: the first four basic
    classes, capitalised); ``colour`` writes BGR, ``depth16`` 16-bit (PNG/TIFF only).
    """
    root = Path(root)
    class_names = class_names or [c.capitalize() for c in BASIC_CLASSES[:4]]
    rng = np.random.default_rng(seed)
    for split in splits or [""]:
        for k, name in enumerate(class_names):
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                image = pattern_image(k % len(PATTERNS), size, rng)
                if colour:
                    image = cv2.merge([image, (image * 0.8).astype(np.uint8), image // 2])
                if depth16:
                    image = image.astype(np.uint16) * 257
                if not cv2.imwrite(str(folder / f"{i:03d}.{ext}"), image):
                    raise OSError(f"could not write {folder / f'{i:03d}.{ext}'}")
    return root
