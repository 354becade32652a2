"""``fer-train align``: detect and align the faces in images, and in frames sampled from
videos; one PNG per face plus ``faces.json`` (boxes and eyes in the input images' pixel
coordinates)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import UserError
from trainer.faces.io import write_image


class AlignError(UserError, RuntimeError):
    """Nothing to align, or nothing could be read."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from trainer.faces.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    p = subparsers.add_parser(
        "align", help="detect, align and crop faces (Ng et al. 2015 crops)",
        description="Detect the faces in images, and in one frame a second (--every) of videos, align them by "
                    "the eyes and write one grey PNG per face plus DIR/faces.json. Directories are searched "
                    "recursively for " + "/".join(e[1:] for e in IMAGE_EXTENSIONS) + " images and "
                    + "/".join(e[1:] for e in VIDEO_EXTENSIONS) + " videos. A file that cannot be read is "
                    "recorded in faces.json with its error and the others go on.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image or video files, or directories")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--detector", default="auto",
                   help="auto, haar, mtcnn, blazeface, dlib or face-alignment (default: auto, the best one installed)")
    p.add_argument("--size", type=int, default=256, help="side of the square crops in pixels (default 256)")
    p.add_argument("--pre-cropped", action="store_true",
                   help="inputs are face crops (FER-2013, SFEW): pad them before detection and keep one face "
                        "per image, the whole image when none is found (marked \"fallback\": true)")
    p.add_argument("--max-faces", type=int, default=0, help="keep at most N faces per image, largest first (0: all)")
    p.add_argument("--every", type=float, default=1.0, metavar="SECONDS",
                   help="videos: one frame every SECONDS, from the first (default 1; a crop is named "
                        "CLIP_f000025_face0.png after its frame)")
    return p


def _input_files(inputs: list[str]) -> list[tuple[Path, Path | None]]:
    """(file, the directory it was found in) for every file named or found in a directory:
    images, then the videos found beside them."""
    from trainer.faces.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, find_images, videos_under

    files: list[tuple[Path, Path | None]] = []
    for p in map(Path, inputs):
        if p.is_dir():
            found = list(find_images([p])) + videos_under(p)
            if not found:
                print(f"fer-train align: warning: no images or videos found in {p}", file=sys.stderr)
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
        stem = _output_stem(path, root)
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


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from trainer.errors import per_item
    from trainer.faces import AlignConfig, FaceAligner, FacePipeline, create_detector, read_image
    from trainer.faces.io import is_video_name, video_frames

    if args.size < 8:
        raise AlignError(f"--size must be at least 8, got {args.size}")
    if not args.every > 0:
        raise AlignError(f"--every must be a positive number of seconds, got {args.every}")
    files = _input_files(args.inputs)
    pipeline = FacePipeline(create_detector(args.detector), FaceAligner(AlignConfig(size=args.size)))
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out_dir)

    def one(image: np.ndarray, path: Path, root: Path | None) -> dict[str, Any]:
        record: dict[str, Any] = {"width": int(image.shape[1]), "height": int(image.shape[0])}
        if args.pre_cropped:
            aligned = [a for a in [pipeline.process_crop(image)] if a is not None]
        else:
            aligned = pipeline.process(image)
        if args.max_faces > 0:
            aligned = aligned[: args.max_faces]
        record["faces"] = writer.faces(path, root, aligned)
        return record

    def frames(path: Path, root: Path | None) -> list[dict[str, Any]]:
        """One record per sampled frame; each crop named after its frame (CLIP_f000025)."""
        return [{"frame": index, **one(frame, path.with_name(f"{path.stem}_f{index:06d}{path.suffix}"), root)}
                for index, frame in video_frames(path, args.every)]

    records: list[dict[str, Any]] = []
    bar = tqdm(files, desc="align", unit="file", disable=len(files) < 10 or not sys.stderr.isatty(), file=sys.stderr)
    for path, root in bar:
        if is_video_name(path):
            result, error = per_item("fer-train align", str(path), lambda: frames(path, root))
            records += [{"image": str(path), **r} for r in (result if result is not None else [error])]
        else:
            result, error = per_item("fer-train align", str(path), lambda: one(read_image(path), path, root))
            records.append({"image": str(path), **(result or error)})
        if error:
            tqdm.write(f"fer-train align: warning: {path}: {error['error']}", file=sys.stderr)
    bar.close()

    manifest = out_dir / "faces.json"
    tmp = manifest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")  # ASCII: odd names are escaped
    os.replace(tmp, manifest)
    n_read = len({r["image"] for r in records if "error" not in r})
    n_frames = sum("frame" in r for r in records)
    n_faces = sum(len(r.get("faces", [])) for r in records)
    frames_note = f" ({n_frames} video frame(s))" if n_frames else ""
    print(f"fer-train align: {n_faces} face(s) from {n_read} of {len(files)} file(s){frames_note} "
          f"[{getattr(pipeline.detector, 'name', args.detector)}] -> {manifest}", file=sys.stderr)
    if n_read == 0:
        raise AlignError(f"none of the {len(files)} input file(s) could be read (details in {manifest})")
    return 0


def _output_stem(path: Path, root: Path | None) -> str:
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


