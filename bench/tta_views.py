"""Would more test-time views pay? A model's accuracy on one set through the app's path
(``fer-train evaluate``'s loading and classifier: the dataset's declared input, the card's
preprocessing, flip TTA), then with the review's eight extra views of every face
(``trainer.evaluation.views.VIEWS``: turned 8 degrees either way, scaled 0.9 and 1.1, shifted
1/24 of the side each way; each view flip-averaged too) averaged in, on the same crops.

    python bench/tta_views.py MODEL --data ../shared/data/fer2013/fer2013.csv.gz --split PublicTest

The first number is ``fer-train evaluate``'s (the same functions on the same crops); the
second costs nine times the classifier time. Choose on a validation split, never a test one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer.cli import build_parser  # noqa: E402
from trainer.commands.evaluate import load_data_arg, load_model_arg  # noqa: E402
from trainer.evaluation.evaluate import summarise_predictions  # noqa: E402
from trainer.evaluation.predictions import predict_samples, to_data_classes  # noqa: E402
from trainer.evaluation.views import VIEWS, view_probs  # noqa: E402
from trainer.inference.backends import predict_probs  # noqa: E402
from trainer.inference.preprocess import crops_to_batch  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--data", required=True)
    p.add_argument("--split", required=True)
    args = p.parse_args(argv)
    eval_args = build_parser("evaluate").parse_args(["evaluate", "--model", args.model, "--data", args.data,
                                                     "--split", args.split])
    _, classifier, card = load_model_arg(eval_args)
    if card.test_views:
        raise SystemExit(f"{args.model}: its card has test views already (fer-train evaluate averages them in); "
                         "give the model without them")
    samples = load_data_arg(eval_args, card)
    t = time.perf_counter()
    base = predict_samples(classifier, card, samples)
    base_s = time.perf_counter() - t
    mean, std = float(np.mean(card.mean)), float(np.mean(card.std))

    def predict(crops: np.ndarray) -> np.ndarray:
        probs, _ = predict_probs(classifier, crops_to_batch(crops, card.input_size, mean, std), True)
        return to_data_classes(probs, list(card.classes), samples.classes)

    t = time.perf_counter()
    averaged = view_probs(predict, list(samples.images), base.probs, VIEWS)
    views_s = time.perf_counter() - t
    with_views = type(base)(ids=base.ids, labels=base.labels, probs=averaged.astype(np.float32),
                            classes=base.classes, meta=base.meta)
    for title, pred, seconds in (("flip (the app's path)", base, base_s),
                                 (f"flip + {len(VIEWS)} views", with_views, base_s + views_s)):
        r = summarise_predictions(pred, list(card.classes))
        recall = " ".join(f"{100 * v:.1f}" for v in r["per_class_recall"].values())
        print(f"{samples.name} {title:24s} accuracy {100 * r['accuracy']:.2f}%  macro F1 {100 * r['macro_f1']:.2f}  "
              f"recall {recall}  ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
