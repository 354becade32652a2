"""FER-2013's original csv (``emotion,pixels,Usage``; ``.csv`` or ``.csv.gz``)."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import DataError, SampleSet

FER_SIZE = 48
FER_SPLITS = ("Training", "PublicTest", "PrivateTest")
_REQUIRED_COLUMNS = ("emotion", "pixels")


def open_text(path: Path) -> io.TextIOBase:
    """A csv file as text, gunzipped on the fly for ``.gz``."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def csv_header(path: str | Path) -> list[str]:
    """The column names of a (possibly gzipped) csv; a DataError when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"csv file not found: {path}")
    try:
        with open_text(path) as fh:
            return [c.strip() for c in next(csv.reader(fh), [])]
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read as csv: {exc}") from None


def read_fer2013(path: str | Path, usages: tuple[str, ...] | None = None,
                 limit: int | None = None) -> dict[str, SampleSet]:
    """Read the csv into one SampleSet per ``Usage`` value (all rows under "all" when absent).

    Sample ids are ``fer2013:<row>`` with the 0-based data row, which lines up with FER+.
    Malformed rows raise a DataError that names the line and what is wrong with it.
    ``limit`` reads only the file's first ``limit`` data rows (quick looks, tests).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"FER-2013 csv not found: {path}")
    rows_by_usage: dict[str, tuple[list[int], list[int], list[np.ndarray]]] = {}
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in _REQUIRED_COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{path}: not a FER-2013 csv: missing column(s) {', '.join(missing)} "
                    f"(header is {','.join(header) or 'empty'}; expected emotion,pixels,Usage)"
                )
            for row_index, row in enumerate(reader):
                if limit is not None and row_index >= limit:
                    break
                line = row_index + 2
                usage = (row.get("Usage") or "all").strip()
                if usages is not None and usage not in usages:
                    continue
                try:
                    label = int(row["emotion"])
                except (TypeError, ValueError):
                    raise DataError(f"{path}:{line}: emotion {row['emotion']!r} is not an integer") from None
                if not 0 <= label < len(BASIC_CLASSES):
                    raise DataError(f"{path}:{line}: emotion {label} outside 0..{len(BASIC_CLASSES) - 1}")
                try:
                    pixels = np.array((row["pixels"] or "").split(), dtype=np.int32)
                except ValueError:
                    raise DataError(f"{path}:{line}: pixels are not all integers") from None
                if pixels.size != FER_SIZE * FER_SIZE:
                    raise DataError(f"{path}:{line}: {pixels.size} pixels, expected {FER_SIZE * FER_SIZE} (48x48)")
                if pixels.min() < 0 or pixels.max() > 255:
                    raise DataError(f"{path}:{line}: pixel values outside 0..255")
                ids, labels, images = rows_by_usage.setdefault(usage, ([], [], []))
                ids.append(row_index)
                labels.append(label)
                images.append(pixels.astype(np.uint8).reshape(FER_SIZE, FER_SIZE))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read as csv: {exc}") from None
    if not rows_by_usage:
        raise DataError(f"{path}: no data rows" + (f" with Usage in {usages}" if usages else ""))
    return {
        usage: SampleSet(
            ids=[f"fer2013:{i}" for i in ids],
            images=np.stack(images),
            labels=np.array(labels, dtype=np.int64),
            classes=BASIC_CLASSES,
            name=f"fer2013/{usage}",
            meta={"rows": np.array(ids, dtype=np.int64)},
        )
        for usage, (ids, labels, images) in rows_by_usage.items()
    }
