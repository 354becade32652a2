"""Collecting faces from the live view into a dataset of one's own, Qt-free.

A face is saved as the frame's region around its box with a margin of context (the way SFEW's
organisers cropped their faces), not as the model's aligned input: the folder declares that it
holds face crops, so every model, review and training run makes its own input from them the
way the app does (pad, find the face again, align). Labelled faces go into class folders,
the others into ``unlabelled/``, to be labelled in the review window; the folder is a dataset
``fer-train`` and ``fer-desktop review`` read as it is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.classes import UNLABELLED
from trainer.data.samples import DataError
from trainer.faces.io import write_image

# Context around the detector's box, as a share of its side, each way: enough for the aligner
# to find the eyes again and for the paper's crop box (1.35 eye distances below the eyes).
MARGIN = 0.4


def face_region(frame: np.ndarray, box: Sequence[float], margin: float = MARGIN) -> np.ndarray:
    """The part of ``frame`` around an (x, y, w, h) box, grown by ``margin`` of its side each
    way and cut at the frame's edges (a copy)."""
    x, y, w, h = box
    height, width = frame.shape[:2]
    x0, y0 = max(0, int(round(x - margin * w))), max(0, int(round(y - margin * h)))
    x1, y1 = min(width, int(round(x + w + margin * w))), min(height, int(round(y + h + margin * h)))
    if x1 <= x0 or y1 <= y0:
        raise DataError(f"the face box {tuple(round(v) for v in box)} lies outside the {width}x{height} frame")
    return frame[y0:y1, x0:x1].copy()


class FaceCollection:
    """A folder the live view saves faces into: ``<Class>/`` per label, ``unlabelled/`` for the
    rest, and ``fer-dataset.json`` saying these are face crops."""

    def __init__(self, root: str | Path, classes: Sequence[str]) -> None:
        from trainer.data.input_kinds import declared_input, write_declaration

        self.root = Path(root).expanduser()
        self.classes = tuple(classes)
        self.root.mkdir(parents=True, exist_ok=True)
        if declared_input(self.root) != "crop":
            write_declaration(self.root, "crop")

    def folder_for(self, label: str | None) -> Path:
        if label is not None and label not in self.classes:
            raise DataError(f"no class {label!r}; classes: {', '.join(self.classes)}")
        return self.root / (label.capitalize() if label is not None else UNLABELLED)

    def save(self, frame: np.ndarray, box: Sequence[float], label: str | None = None) -> Path:
        """Write one face (PNG, as captured) under its label's folder; returns the file."""
        folder = self.folder_for(label)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = 0
        while (path := folder / f"{stamp}-{n:02d}.png").exists():
            n += 1
        return write_image(path, face_region(frame, box))

    def counts(self) -> dict[str, int]:
        """Faces saved so far, per label (``unlabelled`` included), for the status line."""
        from trainer.faces.io import images_under

        out = {}
        for label in (*self.classes, None):
            folder = self.folder_for(label)
            n = len(images_under(folder)) if folder.is_dir() else 0
            if n:
                out[label or UNLABELLED] = n
        return out
