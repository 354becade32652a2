"""fer-train predict IMAGE_OR_FOLDER...: the faces in images and their expression probabilities.

The same command as `fer-desktop predict` (one implementation, one JSON schema:
docs/predict-json.md). Folders are searched recursively; a file that cannot be read is
reported in the output and the rest go on (exit status 1 when any failed).

examples:
  fer-train predict photo.jpg
  fer-train predict photos/ --json > faces.json
  fer-train predict --model runs/best/model --input crop face1.png face2.png   # face crops
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from trainer.inference.predict_files import add_predict_args

    p = sub.add_parser("predict", help="detect faces in images and predict their expressions",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_predict_args(p)


def run(args: argparse.Namespace) -> int:
    from trainer.inference.predict_files import run as run_predict

    return run_predict(args, "fer-train predict")
