"""Prepared data in one portable file: sets of aligned crops with their labels, votes, ids and
metadata, for training on a machine that has neither the datasets nor the face detectors (a
GPU server: make the crops here, train there).

A pack is an ``.npz`` (no pickles) holding each crop once, however many sets share it (FER+'s
and FER-2013's labels of the same faces, a replay set), and per set its ids, labels, vote
distributions, per-sample metadata and a JSON header with the rest (classes, name, metadata,
a free-form description such as a stage's data description). Crops are stored as they are
(``raw``, lossless) or, to fit a transfer limit, encoded per crop: ``png`` (lossless),
``webp`` / ``jpeg`` (lossy, ``quality``), optionally at a smaller ``store_size``; loading
decodes them and resizes them back to the size they had.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from trainer.data.samples import PER_SAMPLE_META, DataError, SampleSet

FORMAT = "fer-desktop-pack"
VERSION = 1
CODECS = ("raw", "png", "webp", "jpeg")
_ENCODE = {"png": (".png", cv2.IMWRITE_PNG_COMPRESSION, 9), "webp": (".webp", cv2.IMWRITE_WEBP_QUALITY, None),
           "jpeg": (".jpg", cv2.IMWRITE_JPEG_QUALITY, None)}


@dataclass
class Pack:
    sets: dict[str, SampleSet]
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)  # per set: what the saver said of it
    storage: dict[str, Any] = field(default_factory=dict)  # codec, quality, sizes: how crops travelled


def _json_meta(meta: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The metadata that is not per sample, as JSON (numpy scalars and arrays as lists)."""
    def convert(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, Path):
            return str(value)
        raise DataError(f"{where}: metadata of type {type(value).__name__} cannot be packed")

    rest = {k: v for k, v in meta.items() if k not in PER_SAMPLE_META}
    return json.loads(json.dumps(rest, default=convert))


def _encode(crop: np.ndarray, codec: str, quality: int, store_size: int | None) -> bytes:
    if store_size and crop.shape != (store_size, store_size):
        crop = cv2.resize(crop, (store_size, store_size), interpolation=cv2.INTER_AREA)
    ext, flag, fixed = _ENCODE[codec]
    ok, buf = cv2.imencode(ext, crop, [flag, fixed if fixed is not None else quality])
    if not ok:
        raise DataError(f"could not encode a crop as {codec}")
    return buf.tobytes()


def save_pack(path: str | Path, sets: Mapping[str, SampleSet], *, codec: str = "raw", quality: int = 90,
              store_size: int | None = None, notes: Mapping[str, dict[str, Any]] | None = None) -> int:
    """Write ``sets`` (by name) to ``path``; return the file's size in bytes."""
    if codec not in CODECS:
        raise DataError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
    if codec == "raw" and store_size:
        raise DataError("store_size needs an encoding codec (png, webp, jpeg)")
    arrays: dict[str, np.ndarray] = {}
    header: dict[str, Any] = {"format": FORMAT, "version": VERSION, "codec": codec, "quality": quality,
                              "store_size": store_size, "sets": {}}
    table: dict[tuple[int, bytes], int] = {}  # (side, digest) -> index in that side's table
    tables: dict[int, list[np.ndarray]] = {}
    for name, samples in sets.items():
        if "/" in name:
            raise DataError(f"set name {name!r}: no '/' allowed")
        side = samples.crop_size
        index = np.empty(len(samples), dtype=np.int64)
        for i, crop in enumerate(samples.images):
            key = (side, hashlib.blake2b(np.ascontiguousarray(crop).tobytes(), digest_size=16).digest())
            if key not in table:
                table[key] = len(tables.setdefault(side, []))
                tables[side].append(crop)
            index[i] = table[key]
        arrays[f"{name}/index"] = index
        arrays[f"{name}/ids"] = np.array(samples.ids, dtype=str)
        arrays[f"{name}/labels"] = samples.labels.astype(np.int64)
        if samples.soft_labels is not None:
            arrays[f"{name}/soft"] = samples.soft_labels.astype(np.float32)
        for key in PER_SAMPLE_META:
            if samples.meta.get(key) is not None:
                arrays[f"{name}/meta/{key}"] = np.asarray(samples.meta[key]).astype(str)
        header["sets"][name] = {"name": samples.name, "classes": list(samples.classes), "side": side,
                                "meta": _json_meta(samples.meta, name), "note": dict((notes or {}).get(name, {}))}
    for side, crops in tables.items():
        if codec == "raw":
            arrays[f"crops{side}"] = np.stack(crops)
        else:
            blobs = [_encode(c, codec, quality, store_size) for c in crops]
            arrays[f"crops{side}/bytes"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
            arrays[f"crops{side}/ends"] = np.cumsum([len(b) for b in blobs]).astype(np.int64)
    arrays["header"] = np.array(json.dumps(header))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)  # ids, labels and metadata shrink a lot; coded crops stay as they are
    return path.stat().st_size


def _decode_table(data: Any, side: int) -> np.ndarray:
    if f"crops{side}" in data.files:
        return data[f"crops{side}"]
    blob, ends = data[f"crops{side}/bytes"], data[f"crops{side}/ends"]
    starts = np.concatenate([[0], ends[:-1]])
    out = np.empty((len(ends), side, side), dtype=np.uint8)
    for i, (a, b) in enumerate(zip(starts, ends)):
        crop = cv2.imdecode(blob[a:b], cv2.IMREAD_GRAYSCALE)
        if crop is None:
            raise DataError(f"crop {i} of side {side} does not decode")
        out[i] = crop if crop.shape == (side, side) else cv2.resize(crop, (side, side), interpolation=cv2.INTER_LINEAR)
    return out


def load_pack(path: str | Path) -> Pack:
    """The sets of a pack written by :func:`save_pack`; a DataError for anything else."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable pack ({exc})") from None
    with data:
        try:
            header = json.loads(str(data["header"]))
        except (KeyError, ValueError):
            raise DataError(f"{path}: not a fer-desktop pack (no header)") from None
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise DataError(f"{path}: format {header.get('format')!r} version {header.get('version')!r}; "
                            f"this version reads {FORMAT} {VERSION}")
        tables = {side: _decode_table(data, side) for side in {s["side"] for s in header["sets"].values()}}
        sets, notes = {}, {}
        for name, info in header["sets"].items():
            meta = dict(info["meta"])
            for key in PER_SAMPLE_META:
                if f"{name}/meta/{key}" in data.files:
                    meta[key] = data[f"{name}/meta/{key}"]
            soft = data[f"{name}/soft"] if f"{name}/soft" in data.files else None
            sets[name] = SampleSet(ids=[str(i) for i in data[f"{name}/ids"]], images=tables[info["side"]][data[f"{name}/index"]],
                                   labels=data[f"{name}/labels"], classes=tuple(info["classes"]), soft_labels=soft,
                                   name=info["name"], meta=meta)
            notes[name] = info.get("note", {})
    storage = {k: header[k] for k in ("codec", "quality", "store_size")}
    return Pack(sets, notes, storage)
