"""How far the model's suggestions go when labelling new images in the review window.

The window opens images without labels on the ones the model is least sure of, and Enter takes
the model's class. A labelled dataset stands in for new images here: its labels are hidden
truth, the review's own pass (``fer_desktop.review_io.open_session``, the app's faces, its cache)
gives the suggestions. For each share of the images taken as suggested without a look (the
model's surest), the table gives how often those suggestions are right and the share of wrong
labels in the whole set if a person labels the rest correctly.

    python bench/label_assist.py ../shared/data/sfew2 --split Val [--model M] [--json OUT]
    python bench/label_assist.py ../shared/data/ferplus/fer2013new.csv --split PrivateTest

``--learn`` measures the suggestions that learn from the labels given so far
(:func:`trainer.evaluation.suggest.suggest`): K faces drawn at random are "labelled" (their
true labels), and the suggestions for all the others are scored, the model's own against the
learnt ones, mean and sd over five draws, for K = 25 ... 400.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fer_desktop.review import DatasetRequest
from fer_desktop.review_io import open_session
from trainer.evaluation.suggest import suggest

SHARES = (1.0, 0.75, 0.5, 0.25, 0.1)
LEARN_FROM = (25, 50, 100, 200, 400)


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


def learning_table(labels: np.ndarray, probs: np.ndarray, embeddings: np.ndarray, draws: int = 5,
                   sizes=LEARN_FROM) -> list[dict]:
    """For each K of ``sizes``: K labelled faces drawn at random (``draws`` times), the accuracy
    of the model's classes and of the learnt suggestions on the other labelled faces, and which
    rule each draw chose."""
    rng = np.random.default_rng(0)
    known = np.flatnonzero(labels >= 0)
    rows = []
    for k in sizes:
        if k >= len(known):
            break
        model, learnt, rules = [], [], []
        for _ in range(draws):
            given = rng.permutation(known)[:k]
            rest = np.setdiff1d(known, given)
            shown = np.full(len(labels), -1)
            shown[given] = labels[given]
            found = suggest(probs, embeddings, shown)
            model.append(float((probs[rest].argmax(1) == labels[rest]).mean()))
            learnt.append(float((found.classes[rest] == labels[rest]).mean()))
            rules.append(found.rule)
        rows.append({"labelled": k, "model": (np.mean(model), np.std(model)),
                     "learnt": (np.mean(learnt), np.std(learnt)), "rules": rules})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split")
    parser.add_argument("--model", help="default: the bundled model")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--learn", action="store_true", help="suggestions learnt from K labels, against the model's")
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
    learnt = []
    if args.learn:
        learnt = learning_table(labels, session.probs, session.predictions.embeddings)
        started = time.perf_counter()
        whole = suggest(session.probs, session.predictions.embeddings, labels)
        print(f"\nfrom all {whole.labelled:,} labels: {whole.describe()}; {time.perf_counter() - started:.1f} s")
        print("\n| faces labelled so far | the model's class right on the rest | learnt suggestion right "
              "| rules chosen |")
        print("|---:|---:|---:|---|")
        for r in learnt:
            (m, ms), (lm, ls) = r["model"], r["learnt"]
            print(f"| {r['labelled']} | {100 * m:.1f} ± {100 * ms:.1f}% | {100 * lm:.1f} ± {100 * ls:.1f}% | "
                  f"{', '.join(r['rules'])} |")
    if args.json:
        args.json.write_text(json.dumps({"data": session.name, "model": session.model_name, "rows": rows,
                                         "learnt": learnt}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
