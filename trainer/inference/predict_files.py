"""Faces and expression probabilities for image files and folders: the one implementation
behind ``fer-desktop predict`` and ``fer-train predict``, and the one JSON schema both print
(docs/predict-json.md). Light to import: torch loads with the model, after the arguments
are parsed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

SCHEMA = "fer-desktop/predict/1"
INPUT_KINDS = ("auto", "photo", "crop")  # trainer.faces.prepare.INPUT_KINDS (not imported: it loads OpenCV)


def add_predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_FOLDER",
                   help="image files, and folders searched recursively for images")
    p.add_argument("--json", action="store_true", help="print one JSON object (schema: docs/predict-json.md)")
    p.add_argument("--model", type=Path,
                   help="NAME.safetensors (+ NAME.json), or a bundled model by name (e.g. paper-fer32-sfew); "
                        "default: the bundled default model, or $FER_DESKTOP_MODEL")
    p.add_argument("--input", choices=INPUT_KINDS,
                   help="what the images are: photo (find every face), crop (face crops: pad, find the face "
                        "again and re-align, else use the crop as is: aligned false), auto (find faces; a small "
                        "face-shaped image without one is taken as a crop). Default: what the image's dataset "
                        "declares (FER-2013, FER+, SFEW, a fer-dataset.json: crop), else auto")
    p.add_argument("--crops", dest="input", action="store_const", const="crop", help="the same as --input crop")
    p.add_argument("--detector", help="face detector: auto, mtcnn, blazeface, haar, dlib (default: the model card's)")
    p.add_argument("--device", default="auto", help="auto (CUDA when there is a GPU), cpu or cuda")
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"),
                   help="where the classifier runs: auto (PyTorch on a GPU, else ONNX Runtime), onnx, torch")
    p.add_argument("--no-tta", action="store_true", help="do not average with the mirrored face (faster)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads for the classifier (default 1: a face or a photo is too small a job to share, "
                        "and more threads only wait on each other on a busy machine)")


def face_entry(face: Any, probs: Any, classes: Sequence[str], aligned: bool = True,
               method: str = "detect") -> dict[str, Any]:
    """One face: where it is (``fer-train align``'s face fields), how its crop was made
    (detect: aligned; crop: re-aligned crop; asis: the crop used as is), its label and
    probabilities."""
    import numpy as np

    top = int(np.argmax(probs))
    entry = face.to_dict() if face is not None else {"box": None, "score": None, "left_eye": None, "right_eye": None}
    entry.update(aligned=aligned, method=method, label=classes[top], confidence=round(float(probs[top]), 6),
                 probs={c: round(float(v), 6) for c, v in zip(classes, probs)})
    return entry


def predict_image(predictor: Any, path: Path, kind: str) -> list[dict[str, Any]]:
    """The faces of one image file, made the way ``kind`` (auto | photo | crop) says."""
    from trainer.faces import read_image
    from trainer.inference.prepared import predict_input

    found = predict_input(predictor, read_image(path), kind)
    return [face_entry(p.face.face, p.probs, predictor.classes, aligned=p.face.aligned, method=p.face.method)
            for p in found]


def predict_files(predictor: Any, paths: Sequence[Path], *, input: str | None = None, crops: bool = False,
                  prog: str = "fer-desktop predict") -> dict[str, Any]:
    """The whole JSON document. ``input``: what the images are (auto | photo | crop; None: what
    each image's dataset declares, else auto; ``crops`` is the old spelling of ``crop``). A
    file that cannot be read (or a face the detector chokes on) is recorded with its error
    and the batch goes on."""
    from tqdm import tqdm

    from trainer.data.input_kinds import image_kind, input_for
    from trainer.errors import per_item

    given = input or ("crop" if crops else None)
    images = []
    # A bar on a terminal for more than a few files; silent in pipes and scripts.
    bar = tqdm(paths, desc="images", unit="img", disable=len(paths) < 4 or not sys.stderr.isatty(), leave=False)
    for path in bar:
        kind = image_kind(input_for(path, given))
        faces, error = per_item(prog, str(path), lambda: predict_image(predictor, path, kind))
        entry: dict[str, Any] = {"path": str(path), "input": kind, "error": None, "faces": faces or []}
        if error is not None:
            entry.update(error)
        images.append(entry)
    return {"schema": SCHEMA, "model": predictor.name, "model_path": str(predictor.path) if predictor.path else None,
            "backend": predictor.backend_name, "tta_flip": bool(predictor.tta_flip), "classes": predictor.classes,
            "images": images}


def format_text(doc: dict[str, Any]) -> str:
    """The human-readable form: one line per image, one per face with its top three classes."""
    lines = []
    for image in doc["images"]:
        if image["error"]:
            lines.append(f"{image['path']}: error: {image['error']}")
            continue
        if not image["faces"]:
            lines.append(f"{image['path']}: no face found")
        for i, face in enumerate(image["faces"], 1):
            top = sorted(face["probs"].items(), key=lambda kv: -kv[1])[:3]
            where = f" at {[round(v) for v in face['box']]}" if face.get("box") else ""
            note = "" if face["aligned"] else " (no face found: the whole crop, as it is)"
            lines.append(f"{image['path']} face {i}{where}: {face['label']} {face['confidence']:.0%}{note}  ("
                         + ", ".join(f"{c} {v:.0%}" for c, v in top) + ")")
    return "\n".join(lines)


def write_out(text: str) -> None:
    """Print ``text``; file names that are not UTF-8 (possible on Linux) go out as the bytes
    they are, so a strict console encoding does not fail after all the work is done."""
    try:
        print(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "utf-8"
        try:
            data = text.encode(encoding, "surrogateescape")
        except UnicodeEncodeError:
            data = text.encode(encoding, "backslashreplace")
        sys.stdout.flush()
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.flush()


def run(args: argparse.Namespace, prog: str) -> int:
    """0: every image read; 1: some could not be (each recorded in the output); user errors
    (no model, no input) raise for the caller to print as one line."""
    import json

    from trainer.faces.io import find_images
    from trainer.inference.bundled import default_model_path
    from trainer.models.card import ModelLoadError

    paths: list[Path] = []
    for given in args.inputs:
        found = list(find_images([given]))
        if given.is_dir() and not found:
            print(f"{prog}: no images in {given}", file=sys.stderr)
        paths += found
    if not paths:
        raise FileNotFoundError(f"no images in {', '.join(map(str, args.inputs))}")
    if args.model is None and not default_model_path().with_suffix(".json").is_file():
        raise ModelLoadError(f"no --model given and the bundled model is missing ({default_model_path()})")
    from trainer.inference.predictor import Predictor

    # bench/startup.py on 2 cores: one photo in 5.8 s with one thread, 12.1 s with two (their
    # spin-waits double the CPU time when anything else runs).
    predictor = Predictor.from_path(args.model, backend=args.backend, device=args.device, detector=args.detector,
                                    tta_flip=not args.no_tta, threads=max(1, args.threads))
    doc = predict_files(predictor, paths, input=args.input, prog=prog)
    write_out(json.dumps(doc, indent=2) if args.json else format_text(doc))
    return 1 if any(image["error"] for image in doc["images"]) else 0
