"""Every face of many images and videos, aligned and written as crops: the work of ``fer-train
align`` and of the review's "every face" opening, one PNG per face plus ``faces.json``.

``faces.json`` holds one record per image (per sampled frame for a video): the file, its size,
the frame index for a video, and its faces (box, eyes, score, the crop's name), or the error
that kept the file from being read. Coordinates are the input image's pixels.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import UserError
from trainer.faces.io import write_image

MANIFEST = "faces.json"


class AlignError(UserError, RuntimeError):
    """Nothing to align, or nothing could be read."""


@dataclass
class AlignOptions:
    every_s: float = 1.0  # videos: one frame every so many seconds
    pre_cropped: bool = False  # inputs are face crops: pad, keep one face (the whole image when none)
    max_faces: int = 0  # keep the largest N faces of an image (0: all)


@dataclass
class AlignResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0  # files given or found

    @property
    def files_read(self) -> int:
        return len({r["image"] for r in self.records if "error" not in r})

    @property
    def frames(self) -> int:
        return sum("frame" in r for r in self.records)

    @property
    def faces(self) -> int:
        return sum(len(r.get("faces", [])) for r in self.records)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "error" in r]


def input_files(inputs: list[str | os.PathLike], warn: Callable[[str], None] | None = None
                ) -> list[tuple[Path, Path | None]]:
    """(file, the directory it was found in) for every file named or found in a directory:
    images, then the videos found beside them."""
    from trainer.faces.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, find_images, videos_under

    files: list[tuple[Path, Path | None]] = []
    for p in map(Path, inputs):
        if p.is_dir():
            found = list(find_images([p])) + videos_under(p)
            if not found and warn is not None:
                warn(f"no images or videos found in {p}")
            files += [(f, p) for f in found]
        else:
            files.append((p, None))
    if not files:
        raise AlignError("no input images or videos found (searched for "
                         + ", ".join(e[1:] for e in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS) + ")")
    return files


class _Writer:
    """Writes each image's crops under the output folder, with unique names."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.used: set[str] = set()

    def faces(self, path: Path, root: Path | None, aligned: list[Any]) -> list[dict[str, Any]]:
        stem = output_stem(path, root)
        faces = []
        for i, a in enumerate(aligned):
            name = _unique(f"{stem}_face{i}.png", self.used)
            target = self.out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            write_image(target, a.crop)
            entry = a.face.to_dict()
            entry["crop"] = name
            entry["eye_source"] = a.face.eye_source
            if getattr(a, "fallback", False):
                entry["fallback"] = True
            faces.append(entry)
        return faces


def align_files(files: list[tuple[Path, Path | None]], out_dir: Path, pipeline: Any, options: AlignOptions, *,
                progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None,
                warn: Callable[[str], None] | None = None, prog: str = "fer-train align") -> AlignResult:
    """Align every face of ``files`` (from :func:`input_files`) into ``out_dir`` and write its
    ``faces.json``. A file that cannot be read is recorded with its error and the others go on;
    ``cancelled()`` turning true raises the engine's Cancelled before the next file."""
    from trainer.errors import per_item
    from trainer.faces import read_image
    from trainer.faces.io import is_video_name, video_frames

    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out_dir)

    def one(image: np.ndarray, path: Path, root: Path | None) -> dict[str, Any]:
        record: dict[str, Any] = {"width": int(image.shape[1]), "height": int(image.shape[0])}
        if options.pre_cropped:
            aligned = [a for a in [pipeline.process_crop(image)] if a is not None]
        else:
            aligned = pipeline.process(image)
        if options.max_faces > 0:
            aligned = aligned[: options.max_faces]
        record["faces"] = writer.faces(path, root, aligned)
        return record

    def frames(path: Path, root: Path | None) -> list[dict[str, Any]]:
        """One record per sampled frame; each crop named after its frame (CLIP_f000025)."""
        return [{"frame": index, **one(frame, path.with_name(f"{path.stem}_f{index:06d}{path.suffix}"), root)}
                for index, frame in video_frames(path, options.every_s)]

    result = AlignResult(files=len(files))
    for done, (path, root) in enumerate(files):
        if cancelled is not None and cancelled():
            from trainer.evaluation.predictions import Cancelled

            raise Cancelled("cancelled while finding faces")
        if is_video_name(path):
            found, error = per_item(prog, str(path), lambda: frames(path, root))
            result.records += [{"image": str(path), **r} for r in (found if found is not None else [error])]
        else:
            found, error = per_item(prog, str(path), lambda: one(read_image(path), path, root))
            result.records.append({"image": str(path), **(found or error)})
        if error and warn is not None:
            warn(f"{path}: {error['error']}")
        if progress is not None:
            progress(done + 1, len(files))
    write_manifest(out_dir, result.records)
    return result


def write_manifest(out_dir: Path, records: list[dict[str, Any]]) -> Path:
    manifest = out_dir / MANIFEST
    tmp = manifest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")  # ASCII: odd names are escaped
    os.replace(tmp, manifest)
    return manifest


def read_manifest(out_dir: Path) -> list[dict[str, Any]]:
    """The records of an aligned folder's ``faces.json`` ([] when it has none)."""
    manifest = Path(out_dir) / MANIFEST
    if not manifest.is_file():
        return []
    records = json.loads(manifest.read_text(encoding="utf-8"))
    return records if isinstance(records, list) else []


def output_stem(path: Path, root: Path | None) -> str:
    """Crops of files found in a directory keep their sub-folders (e.g. class folders)."""
    if root is not None:
        rel = path.relative_to(root).with_suffix("")
        parts = [_safe(p) for p in rel.parts]
        return "/".join(parts)
    return _safe(path.stem)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("._") or "image"


def _unique(name: str, used: set[str]) -> str:
    base, n = name[:-4], 1
    while name in used:
        name = f"{base}_{n}.png"
        n += 1
    used.add(name)
    return name


def print_warning(prog: str) -> Callable[[str], None]:
    """A warn() for the command line: one line on stderr, clear of a progress bar."""
    def warn(text: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"{prog}: warning: {text}", file=sys.stderr)
    return warn
