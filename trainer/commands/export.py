"""fer-train export MODEL --onnx OUT.onnx: the model as one ONNX file, for ONNX Runtime,
OpenCV's dnn module or a phone, with its card beside it (OUT.json: classes, input, opset).

The file takes normalised grey face crops (N, 1, S, S) and gives class probabilities
(N, C). Before it is kept, it is run in every runtime installed here (ONNX Runtime and
OpenCV's dnn) on real faces, one by one and as a batch, and compared with torch: the largest
difference of probabilities must stay within 1e-4, or the command fails (exit status 1).
The faces are those found in --check images (default: Grace Hopper from matplotlib's sample
data and scikit-image's astronaut when it is installed), each also mirrored, darker and
brighter. Needs the onnx package: pip install "fer-desktop[onnx]".

examples:
  fer-train export bundled --onnx fer-model.onnx
  fer-train export runs/best/model --onnx best.onnx --tta-flip --check ../shared/data/sfew2/Val/Happy
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to ONNX, checked against torch on real faces",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="NAME.safetensors (+ NAME.json), or 'bundled'")
    p.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx", help="the file to write (card: OUT.json)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; 11 or more)")
    p.add_argument("--tta-flip", action="store_true",
                   help="average each face with its mirror image inside the graph (as fer-desktop predict does; "
                        "twice the work)")
    p.add_argument("--check", nargs="+", type=Path, metavar="IMAGE_OR_FOLDER",
                   help="photos (or with --crops face crops) whose faces the check uses")
    p.add_argument("--crops", action="store_true", help="the --check images are face crops")
    p.add_argument("--max-faces", type=int, default=64, help="check on at most this many faces (default 64)")
    p.add_argument("--detector", help="face detector for the check images (default: the card's)")


def default_check_images(folder: Path) -> list[Path]:
    """Real faces that ship with the dependencies: Grace Hopper (matplotlib, public domain) and
    the astronaut Eileen Collins (scikit-image, public domain), when installed."""
    import os

    import matplotlib

    images = [Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"]
    try:
        import cv2
        from skimage import data

        path = folder / "astronaut.png"
        cv2.imwrite(str(path), data.astronaut()[:, :, ::-1])
        images.append(path)
    except ImportError:
        pass
    return [p for p in images if os.path.isfile(p)]


def check_inputs(predictor, images: list[Path], crops: bool, max_faces: int):
    """(N, 1, S, S) float32 model inputs from the faces in ``images``, each face also mirrored,
    darker and brighter, made exactly as the app makes them."""
    import numpy as np

    from trainer.faces import read_image
    from trainer.faces.io import find_images

    card = predictor.card
    faces = []
    for path in find_images(images):
        image = read_image(path)
        if crops:
            aligned = predictor.pipeline.process_crop(image)
            faces += [aligned.crop] if aligned is not None else []
        else:
            faces += [a.crop for a in predictor.pipeline.process(image)]
        if len(faces) * 4 >= max_faces:
            break
    variants = []
    for crop in faces:
        variants += [crop, crop[:, ::-1], (crop * 0.6).astype(np.uint8), np.clip(crop * 1.3 + 10, 0, 255).astype(np.uint8)]
    variants = variants[:max_faces]
    if not variants:
        return np.zeros((0, 1, card.input_size, card.input_size), np.float32)
    return predictor.to_batch(variants)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import tempfile

    from trainer.errors import UsageError
    from trainer.inference.bundled import resolve_model
    from trainer.inference.predictor import Predictor
    from trainer.models.onnx_export import ExportError, check_onnx, export_onnx, onnx_card

    if args.opset < 11:
        raise UsageError(f"--opset {args.opset}: 11 or more (Clip, Pad and Softmax as this exporter writes them)")
    if args.onnx.suffix != ".onnx":
        raise UsageError(f"--onnx {args.onnx}: name the file NAME.onnx (its card is NAME.json)")
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
    except ImportError:
        raise ExportError('exporting needs the onnx package: pip install "fer-desktop[onnx]"') from None
    source = resolve_model(None if args.model == "bundled" else args.model)
    predictor = Predictor.from_path(source, backend="torch", device="cpu", detector=args.detector)
    card = predictor.card
    with tempfile.TemporaryDirectory() as tmp:
        images = args.check or default_check_images(Path(tmp))
        inputs = check_inputs(predictor, images, args.crops, args.max_faces)
    if len(inputs) == 0:
        raise UsageError(f"no face found in {', '.join(map(str, images))} to check the export on; give --check "
                         "images with faces (or --crops for face crops)")
    head = export_onnx(predictor.classifier.model, card.input_size, args.onnx, opset=args.opset, tta_flip=args.tta_flip)
    runtimes = ["opencv"]
    try:
        import onnxruntime  # noqa: F401

        runtimes.insert(0, "onnxruntime")
    except ImportError:
        print("fer-train export: onnxruntime is not installed: checked with OpenCV only", file=sys.stderr)
    checks = [check_onnx(args.onnx, head, inputs, rt) for rt in runtimes]
    described = f"{len(inputs)} inputs from the faces in {', '.join(Path(p).name for p in images)}"
    doc = onnx_card(card, args.onnx, opset=args.opset, tta_flip=args.tta_flip, checks=checks,
                    source=predictor.path or source, check_faces=described)
    card_path = args.onnx.with_suffix(".json")
    card_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    size_mb = args.onnx.stat().st_size / 2 ** 20
    print(f"{args.onnx} ({size_mb:.1f} MB, opset {args.opset}) and {card_path}")
    for c in checks:
        print(f"  {c.runtime}: {'ok' if c.passed else 'FAILED'}, largest probability difference from torch "
              f"{c.max_abs_diff:.1e} over {c.faces} faces (limit {c.tolerance:g}), {c.ms_per_face:.1f} ms a face")
    if not all(c.passed for c in checks):
        print("fer-train export: the exported model does not match torch within the limit: do not use it",
              file=sys.stderr)
        return 1
    return 0
