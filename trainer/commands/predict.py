"""``fer-train predict IMAGE...``: faces and class probabilities per image.

Examples::

    fer-train predict photo.jpg --json
    fer-train predict --model runs/best/model --crops face1.png face2.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="detect faces in images and predict their expressions",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--model", type=Path, help="NAME.safetensors (+ NAME.json); default: the bundled model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--crops", action="store_true", help="the images are face crops (pad, detect, else as-is)")
    p.add_argument("--detector", help="face detector (default: the model card's, else auto)")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-tta", action="store_true", help="do not average with the mirrored face")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):  # trainer.faces.Face: the schema `fer-train align` writes too
        return _jsonable(value.to_dict())
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def run(args: argparse.Namespace) -> int:
    from trainer.inference import Predictor, default_model_path
    from trainer.models.card import ModelLoadError

    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"image not found: {', '.join(missing)}")
    if args.model is None and not default_model_path().with_suffix(".json").is_file():
        raise ModelLoadError(f"no --model given and the bundled default model is missing ({default_model_path()})")
    predictor = Predictor.from_path(args.model, device=args.device, detector=args.detector,
                                    tta_flip=not args.no_tta)
    from trainer.faces import read_image

    classes = predictor.classes
    images = []
    for path in args.images:
        image = read_image(path)
        if args.crops:
            aligned = predictor.pipeline.process_crop(image)
            crop = aligned.crop if aligned is not None else image
            probs = predictor.predict_crops([crop])[0]
            faces = [{"face": _jsonable(aligned.face) if aligned is not None else None, "aligned": aligned is not None,
                      "probs": probs}]
        else:
            faces = [{"face": _jsonable(p.face), "probs": p.probs} for p in predictor.predict_image(image)]
        for f in faces:
            f["label"] = classes[int(np.argmax(f["probs"]))]
            f["probs"] = {c: round(float(v), 6) for c, v in zip(classes, f["probs"])}
        images.append({"image": str(path), "faces": faces})
    if args.json:
        print(json.dumps({"model": str(predictor.path), "model_name": predictor.name, "classes": classes,
                          "images": images}))
    else:
        for item in images:
            if not item["faces"]:
                print(f"{item['image']}: no face found")
            for i, f in enumerate(item["faces"]):
                top = sorted(f["probs"].items(), key=lambda kv: -kv[1])[:3]
                print(f"{item['image']} face {i + 1}: {f['label']}  ("
                      + ", ".join(f"{c} {100 * v:.0f}%" for c, v in top) + ")")
    return 0
