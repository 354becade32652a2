"""Score models the way a user of the app gets them (``fer-train evaluate --json``, default
options: the app's face path, flip TTA) on the sets issue 10 reports, and print each model's
row and the mean ± sample sd over them (one model per seed of a recipe).

    python bench/seeds_table.py runs/fp-sfew-s0/model runs/fp-sfew-s1/model runs/fp-sfew-s2/model \
        [--data-root ../shared/data] [--sets sfew-val ferplus-test fer2013-test] [--json out.json]

A model may be a path or a bundled model's name (``default``, ``paper-fer32-sfew``). Each
evaluation is a separate ``fer-train evaluate`` process, so the numbers are exactly the
command's; its JSON is kept beside the table with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SETS = {  # name: (data under the data root, split, what is reported)
    "sfew-val": ("sfew2", "Val", "SFEW 2.0 Val"),
    "ferplus-test": ("ferplus/fer2013new.csv", "PrivateTest", "FER+ PrivateTest, majority"),
    "ferplus-valid": ("ferplus/fer2013new.csv", "PublicTest", "FER+ PublicTest (valid), majority"),
    "fer2013-test": ("fer2013/fer2013.csv.gz", "PrivateTest", "FER-2013 PrivateTest"),
    "fer2013-valid": ("fer2013/fer2013.csv.gz", "PublicTest", "FER-2013 PublicTest"),
}


def evaluate(model: str, data: Path, split: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "trainer.cli", "evaluate", "--model", model, "--data", str(data), "--split", split,
           "--json", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _mean_sd(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    p.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["sfew-val", "ferplus-test", "fer2013-test"])
    p.add_argument("--json", type=Path, help="write every evaluation's JSON here")
    args, extra = p.parse_known_args(argv)  # anything else goes to fer-train evaluate (e.g. --input none)
    results: dict[str, dict[str, dict]] = {}
    for name in args.sets:
        path, split, title = SETS[name]
        results[name] = {}
        for model in args.models:
            results[name][model] = evaluate(model, args.data_root / path, split, extra)
            r = results[name][model]
            print(f"{title:36s} {model:40s} acc {100 * r['accuracy']:6.2f}  F1 {100 * r['macro_f1']:6.2f}",
                  flush=True)
    print()
    for name in args.sets:
        rows = list(results[name].values())
        classes = list(rows[0]["per_class_recall"])
        recall = " | ".join(_mean_sd([100 * r["per_class_recall"][c] for r in rows]) for c in classes)
        print(f"| {SETS[name][2]} | {_mean_sd([100 * r['accuracy'] for r in rows])} | "
              f"{_mean_sd([100 * r['macro_f1'] for r in rows])} | {recall} |")
    print(f"(accuracy | macro F1 | recall of {', '.join(classes)}; mean ± sd over {len(args.models)} models)")
    if args.json:
        args.json.write_text(json.dumps({"models": args.models, "extra_args": extra, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
