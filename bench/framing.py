"""Where the eyes sit in FER-2013's 48x48 images vs in our aligned crops.

A FER-trained model sees aligned crops in the app; this checks that both frame a face alike.
    python bench/framing.py [--csv ../shared/data/fer2013/fer2013.csv.gz] [--n 300]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from trainer.data.fer2013 import read_fer2013
from trainer.faces import AlignConfig, FaceAligner, create_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", default="../shared/data/fer2013/fer2013.csv.gz")
    parser.add_argument("--n", type=int, default=300, help="PublicTest images to measure")
    parser.add_argument("--detector", default="mtcnn")
    args = parser.parse_args()

    images = read_fer2013(args.csv, usages=("PublicTest",))["PublicTest"].images[: args.n]
    detector = create_detector(args.detector)
    up, pad = 192, 77  # enlarge and pad: detectors need more than 48 px and some margin
    eye_y, e2e, mid_x = [], [], []
    for img in images:
        big = cv2.copyMakeBorder(cv2.resize(img, (up, up), interpolation=cv2.INTER_CUBIC), pad, pad, pad, pad,
                                 cv2.BORDER_CONSTANT, value=0)
        faces = detector.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
        if not faces:
            continue
        left = (np.array(faces[0].left_eye) - pad) / up
        right = (np.array(faces[0].right_eye) - pad) / up
        eye_y.append((left[1] + right[1]) / 2)
        e2e.append(float(np.linalg.norm(right - left)))
        mid_x.append((left[0] + right[0]) / 2)
    (lx, ly), (rx, _ry) = FaceAligner(AlignConfig(size=1000)).eye_targets()
    print(f"faces found: {len(eye_y)} of {len(images)} ({args.detector})")
    print("| framing (fractions of the side) | eye line y | eye distance | eye midpoint x |")
    print("|---|---:|---:|---:|")
    print(f"| FER-2013 PublicTest (median) | {np.median(eye_y):.3f} | {np.median(e2e):.3f} | {np.median(mid_x):.3f} |")
    print(f"| our aligned crop (AlignConfig defaults) | {ly / 1000:.3f} | {(rx - lx) / 1000:.3f} | {(lx + rx) / 2000:.3f} |")


if __name__ == "__main__":
    main()
