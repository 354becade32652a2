"""``fer-desktop predict IMAGE... [--json]``: faces and probabilities per image, no window.
Uses the engine only (no Qt import), for scripts and docs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from fer_desktop.results import face_label


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fer-desktop predict",
                                description="Find the faces in images and print each one's expression probabilities.")
    p.add_argument("images", nargs="+", type=Path, help="image files")
    p.add_argument("--json", action="store_true", help="print JSON (one object for all images)")
    p.add_argument("--model", type=Path, default=None,
                   help="model file (.safetensors or .json; default: the bundled model or $FER_DESKTOP_MODEL)")
    p.add_argument("--detector", default=None, help="face detector: auto, mtcnn, haar, dlib (default: the model card's)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    return p


def predict_paths(predictor, paths: Sequence[Path]) -> list[dict[str, Any]]:
    from trainer.faces import ImageReadError, read_image

    out = []
    for path in paths:
        entry: dict[str, Any] = {"path": str(path), "faces": [], "error": None}
        try:
            image = read_image(path)
        except (ImageReadError, OSError) as exc:
            entry["error"] = str(exc)
            out.append(entry)
            continue
        for pred in predictor.predict_image(image):
            label, conf = face_label(predictor.classes, pred.probs)
            entry["faces"].append({
                "box": [int(v) for v in pred.face.box],
                "score": float(getattr(pred.face, "score", 1.0)),
                "label": label,
                "confidence": round(conf, 5),
                "probs": {c: round(float(p), 5) for c, p in zip(predictor.classes, pred.probs)},
            })
        out.append(entry)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from trainer.inference.predictor import Predictor
    from trainer.models.card import ModelLoadError

    try:
        predictor = Predictor.from_path(args.model, device=args.device, detector=args.detector)
    except ModelLoadError as exc:
        print(f"fer-desktop predict: {exc}", file=sys.stderr)
        return 2
    try:
        results = predict_paths(predictor, args.images)
    except Exception as exc:  # a detector that cannot load, say: one line, not a traceback
        print(f"fer-desktop predict: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump({"model": predictor.name, "device": predictor.device.type, "classes": predictor.classes,
                   "images": results}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for entry in results:
            if entry["error"]:
                print(f"{entry['path']}: error: {entry['error']}")
                continue
            print(f"{entry['path']}: {len(entry['faces'])} face(s)")
            for i, face in enumerate(entry["faces"]):
                top = sorted(face["probs"].items(), key=lambda kv: -kv[1])[:3]
                print(f"  #{i + 1} box={face['box']} {face['label']} {face['confidence']:.0%}  "
                      + "  ".join(f"{c} {p:.0%}" for c, p in top))
    return 1 if any(e["error"] for e in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
