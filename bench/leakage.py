"""How much of a FER-2013 test score comes from faces the model trained on: FER-2013's test
splits hold exact copies of Training images (the same 48x48 pixels under another row) and near
copies (the same photo cropped a little differently, brighter, re-encoded, watermarked).

Runs ``fer-train evaluate --predictions`` (the app's path, the model's default options) on a
test split of FER-2013 or FER+ (FER+'s rows are FER-2013's), finds each test face's copies by
its original pixels (``trainer.evaluation.duplicates``), and reports the accuracy on the faces
with an exact copy in Training, with only a near copy there, and with neither, beside the whole
split's (and, as before near copies were found, on the faces without an exact copy).

    python bench/leakage.py --model fer2013-labels --data ../shared/data/fer2013/fer2013.csv.gz --split PrivateTest
    python bench/leakage.py --data ../shared/data/ferplus/fer2013new.csv --split PrivateTest   # the bundled model
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def fer2013_copies(fer2013_csv: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Two (rows,) bool over FER-2013's rows: a test image has an exact copy among Training's
    rows; it has an exact or near copy there. And counts of FER-2013's copies."""
    from trainer.data.cache import file_stamp
    from trainer.data.fer2013 import read_fer2013
    from trainer.evaluation.duplicates import cached_near_copy_groups, copy_groups
    from trainer.evaluation.predictions import cache_dir_default

    sets = read_fer2013(fer2013_csv)
    rows = np.concatenate([[int(i.rpartition(":")[2]) for i in s.ids] for s in sets.values()])
    images = np.concatenate([s.images for s in sets.values()])
    labels = np.concatenate([s.labels for s in sets.values()])
    splits = np.concatenate([np.full(len(s), name) for name, s in sets.items()])
    summary, out = {}, []
    # the search takes minutes: its groups are kept for this csv (a changed file is searched again)
    key = hashlib.sha256(json.dumps(file_stamp(fer2013_csv)).encode()).hexdigest()[:32]
    near = cached_near_copy_groups(images, cache_dir_default() / f"fer2013-{key}.npz")
    for kind, groups in (("exact", copy_groups(images)), ("near", near)):
        leaked = copied_from_training(groups, splits)
        out.append(np.zeros(int(rows.max()) + 1, bool))
        out[-1][rows] = leaked
        summary[kind] = summarise_copies(groups, labels, splits)
    return out[0], out[1], summary


def copied_from_training(groups: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """(N,) bool: a face of another split with a copy in Training."""
    from trainer.evaluation.duplicates import UNIQUE

    copied = groups != UNIQUE
    return (splits != "Training") & copied & np.isin(groups, np.unique(groups[(splits == "Training") & copied]))


def summarise_copies(groups: np.ndarray, labels: np.ndarray, splits: np.ndarray) -> dict:
    """Counts of a dataset's copies: groups, images in them, groups across splits or labelled two
    ways, and each test split's faces with a copy in Training."""
    from trainer.evaluation.duplicates import UNIQUE, across_splits, disagreeing

    leaked = copied_from_training(groups, splits)
    return {"groups": int(groups.max()) + 1, "images_in_groups": int((groups != UNIQUE).sum()),
            "groups_across_splits": len(np.unique(groups[across_splits(groups, splits)])),
            "groups_labelled_otherwise": len(np.unique(groups[disagreeing(groups, labels)])),
            "test_faces_with_a_copy_in_training": {name: int((leaked & (splits == name)).sum())
                                                   for name in dict.fromkeys(splits.tolist()) if name != "Training"}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="default: the bundled model")
    p.add_argument("--data", type=Path, required=True, help="FER-2013 csv(.gz) or FER+ csv")
    p.add_argument("--split", default="PrivateTest")
    p.add_argument("--fer2013", type=Path, default=Path("../shared/data/fer2013/fer2013.csv.gz"),
                   help="FER-2013's csv, for the original pixels")
    p.add_argument("--json", type=Path, help="also write the result here")
    p.add_argument("--predictions", type=Path, metavar="NPZ",
                   help="keep fer-train evaluate's predictions (NPZ) and its JSON (NPZ with .json) here, and reuse "
                        "them when both exist: the evaluate JSON is the model's test record")
    args = p.parse_args()
    if args.json and args.predictions and args.json.resolve() == args.predictions.with_suffix(".json").resolve():
        p.error("--json would overwrite fer-train evaluate's record kept beside --predictions; name another file")

    from trainer.evaluation.predictions import Predictions

    with tempfile.TemporaryDirectory() as tmp:
        npz = args.predictions or Path(tmp) / "pred.npz"
        report = npz.with_suffix(".json")
        if not (npz.is_file() and report.is_file()):
            command = [sys.executable, "-m", "trainer.cli", "evaluate", "--data", str(args.data), "--split",
                       args.split, "--json", "--predictions", str(npz)] + (["--model", args.model] if args.model else [])
            report.write_text(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        reported = json.loads(report.read_text())
        pred = Predictions.load(npz)
    labels = pred.scorable_labels
    scored = labels >= 0
    right = (pred.predicted == labels) & scored
    rows = np.array([int(i.rpartition(":")[2]) for i in pred.ids])
    exact, near, counts = fer2013_copies(args.fer2013)
    exact, near = exact[rows], near[rows]  # near: an exact or a near copy
    result = {"model": args.model or "default", "data": str(args.data), "split": args.split,
              "reported_accuracy": reported["accuracy"], "faces": int(scored.sum()),
              "accuracy": float(right.sum() / scored.sum()), "fer2013_copies": counts}
    parts = (("with_a_copy_in_training", exact), ("without", ~exact),
             ("with_only_a_near_copy_in_training", near & ~exact), ("without_any_copy", ~near))
    for name, part in parts:
        n = int((part & scored).sum())
        result[name] = {"faces": n, "accuracy": float(right[part].sum() / n) if n else None}
    print(json.dumps(result, indent=1))
    if abs(result["accuracy"] - reported["accuracy"]) > 1e-9:
        raise SystemExit("the predictions do not give the accuracy fer-train evaluate reported")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
