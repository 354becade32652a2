"""Score a model's saved predictions on SFEW Train fold by fold, with the same folds a
``--val-fold K/N [--fold-by film]`` run holds out: the yardstick for a model that never trained
on SFEW (a stage 1), beside the fold runs' own ``metrics.json``.

    fer-train evaluate --model runs/lite1-96-s0/1-ferplus/model --data ../shared/data/sfew2 \\
        --split Train --predictions stage1-train.npz
    python bench/fold_scores.py stage1-train.npz [--folds 5] [--by film]

The predictions are the app's path's (``fer-train evaluate``'s default options), so each
fold's accuracy is what a fold run's validation would have printed for that model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.data.samples import FOLD_UNITS, SampleSet  # noqa: E402


def fold_accuracies(ids: np.ndarray, labels: np.ndarray, probs: np.ndarray, classes: tuple[str, ...],
                    folds: int, by: str) -> list[float]:
    # The folds depend on ids and labels only, so a set without pixels cuts them the same way.
    ids_list = [str(i) for i in ids]
    samples = SampleSet(ids=ids_list, images=np.zeros((len(ids_list), 1, 1), np.uint8),
                        labels=labels.astype(np.int64), classes=classes, name="predictions")
    position = {sample_id: i for i, sample_id in enumerate(ids_list)}
    out = []
    for fold in range(folds):
        held = [position[i] for i in samples.split_fold(fold, folds, by=by)[1].ids]
        out.append(float((probs[held].argmax(1) == labels[held]).mean()))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("predictions", help="an .npz from fer-train evaluate --predictions")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--by", choices=FOLD_UNITS, default="film")
    args = p.parse_args()
    data = np.load(args.predictions, allow_pickle=False)
    classes = tuple(str(c) for c in data["classes"])
    accuracies = fold_accuracies(data["ids"], data["labels"], data["probs"], classes, args.folds, args.by)
    print(f"{args.predictions}: folds by {args.by}: "
          + " / ".join(f"{100 * a:.2f}" for a in accuracies) + f"; mean {100 * np.mean(accuracies):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
