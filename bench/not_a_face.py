"""How well "likely not a face first" finds the samples that are no face, against lists made
by people: SFEW 2.0's not-a-face and all-black lists (``sfew2/*.txt``) and FER+'s taggers (a
FER-2013 image whose most-voted column is "NF", not a face).

Each dataset is opened as the review window opens it (``fer_desktop.review_io.open_session``:
the app's crops, the bundled model unless ``--model``), and every ranking is scored: the
combined not-a-face score the window sorts by, each of its three signals alone, and the
label-issue score (what a reviewer would sort by otherwise). Reported: ROC AUC, average
precision, and how many non-faces are in the top k.

    python bench/not_a_face.py sfew2:Train+Val fer2013:PublicTest+PrivateTest [--model NAME] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DATA = {"sfew2": "sfew2", "fer2013": "fer2013/fer2013.csv.gz"}


def sfew_truth(root: Path, ids: list[str]) -> np.ndarray:
    listed = set()
    for name in ("not-a-face.txt", "all-black.txt"):
        listed |= {line.strip() for line in (root / "sfew2" / name).read_text().splitlines() if line.strip()}
    return np.array([i in listed for i in ids])


def ferplus_truth(root: Path, ids: list[str]) -> np.ndarray:
    """FER+'s taggers: "NF" is the most-voted column (ties included)."""
    from trainer.data.ferplus import VOTE_COLUMNS, read_votes

    votes = read_votes(root / "ferplus" / "fer2013new.csv").votes
    not_face = votes[:, VOTE_COLUMNS.index("NF")] == votes.max(axis=1)
    rows = np.array([int(i.rpartition(":")[2]) for i in ids])
    return not_face[rows]


def scores_of(truth: np.ndarray, score: np.ndarray, ks: tuple[int, ...]) -> dict:
    """``score``: high = likely not a face."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    order = np.argsort(-score, kind="stable")
    return {"auroc": round(float(roc_auc_score(truth, score)), 4),
            "average_precision": round(float(average_precision_score(truth, score)), 4),
            **{f"found_in_top_{k}": int(truth[order[:k]].sum()) for k in ks}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="+", metavar="NAME:SPLITS", help="sfew2:Train+Val, fer2013:Training, ...")
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    p.add_argument("--model", default=None, help="default: the bundled model")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()

    from fer_desktop.review import DatasetRequest
    from fer_desktop.review_io import open_session

    results = []
    for item in args.sets:
        name, _, splits = item.partition(":")
        started = time.perf_counter()
        session = open_session(DatasetRequest(str(args.data_root / DATA[name]), split=splits or None,
                                              model=args.model))
        seconds = time.perf_counter() - started
        truth = (sfew_truth if name == "sfew2" else ferplus_truth)(args.data_root, session.ids)
        n = int(truth.sum())
        ks = (n, 2 * n, 100)
        d = session.doubts
        rankings = {"not-a-face score (the window's order)": d.scores, "blank alone": d.blank.astype(float),
                    "no face found alone": d.no_face.astype(float), "unusual alone": d.unusual,
                    "label-issue score (low first)": -np.nan_to_num(session.scores, nan=1.0)}
        row = {"set": item, "samples": len(truth), "not_a_face": n, "open_seconds": round(seconds, 1),
               "no_face_found": int(d.no_face.sum()), "blank": int(d.blank.sum()),
               "rankings": {k: scores_of(truth, v, ks) for k, v in rankings.items()}}
        results.append(row)
        print(f"\n{item}: {len(truth):,} samples, {n} not a face by the list; {row['no_face_found']} with no face "
              f"found, {row['blank']} blank (opened in {seconds:.0f} s)")
        print(f"  {'ranking':40s} {'AUROC':>6s} {'AP':>6s} " + " ".join(f"top{k:>5d}" for k in ks))
        for k, r in row["rankings"].items():
            print(f"  {k:40s} {r['auroc']:6.3f} {r['average_precision']:6.3f} "
                  + " ".join(f"{r[f'found_in_top_{j}']:8d}" for j in ks))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
