"""The full check behind docs/review.md: ``fer-train issues`` (run as a user types it) ranks a
dataset's labels in the order the review window shows them (``fer_desktop.review_io``'s
session, sorted likeliest label error first). tests/test_review.py checks it on generated data.

    python bench/same_ranking.py ../shared/data/sfew2 --split Train+Val [--model NAME_OR_PATH]

Prints how many samples sit at the same rank, how many each scored out of fold, and the first
place where the two orders part, if any.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from fer_desktop.review import DatasetRequest
    from fer_desktop.review_io import open_session

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path)
    p.add_argument("--split", required=True, help="'+'-joined splits (the two commands' defaults differ: the window "
                                                  "opens every split, fer-train issues the test / val one)")
    p.add_argument("--model", help="a model path or bundled name (default: the bundled default)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ranked.csv"
        cmd = [sys.executable, "-m", "trainer.cli", "issues", str(args.data), "--split", args.split, "--out", str(out),
               "--json"] + (["--model", args.model] if args.model else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        summary = json.loads(done.stdout)
        cli = [row["id"] for row in csv.DictReader(open(out, encoding="utf-8"))]
        # An empty journal of its own: the window's ranking of the given labels, as the CLI ranks them.
        session = open_session(DatasetRequest(str(args.data), split=args.split, model=args.model,
                                              journal=str(Path(tmp) / "journal.jsonl")))
    window = [session.ids[i] for i in session.view(sort="score")]
    same = sum(a == b for a, b in zip(cli, window))
    parted = next((k for k, (a, b) in enumerate(zip(cli, window)) if a != b), None)
    print(f"{len(cli)} ranked by fer-train issues, {len(window)} by the window; {same} at the same rank; "
          f"out of fold: {summary['out_of_sample']} (CLI), {int(session.out_of_sample.sum())} (window); "
          f"memorisation gap {summary['memorisation_gap']}")
    if parted is not None:
        print(f"first difference at rank {parted + 1}: {cli[parted]} (CLI) vs {window[parted]} (window)")
    return 0 if same == len(cli) == len(window) else 1


if __name__ == "__main__":
    raise SystemExit(main())
