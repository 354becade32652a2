"""The full check behind docs/results-app-path.md: ``fer-desktop predict --json`` and
``fer-train evaluate --predictions`` on every image of a class-folder split, each with its
default options, must give the same top class and probabilities (tests/test_same_probs.py
checks a sample of it).

    python bench/same_answers.py ../shared/data/sfew2 --split Val [--model NAME_OR_PATH] [-- extra options for both]

Prints how many images agree on the top class, the largest probability difference, and each
command's accuracy. Both run as separate processes, exactly as a user types them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # predict exits 1 when some file was unreadable; they are reported
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="a class-folder dataset")
    p.add_argument("--split", default="Val")
    p.add_argument("--model", help="a model path or bundled name (default: the bundled default)")
    args, extra = p.parse_known_args(argv)
    model = ["--model", args.model] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "evaluate.npz"
        evaluated = json.loads(run([sys.executable, "-m", "trainer.cli", "evaluate", "--data", str(args.data),
                                    "--split", args.split, "--json", "--predictions", str(npz), *model, *extra]))
        predicted = json.loads(run([sys.executable, "-m", "fer_desktop.cli_predict", str(args.data / args.split),
                                    "--json", *model, *extra]))
        from trainer.evaluation.predictions import Predictions

        pred = Predictions.load(npz)
    by_id = {Path(image["path"]).relative_to(args.data).as_posix(): image for image in predicted["images"]}
    same_top, no_face, worst, right = 0, 0, 0.0, 0
    for i, sample_id in enumerate(pred.ids):
        faces = by_id[sample_id]["faces"]
        if not faces:
            no_face += 1
            continue
        probs = np.array([faces[0]["probs"][c] for c in pred.classes])
        top = faces[0]["label"]
        same_top += top == pred.classes[int(pred.probs[i].argmax())]
        right += top == pred.classes[int(pred.labels[i])]
        worst = max(worst, float(np.abs(probs - pred.probs[i]).max()))
    n = len(pred.ids)
    print(f"{args.data}#{args.split}, model {predicted['model']}: {n} images")
    print(f"  same top class: {same_top} of {n - no_face} with a face ({no_face} without one in predict's output)")
    print(f"  largest probability difference: {worst:.1e} (predict's JSON rounds to 6 decimals)")
    print(f"  accuracy: fer-train evaluate {100 * evaluated['accuracy']:.2f}%, fer-desktop predict {100 * right / n:.2f}%")
    return 0 if same_top == n - no_face else 1


if __name__ == "__main__":
    raise SystemExit(main())
