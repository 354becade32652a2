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


def face_region(frame: np.ndarray, box: Sequence[float], margin: float = MARGIN,
                others: Sequence[Sequence[float]] = ()) -> np.ndarray:
    """The part of ``frame`` around an (x, y, w, h) box, grown by ``margin`` of its side each
    way and cut at the frame's edges (a copy). The context stops where one of the ``others``
    (the frame's other faces) begins, never inside the box itself: a neighbour's face in the
    region could be the one found again when the crop is read (the largest face wins)."""
    x, y, w, h = box
    height, width = frame.shape[:2]
    x0, y0 = max(0.0, x - margin * w), max(0.0, y - margin * h)
    x1, y1 = min(float(width), x + w + margin * w), min(float(height), y + h + margin * h)
    for ox, oy, ow, oh in others:
        if ox + ow <= x0 or ox >= x1 or oy + oh <= y0 or oy >= y1:
            continue  # outside the region already
        # Give up the side the neighbour lies on: the one it overlaps least of the box's.
        gaps = {"left": x - (ox + ow), "right": ox - (x + w), "top": y - (oy + oh), "bottom": oy - (y + h)}
        side = max(gaps, key=gaps.get)
        if side == "left":
            x0 = max(x0, min(x, ox + ow))
        elif side == "right":
            x1 = min(x1, max(x + w, ox))
        elif side == "top":
            y0 = max(y0, min(y, oy + oh))
        else:
            y1 = min(y1, max(y + h, oy))
    c0, r0, c1, r1 = (int(round(v)) for v in (x0, y0, x1, y1))
    if c1 <= c0 or r1 <= r0:
        raise ValueError(f"the face box {tuple(round(v) for v in box)} lies outside the {width}x{height} frame")
    return frame[r0:r1, c0:c1].copy()


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

    def save(self, frame: np.ndarray, box: Sequence[float], label: str | None = None,
             others: Sequence[Sequence[float]] = ()) -> Path:
        """Write one face (PNG, as captured; ``others``: the frame's other faces, kept out of its
        context) under its label's folder; returns the file."""
        folder = self.folder_for(label)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = 0
        while (path := folder / f"{stamp}-{n:02d}.png").exists():
            n += 1
        return write_image(path, face_region(frame, box, others=others))

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
