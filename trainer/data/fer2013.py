"""FER-2013's original csv (``emotion,pixels,Usage``; ``.csv`` or ``.csv.gz``)."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import DataError, SampleSet

FER_SIZE = 48
FER_SPLITS = ("Training", "PublicTest", "PrivateTest")
_REQUIRED_COLUMNS = ("emotion", "pixels")


def open_text(path: Path) -> io.TextIOBase:
    """A csv file as text, gunzipped on the fly when it is gzip (by its first bytes, whatever
    its name says); a UTF-8 byte-order mark is skipped."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


# What reading a csv (or a broken gzip stream under it) can raise for a bad file.
READ_ERRORS = (OSError, EOFError, UnicodeDecodeError, csv.Error, zlib.error)


def check_regular_file(path: Path, what: str) -> None:
    """A DataError unless ``path`` is a regular file (a FIFO or device would block or never end)."""
    if not path.exists():
        raise DataError(f"{what} not found: {path}")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file, not a {what}")


def read_header(reader: csv.DictReader) -> list[str]:
    """The column names of a csv reader, stripped (``emotion, pixels`` is ``emotion,pixels``)."""
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    return header


def csv_header(path: str | Path) -> list[str]:
    """The column names of a (possibly gzipped) csv; a DataError when it cannot be read."""
    path = Path(path)
    check_regular_file(path, "csv file")
    try:
        with open_text(path) as fh:
            return [c.strip() for c in next(csv.reader(fh), [])]
    except READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read as csv: {exc}") from None


_DIGITS_AND_BLANKS = np.zeros(256, dtype=bool)
_DIGITS_AND_BLANKS[[ord(c) for c in "0123456789 \t"]] = True


def parse_pixels(text: str) -> np.ndarray | None:
    """Blank-separated decimal integers -> int64, or None when anything else is there.

    numpy's C text parser, three times faster than ``np.array(text.split(), int64)`` (FER-2013's
    35,887 rows: 4.5 s instead of 14 s of a 24 s cold load; bench/trainer_overhead.py). It
    stops at the first character it cannot read (with a warning, not an error), so the text
    is checked to hold only digits and blanks first, which it then reads to the end."""
    raw = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
    if not _DIGITS_AND_BLANKS[raw].all():
        return None
    return np.fromstring(text, dtype=np.int64, sep=" ")


def parse_row(row: dict[str, str], where: str) -> tuple[int, np.ndarray]:
    """(label, 48x48 uint8 image) of one data row; a DataError naming the line otherwise."""
    try:
        label = int(row["emotion"])
    except (TypeError, ValueError):
        raise DataError(f"{where}: emotion {row['emotion']!r} is not an integer") from None
    if not 0 <= label < len(BASIC_CLASSES):
        raise DataError(f"{where}: emotion {label} outside 0..{len(BASIC_CLASSES) - 1}")
    pixels = parse_pixels(row["pixels"] or "")
    if pixels is None:
        raise DataError(f"{where}: pixels are not all integers from 0 to 255")
    if pixels.size != FER_SIZE * FER_SIZE:
        raise DataError(f"{where}: {pixels.size} pixels, expected {FER_SIZE * FER_SIZE} (48x48)")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{where}: pixel values outside 0..255")
    return label, pixels.astype(np.uint8).reshape(FER_SIZE, FER_SIZE)


def read_fer2013(path: str | Path, usages: tuple[str, ...] | None = None,
                 limit: int | None = None) -> dict[str, SampleSet]:
    """Read the csv into one SampleSet per ``Usage`` value (all rows under "all" when absent).

    Sample ids are ``fer2013:<row>`` with the 0-based data row, which lines up with FER+.
    Malformed rows raise a DataError that names the line and what is wrong with it.
    ``limit`` reads only the file's first ``limit`` data rows (quick looks, tests).
    """
    path = Path(path)
    check_regular_file(path, "FER-2013 csv")
    rows_by_usage: dict[str, tuple[list[int], list[int], list[np.ndarray]]] = {}
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = read_header(reader)
            missing = [c for c in _REQUIRED_COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{path}: not a FER-2013 csv: missing column(s) {', '.join(missing)} "
                    f"(header is {','.join(header) or 'empty'}; expected emotion,pixels,Usage)"
                )
            for row_index, row in enumerate(reader):
                if limit is not None and row_index >= limit:
                    break
                usage = (row.get("Usage") or "all").strip()
                if usages is not None and usage not in usages:
                    continue
                label, image = parse_row(row, f"{path}:{row_index + 2}")
                ids, labels, images = rows_by_usage.setdefault(usage, ([], [], []))
                ids.append(row_index)
                labels.append(label)
                images.append(image)
    except READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read as csv: {' '.join(str(exc).split())}") from None
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
