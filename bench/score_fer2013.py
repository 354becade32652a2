"""Time to score all of FER-2013 (35,887 faces) the way the review window does: the model over
every face (probabilities + embeddings, flip TTA), the extra views of the likeliest label
errors (trainer.evaluation.views) and the label-issue ranking (`auto` rule).

    python bench/score_fer2013.py [--csv ../shared/data/fer2013/fer2013.csv.gz] [--threads 2]
                                  [--backend auto|onnx|torch] [--no-tta] [--baseline-faces 2000]

``--baseline-faces N`` also times eager PyTorch on the first N faces in the same run and
prints the chosen back-end's speed against it (same faces, same threads).
"""

from __future__ import annotations

import argparse
import time

from trainer.data.datasets import load_samples
from trainer.evaluation.label_quality import score_labels
from trainer.evaluation.trained_on import trained_on
from trainer.evaluation.predictions import predict_samples
from trainer.inference import default_model_path
from trainer.inference.backends import create_classifier
from trainer.models.card import read_card


def _time_model(classifier, card, samples, tta: bool, views: bool = False) -> tuple[object, float]:
    t0 = time.perf_counter()
    pred = predict_samples(classifier, card, samples, embeddings=True, tta_flip=tta, views=views)
    return pred, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", default="../shared/data/fer2013/fer2013.csv.gz")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    p.add_argument("--no-tta", action="store_true")
    p.add_argument("--no-views", action="store_true", help="skip the extra views of the likeliest label errors")
    p.add_argument("--baseline-faces", type=int, default=0, metavar="N",
                   help="also time eager PyTorch on N faces, for a ratio measured in the same run")
    args = p.parse_args()
    tta = not args.no_tta
    t0 = time.perf_counter()
    samples = load_samples(f"{args.csv}#Training+PublicTest+PrivateTest")
    t_load = time.perf_counter() - t0
    path = default_model_path()
    card = read_card(path)
    t0 = time.perf_counter()
    classifier = create_classifier(path, card, args.backend, "auto", threads=args.threads)
    t_open = time.perf_counter() - t0
    pred, t_model = _time_model(classifier, card, samples, tta, views=not args.no_views)
    t0 = time.perf_counter()
    found = score_labels(pred, trained_on(samples, card.training))  # the window's ranking
    t_rank = time.perf_counter() - t0
    print(f"{len(pred)} faces on {classifier.label}, {args.threads} threads, flip TTA {'on' if tta else 'off'}, "
          f"extra views {'off' if args.no_views else 'on'}: "
          f"read {t_load:.1f} s, model ready {t_open:.1f} s, model {t_model:.1f} s "
          f"({1000 * t_model / len(pred):.2f} ms a face), ranking {t_rank:.1f} s "
          f"({found.out_of_sample.sum()} out of fold, the rest the model's probabilities"
          + ("" if found.memorisation_gap is None else f", gap {100 * found.memorisation_gap:+.1f} points")
          + f"); total {t_load + t_open + t_model + t_rank:.1f} s")
    if args.baseline_faces:
        subset = samples.subset(list(range(min(args.baseline_faces, len(samples)))))
        _, t_chosen = _time_model(classifier, card, subset, tta)
        torch_classifier = create_classifier(path, card, "torch", "cpu", threads=args.threads)
        _, t_torch = _time_model(torch_classifier, card, subset, tta)
        print(f"same {len(subset)} faces: {classifier.name} {1000 * t_chosen / len(subset):.2f} ms a face, "
              f"eager PyTorch {1000 * t_torch / len(subset):.2f} ms a face: x{t_torch / t_chosen:.2f}")


if __name__ == "__main__":
    main()
