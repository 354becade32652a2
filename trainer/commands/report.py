"""``fer-train report RUN_DIR...``: the validation results of finished runs side by side, with
mean and spread over runs (e.g. the same stage trained with several seeds).

Examples::

    fer-train report runs/fer32-sfew-s0 runs/fer32-sfew-s1 runs/fer32-sfew-s2
    fer-train report runs/lite0-sfew-only-s* --json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from trainer.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="summarise finished runs (mean and spread over seeds)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run folders (or cascade folders) with metrics.json")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _metrics_file(run: Path) -> Path:
    """A stage folder's metrics.json, or a cascade's last stage."""
    if (run / "metrics.json").is_file():
        return run / "metrics.json"
    stages = sorted(p for p in run.glob("*/metrics.json"))
    if not stages:
        raise UsageError(f"{run}: no metrics.json (is the run finished?)")
    return stages[-1]


def summarise_runs(runs: list[Path]) -> dict[str, Any]:
    rows = []
    for run in runs:
        metrics = json.loads(_metrics_file(run).read_text())
        val = metrics.get("val")
        if not val:
            raise UsageError(f"{run}: the run has no validation results")
        rows.append({"run": str(run), "accuracy": val["accuracy"], "macro_f1": val["macro_f1"],
                     "per_class_recall": val["per_class_recall"], "val": val.get("name")})
    acc = np.array([r["accuracy"] for r in rows])
    classes = list(rows[0]["per_class_recall"])
    recall = {c: float(np.mean([r["per_class_recall"][c] or 0.0 for r in rows])) for c in classes}
    return {
        "runs": rows,
        "n": len(rows),
        "accuracy_mean": float(acc.mean()),
        # Sample standard deviation: the spread a new seed would show.
        "accuracy_std": float(acc.std(ddof=1)) if len(rows) > 1 else 0.0,
        "accuracy_min": float(acc.min()),
        "accuracy_max": float(acc.max()),
        "macro_f1_mean": float(np.mean([r["macro_f1"] for r in rows])),
        "per_class_recall_mean": recall,
    }


def run(args: argparse.Namespace) -> int:
    summary = summarise_runs(args.runs)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for r in summary["runs"]:
        print(f"{r['run']}: accuracy {r['accuracy']:.4f}  macro F1 {r['macro_f1']:.4f}  ({r['val']})")
    print(f"mean accuracy {summary['accuracy_mean']:.4f} ± {summary['accuracy_std']:.4f} (sd, n={summary['n']}), "
          f"range {summary['accuracy_min']:.4f}–{summary['accuracy_max']:.4f}")
    print("mean per-class recall: " + ", ".join(f"{c} {v:.3f}" for c, v in summary["per_class_recall_mean"].items()))
    return 0
