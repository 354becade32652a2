"""How far a model's probability bars can be taken at their word, on the sets it is scored on.

Reads ``fer-train evaluate --predictions`` files (the app's path, the model's default options)
and prints, for each: accuracy, mean top probability, the expected calibration error (ECE, 15
bins), the negative log-likelihood, and the same after temperature scaling with a temperature
fitted on the ``--fit`` file alone (a set not reported as test), and the reliability table.
With ``--votes`` (FER+'s fer2013new.csv), predictions of FER-2013 rows are also held against the
share of FER+'s taggers who chose the model's top class (vote_ece): the bundled model learnt
those shares, so that is what its bars are meant to say.

    fer-train evaluate --data ../shared/data/ferplus/fer2013new.csv --split PublicTest --predictions valid.npz
    fer-train evaluate --data ../shared/data/ferplus/fer2013new.csv --split PrivateTest --predictions test.npz
    fer-train evaluate --data ../shared/data/sfew2 --split Val --predictions sfew.npz
    python bench/calibration.py --fit valid.npz valid.npz test.npz sfew.npz \
        --votes ../shared/data/ferplus/fer2013new.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from trainer.evaluation.calibration import (calibration_error, calibration_summary, fit_temperature,  # noqa: E402
                                            reliability, vote_reliability, with_temperature)
from trainer.evaluation.predictions import Predictions  # noqa: E402


def describe(probs, labels, shares=None) -> dict:
    """fer-train evaluate's calibration summary, and against the votes when there are some."""
    scored = labels >= 0
    out = {"accuracy": round(float((probs.argmax(axis=1) == labels)[scored].mean()), 4),
           **{k: round(v, 4) for k, v in calibration_summary(probs, labels).items()}}
    if shares is not None:
        out["vote_ece"] = round(calibration_error(vote_reliability(probs, shares)), 4)
    return out


def vote_shares(votes_csv: Path, pred: Predictions) -> np.ndarray | None:
    """(N, C) share of FER+'s votes for each of the predictions' classes (contempt, unknown and
    not-a-face votes left out), zero rows where the sample is not scored; None when the
    predictions are not of FER-2013 rows."""
    from trainer.data.ferplus import label_votes, read_votes

    if not all(i.startswith("fer2013:") for i in pred.ids):
        return None
    table = read_votes(votes_csv)
    rows = np.array([int(i.rpartition(":")[2]) for i in pred.ids])
    # the distributions the bundled model trained on (its card: votes, contempt dropped)
    voted = label_votes(table.votes[rows], np.zeros(len(rows), np.int64), [table.image_name[r] for r in rows],
                        mode="votes", contempt="drop")
    shares = np.zeros((len(rows), len(pred.classes)))
    for column, name in enumerate(voted.classes):
        if name in pred.classes:
            shares[:, list(pred.classes).index(name)] = voted.soft[:, column]
    shares[pred.scorable_labels < 0] = 0
    return shares


def table(bins) -> list[list]:
    """[low, high, faces, mean confidence, accuracy (or mean vote share)] a bin."""
    return [[round(b.low, 3), round(b.high, 3), b.count, round(b.confidence, 4), round(b.accuracy, 4)] for b in bins]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("predictions", nargs="+", type=Path, help="fer-train evaluate --predictions files")
    p.add_argument("--fit", type=Path, help="fit a temperature on this file's predictions (not a test set)")
    p.add_argument("--votes", type=Path, help="FER+'s fer2013new.csv: hold FER-2013 rows' bars against its votes")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()

    temperature = None
    if args.fit:
        fit = Predictions.load(args.fit)
        temperature = fit_temperature(fit.probs, fit.scorable_labels)
    result: dict = {"temperature": None if temperature is None else round(temperature, 4),
                    "fitted_on": str(args.fit) if args.fit else None, "sets": {}}
    for path in args.predictions:
        pred = Predictions.load(path)
        labels = pred.scorable_labels
        shares = vote_shares(args.votes, pred) if args.votes else None
        entry = {"faces": int((labels >= 0).sum()), "as_shipped": describe(pred.probs, labels, shares),
                 "reliability": table(reliability(pred.probs, labels))}
        if shares is not None:
            entry["vote_reliability"] = table(vote_reliability(pred.probs, shares))
        if temperature is not None:
            entry["with_temperature"] = describe(with_temperature(pred.probs, temperature), labels, shares)
        result["sets"][str(path)] = entry
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
