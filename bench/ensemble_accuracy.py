"""Is an ensemble worth its cost? Each model's probabilities from ``fer-train evaluate
--predictions`` (default options: the app's path, flip TTA), averaged over the models, scored
against the same labels, beside the best and the mean single model.

    python bench/ensemble_accuracy.py runs/a/model runs/b/model [runs/c/model ...] \
        [--sets ferplus-valid sfew-val ferplus-test] [--data-root ../shared/data]

Each evaluation is a separate ``fer-train evaluate`` process, so every single-model number is
exactly the command's; the average is taken over the files they write.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from seeds_table import SETS, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer.evaluation.evaluate import summarise_predictions  # noqa: E402
from trainer.evaluation.predictions import Predictions  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    p.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["ferplus-valid", "sfew-val", "ferplus-test"])
    args = p.parse_args(argv)
    if len(args.models) < 2:
        p.error("an ensemble needs two models or more")
    with tempfile.TemporaryDirectory(prefix="fer-ensemble-") as tmp:
        for name in args.sets:
            path, split, title = SETS[name]
            runs = []
            for i, model in enumerate(args.models):
                out = Path(tmp) / f"{name}-{i}.npz"
                reported = evaluate(model, args.data_root / path, split, ["--predictions", str(out)])
                runs.append((reported["accuracy"], Predictions.load(out)))
            first = runs[0][1]
            for _, other in runs[1:]:  # the same images in the same order, or the average means nothing
                if other.ids != first.ids or other.classes != first.classes:
                    raise SystemExit(f"{title}: the models' predictions are not over the same samples and classes")
            singles = [acc for acc, _ in runs]
            mean_probs = np.mean([pred.probs for _, pred in runs], axis=0)  # scored as fer-train evaluate scores
            averaged = summarise_predictions(dataclasses.replace(first, probs=mean_probs, view_probs=None),
                                             first.classes)["accuracy"]
            print(f"{title:36s} ensemble of {len(runs)} {100 * averaged:6.2f}   best single {100 * max(singles):6.2f}"
                  f"   mean single {100 * statistics.fmean(singles):6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
