"""Time to score all of FER-2013 (35,887 faces) the way the review window does: the model over
every face (probabilities + embeddings, flip TTA) and the label-issue ranking (`auto` rule).

    python bench/score_fer2013.py [--csv ../shared/data/fer2013/fer2013.csv.gz] [--threads 2] [--no-tta]
"""

from __future__ import annotations

import argparse
import time

import torch

from trainer.data.datasets import load_samples
from trainer.evaluation.label_quality import find_issues
from trainer.evaluation.predictions import predict_samples
from trainer.inference import default_model_path
from trainer.models.card import load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", default="../shared/data/fer2013/fer2013.csv.gz")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-tta", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    samples = load_samples(f"{args.csv}#Training+PublicTest+PrivateTest")
    t_load = time.perf_counter() - t0
    model, card = load_model(default_model_path())
    t0 = time.perf_counter()
    pred = predict_samples(model, card, samples, embeddings=True, tta_flip=not args.no_tta)
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = find_issues(pred)
    t_rank = time.perf_counter() - t0
    print(f"{len(pred)} faces, {args.threads} torch threads, flip TTA {'off' if args.no_tta else 'on'}: "
          f"read {t_load:.1f} s, model {t_model:.1f} s ({1000 * t_model / len(pred):.2f} ms a face), "
          f"ranking {t_rank:.1f} s ({'out of fold' if found.out_of_sample else 'model probabilities'}, "
          f"gap {100 * found.memorisation_gap:+.1f} points); total {t_load + t_model + t_rank:.1f} s")


if __name__ == "__main__":
    main()
