"""``fer-train align``: detect and align the faces in images, and in frames sampled from
videos; one PNG per face plus ``faces.json`` (boxes and eyes in the input images' pixel
coordinates)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer.faces.batch import MANIFEST, AlignError

__all__ = ["AlignError", "add_parser", "run"]


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


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from trainer.faces import AlignConfig, FaceAligner, FacePipeline, create_detector
    from trainer.faces.batch import AlignOptions, align_files, input_files, print_warning

    if args.size < 8:
        raise AlignError(f"--size must be at least 8, got {args.size}")
    if not args.every > 0:
        raise AlignError(f"--every must be a positive number of seconds, got {args.every}")
    warn = print_warning("fer-train align")
    files = input_files(args.inputs, warn)
    pipeline = FacePipeline(create_detector(args.detector), FaceAligner(AlignConfig(size=args.size)))
    options = AlignOptions(every_s=args.every, pre_cropped=args.pre_cropped, max_faces=args.max_faces)
    with tqdm(total=len(files), desc="align", unit="file", disable=len(files) < 10 or not sys.stderr.isatty(),
              file=sys.stderr) as bar:
        result = align_files(files, args.out, pipeline, options, warn=warn,
                             progress=lambda done, total: bar.update(done - bar.n))
    manifest = args.out / MANIFEST
    frames_note = f" ({result.frames} video frame(s))" if result.frames else ""
    print(f"fer-train align: {result.faces} face(s) from {result.files_read} of {result.files} file(s){frames_note} "
          f"[{getattr(pipeline.detector, 'name', args.detector)}] -> {manifest}", file=sys.stderr)
    if result.files_read == 0:
        raise AlignError(f"none of the {result.files} input file(s) could be read (details in {manifest})")
    return 0
