"""What a dataset says it holds: photos or face crops (the input kind of
:mod:`trainer.faces.prepare`), so every command and the app take the same path for its images.

* FER-2013 and FER+ csv files hold 48x48 face crops: ``crop``.
* Known crop datasets, recognised by their folder name (SFEW 2.0: the organisers' aligned
  crops, ``sfew*``): ``crop``.
* Any dataset folder can say it itself with a ``fer-dataset.json`` file in its root:
  ``{"input": "crop"}`` (or ``"photo"``, ``"auto"``); the review's corrected copies get one.
* A folder of faces the app cut as model input (the review's every face,
  :mod:`trainer.data.every_face`) declares ``"none"``: used as they are by the commands that
  score a dataset (their ``--input none``) and by training; one such image opened alone is a
  face crop (:func:`image_kind`).
* Anything else declares nothing: ``auto``.

A file or folder inside a dataset (``sfew2/Val/Happy/x.png``) has its dataset's kind: the
lookup walks up a few levels (class folder, split folder, dataset root). Light to import and
to call (a few stat calls): the predict commands and the window call it per opened path.
"""

from __future__ import annotations

import json
from pathlib import Path

INPUT_KINDS = ("auto", "photo", "crop")  # trainer.faces.prepare.INPUT_KINDS, without importing it
AS_IS = "none"  # a dataset's images are model input already: no face step
DECLARABLE = (*INPUT_KINDS, AS_IS)
DATASET_FILE = "fer-dataset.json"
KNOWN_CROP_DATASETS = ("sfew",)  # folder-name prefixes (lower case) of face-crop datasets
CSV_SUFFIXES = (".csv", ".gz")
# image -> class folder -> split folder -> dataset root: how far up a path may name its dataset
MAX_LEVELS = 4


def declared_input(path: str | Path) -> str | None:
    """The input kind the dataset at or around ``path`` declares, or None when none does."""
    path = Path(path).expanduser()
    try:
        path = path.resolve()
    except OSError:
        return None
    if path.suffix.lower() in CSV_SUFFIXES and path.name.lower().removesuffix(".gz").endswith(".csv"):
        return "crop"  # a FER-2013 / FER+ csv: 48x48 crops
    for level, folder in enumerate([path, *path.parents]):
        if level >= MAX_LEVELS:
            break
        declared = _dataset_file(folder)
        if declared is not None:
            return declared
        if folder.name.lower().startswith(KNOWN_CROP_DATASETS):
            return "crop"
    return None


def _dataset_file(folder: Path) -> str | None:
    """The kind a ``fer-dataset.json`` in ``folder`` names; None when there is none or it
    names no valid kind (a broken note must not stop anyone opening their images)."""
    note = folder / DATASET_FILE
    try:
        if not note.is_file() or note.stat().st_size > 1 << 16:
            return None
        data = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = data.get("input") if isinstance(data, dict) else None
    return kind if kind in DECLARABLE else None


def image_kind(kind: str) -> str:
    """The input kind for one image of a dataset declaring ``kind``: an image of model input
    (``none``) opened alone is a face crop (pad, find the face again, else as it is)."""
    return "crop" if kind == AS_IS else kind


def input_for(path: str | Path, given: str | None = None) -> str:
    """The input kind for a dataset (or one of its images: :func:`image_kind` of it): ``given``
    when set, else what the dataset declares, else ``auto``."""
    return given or declared_input(path) or "auto"


def write_declaration(root: str | Path, kind: str) -> Path:
    """Write ``fer-dataset.json`` declaring ``kind`` into a dataset folder."""
    if kind not in DECLARABLE:
        raise ValueError(f"input kind {kind!r}: expected one of {', '.join(DECLARABLE)}")
    note = Path(root) / DATASET_FILE
    note.write_text(json.dumps({"input": kind}) + "\n", encoding="utf-8")
    return note
