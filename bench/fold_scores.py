"""SFEW Train's folds, scored the same way for every kind of candidate: the yardstick the
bundled model is chosen by (docs/RESULTS.md, the bundled model's "How the next one is chosen").

A stage 1 never trains on SFEW, so its saved predictions (``fer-train evaluate
--predictions``) are scored on exactly the folds a ``--val-fold K/N [--fold-by film]`` run
holds out. A stage 2 is scored by its fold runs, one per fold, each from its ``metrics.json``:

    fer-train evaluate --model runs/lite1-96-s0/1-ferplus/model --data ../shared/data/sfew2 \\
        --split Train --predictions stage1-train.npz
    python bench/fold_scores.py stage1-train.npz [--folds 5] [--by film]
    python bench/fold_scores.py runs/l1f-film{0,1,2,3,4}-headlr          # a stage 2's fold runs
    python bench/fold_scores.py fold0.npz fold1.npz ... fold4.npz         # file K scored on fold K

The last form scores what has no fold runs of its own, such as an ensemble of two recipes'
fold-K runs (``fer-train merge --ensemble``), predicted on SFEW Train.

``--valid EVAL.json`` (``fer-train evaluate --json`` of the candidate on FER+ PublicTest) adds
the selection score: the mean of that accuracy and the folds' mean.

The predictions are the app's path's (``fer-train evaluate``'s default options), as the fold
runs' validation is, so both kinds of candidate are measured alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.data.samples import FOLD_UNITS, SampleSet  # noqa: E402
from trainer.evaluation.metrics import confusion_matrix, summarise  # noqa: E402


@dataclass
class FoldScores:
    accuracies: list[float]          # fold 0, 1, ...
    confusion: np.ndarray            # summed over the folds: rows true class, columns predicted
    classes: tuple[str, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    def recall(self) -> dict[str, float | None]:
        """Per-class recall pooled over the folds (each face counted once); None: no such face."""
        return summarise(self.confusion, self.classes)["per_class_recall"]


def held_out_rows(ids: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], folds: int,
                  by: str) -> list[np.ndarray]:
    """The rows each fold holds out, cut as ``--val-fold K/N [--fold-by ...]`` cuts them."""
    # The folds depend on ids and labels only, so a set without pixels cuts them the same way.
    ids_list = [str(i) for i in ids]
    samples = SampleSet(ids=ids_list, images=np.zeros((len(ids_list), 1, 1), np.uint8),
                        labels=labels.astype(np.int64), classes=classes, name="predictions")
    position = {sample_id: i for i, sample_id in enumerate(ids_list)}
    return [np.array([position[i] for i in samples.split_fold(fold, folds, by=by)[1].ids]) for fold in range(folds)]


def scores_of_predictions(ids: np.ndarray, labels: np.ndarray, probs: np.ndarray, classes: tuple[str, ...],
                          folds: int, by: str) -> FoldScores:
    predicted = probs[:, :len(classes)].argmax(1)
    accuracies, confusion = [], np.zeros((len(classes), len(classes)), np.int64)
    for held in held_out_rows(ids, labels, classes, folds, by):
        accuracies.append(float((predicted[held] == labels[held]).mean()))
        confusion += confusion_matrix(labels[held], predicted[held], len(classes))
    return FoldScores(accuracies, confusion, classes)


def scores_of_fold_predictions(paths: list[Path], by: str) -> FoldScores:
    """One predictions file per fold (file K from a model that never saw fold K, e.g. an
    ensemble of several recipes' fold-K runs), each scored on its own fold only."""
    data = [np.load(p, allow_pickle=False) for p in paths]
    ids, labels = data[0]["ids"], data[0]["labels"]
    for path, d in zip(paths[1:], data[1:]):
        if not np.array_equal(d["ids"], ids):
            raise SystemExit(f"{path}: not the same samples in the same order as {paths[0]}")
    classes = tuple(str(c) for c in data[0]["classes"])
    probs = np.zeros_like(data[0]["probs"])
    for fold, held in enumerate(held_out_rows(ids, labels, classes, len(paths), by)):
        probs[held] = data[fold]["probs"][held]
    return scores_of_predictions(ids, labels, probs, classes, len(paths), by)


def _fold_stage(run: Path) -> tuple[Path, dict]:
    """The stage folder of ``run`` (itself, or a cascade's stage) that validated on a fold, and
    the data section of its config.json."""
    for stage in [run, *sorted(p for p in run.iterdir() if p.is_dir())] if run.is_dir() else []:
        config = stage / "config.json"
        data = json.loads(config.read_text()).get("data", {}) if config.is_file() else {}
        if data.get("val_fold"):
            if not (stage / "metrics.json").is_file():
                raise SystemExit(f"{stage}: no metrics.json yet (the run has not finished)")
            return stage, data
    raise SystemExit(f"{run}: not a fold run (no stage with a val_fold in its config.json)")


def scores_of_runs(runs: list[Path]) -> tuple[FoldScores, str]:
    """One run per fold, every fold once; returns the scores and the folds' unit."""
    by_fold: dict[int, dict] = {}
    layout = set()
    for run in runs:
        stage, data = _fold_stage(run)
        fold, folds = data["val_fold"]
        layout.add((folds, data.get("fold_by", "sample")))
        if fold in by_fold:
            raise SystemExit(f"fold {fold} given twice ({run})")
        by_fold[fold] = json.loads((stage / "metrics.json").read_text())["val"]
    if len(layout) != 1:
        raise SystemExit(f"the runs cut SFEW Train differently: {sorted(layout)}")
    (folds, by), = layout
    missing = sorted(set(range(folds)) - set(by_fold))
    if missing:
        raise SystemExit(f"folds {missing} of {folds} have no run: every fold is needed for a mean")
    vals = [by_fold[k] for k in range(folds)]
    classes = tuple(vals[0]["classes"])
    confusion = np.sum([np.asarray(v["confusion"], np.int64) for v in vals], axis=0)
    return FoldScores([float(v["accuracy"]) for v in vals], confusion, classes), by


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path,
                   help="an .npz from fer-train evaluate --predictions (a stage 1: every fold), one .npz per "
                        "fold (file K scored on fold K), or a stage 2's fold runs")
    p.add_argument("--folds", type=int, default=5, help="for predictions: how many folds")
    p.add_argument("--by", choices=FOLD_UNITS, default="film", help="for predictions: the folds' unit")
    p.add_argument("--valid", type=Path, help="fer-train evaluate --json output of the candidate on FER+ valid")
    args = p.parse_args()
    if len(args.inputs) == 1 and args.inputs[0].suffix == ".npz":
        data = np.load(args.inputs[0], allow_pickle=False)
        classes = tuple(str(c) for c in data["classes"])
        scores, by = scores_of_predictions(data["ids"], data["labels"], data["probs"], classes, args.folds,
                                           args.by), args.by
    elif all(path.suffix == ".npz" for path in args.inputs):
        scores, by = scores_of_fold_predictions(args.inputs, args.by), args.by
    else:
        scores, by = scores_of_runs(args.inputs)
    name = args.inputs[0] if len(args.inputs) == 1 else f"{len(args.inputs)} fold " + (
        "predictions" if args.inputs[0].suffix == ".npz" else "runs")
    print(f"{name}: folds by {by}: " + " / ".join(f"{100 * a:.2f}" for a in scores.accuracies)
          + f"; mean {100 * scores.mean:.2f} (sd {100 * np.std(scores.accuracies, ddof=1):.2f})")
    print("recall over the folds: " + ", ".join(f"{c} {'—' if r is None else f'{100 * r:.1f}'}"
                                                for c, r in scores.recall().items()))
    if args.valid:
        valid = json.loads(args.valid.read_text())["accuracy"]
        print(f"selection score: mean of FER+ valid {100 * valid:.2f} and the folds' {100 * scores.mean:.2f} "
              f"= {50 * (valid + scores.mean):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
