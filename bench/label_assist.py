"""How far the model's suggestions go when labelling new images in the review window.

The window opens images without labels on the ones the model is least sure of, and Enter takes
the model's class. A labelled dataset stands in for new images here: its labels are hidden
truth, the review's own pass (``fer_desktop.review_io.open_session``, the app's faces, its cache)
gives the suggestions. For each share of the images taken as suggested without a look (the
model's surest), the table gives how often those suggestions are right and the share of wrong
labels in the whole set if a person labels the rest correctly.

    python bench/label_assist.py ../shared/data/sfew2 --split Val [--model M] [--json OUT]
    python bench/label_assist.py ../shared/data/ferplus/fer2013new.csv --split PrivateTest
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fer_desktop.review import DatasetRequest
from fer_desktop.review_io import open_session

SHARES = (1.0, 0.75, 0.5, 0.25, 0.1)


def suggestion_table(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                     shares=SHARES) -> list[dict]:
    """For each share s: the s surest faces taken as suggested (ties: dataset order), the
    accuracy of those suggestions, and the error rate of the whole set when the rest are
    labelled by hand without mistakes. Faces without a label (or with a class the model
    lacks: label -1) are left out."""
    known = labels >= 0
    labels, predicted, confidence = labels[known], predicted[known], confidence[known]
    surest = np.argsort(-confidence, kind="stable")
    rows = []
    for share in shares:
        taken = surest[:int(round(share * len(surest)))]
        wrong = int((predicted[taken] != labels[taken]).sum())
        rows.append({"share": share, "taken": len(taken), "lowest_confidence": float(confidence[taken].min())
                     if len(taken) else None,
                     "accuracy": 1 - wrong / len(taken) if len(taken) else None,
                     "set_error": wrong / len(labels) if len(labels) else None,
                     "by_hand": len(labels) - len(taken)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split")
    parser.add_argument("--model", help="default: the bundled model")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    session = open_session(DatasetRequest(args.data, split=args.split, model=args.model))
    # The model's classes only: a label it cannot predict (FER+'s contempt) is no test of it.
    labels = np.where(session.model_lacks[np.maximum(session.given, 0)], -1, session.given)
    rows = suggestion_table(labels, session.predicted, session.confidence)
    print(f"{session.name}, model {session.model_name}: {int((labels >= 0).sum()):,} labelled faces")
    print("| taken as suggested (surest) | top bar at least | suggestions right | wrong labels in the set | "
          "labelled by hand |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {100 * r['share']:.0f}% ({r['taken']:,}) | {r['lowest_confidence']:.2f} | "
              f"{100 * r['accuracy']:.1f}% | {100 * r['set_error']:.1f}% | {r['by_hand']:,} |")
    if args.json:
        args.json.write_text(json.dumps({"data": session.name, "model": session.model_name, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
