"""Two real label sets of the same faces compared as two annotators' journals: FER-2013's own
labels and FER+'s majority (ten taggers a face), through the path Review ▸ Compare With Journal
takes (each label set written as a relabel journal, read back, trainer.evaluation.agreement).

FER+'s authors relabelled FER-2013 because its labels were noisy: the agreement below is what two
labelling efforts of one face set reach, a reference for a team's own kappa. Faces whose FER+
majority is contempt, unknown, not a face or a tie are not judged by FER+ here.

    python bench/annotator_agreement.py [--data-root ../shared/data] [--split PublicTest] [--json OUT] [--keep DIR]

``--keep DIR`` leaves the two journals there, to open in the review window:
``fer-desktop review ../shared/data/fer2013/fer2013.csv.gz --split PublicTest --journal DIR/fer2013.jsonl
--compare DIR/ferplus.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from trainer.data.datasets import LoadOptions, load_samples
from trainer.data.relabel import FER2013_KEY, RelabelJournal
from trainer.evaluation.agreement import agreement, describe, judgements


def as_journal(path: Path, ids: list[str], labels: np.ndarray, classes: tuple[str, ...], user: str) -> RelabelJournal:
    journal = RelabelJournal(path, dataset=FER2013_KEY)
    journal.set_many([(i, classes[y], None) for i, y in zip(ids, labels) if y >= 0], user=user)
    return journal


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    p.add_argument("--split", default="PublicTest")
    p.add_argument("--json", type=Path)
    p.add_argument("--keep", type=Path, metavar="DIR", help="write the two journals here (else a temporary folder)")
    args = p.parse_args()
    fer = load_samples(f"{args.data_root}/fer2013/fer2013.csv.gz#{args.split}", LoadOptions())
    plus = load_samples(f"{args.data_root}/ferplus/fer2013new.csv#{args.split}", LoadOptions(contempt="keep"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("fer2013.jsonl", "ferplus.jsonl"):
            (folder / name).unlink(missing_ok=True)  # a journal appends: start both afresh
        a = as_journal(folder / "fer2013.jsonl", list(fer.ids), fer.labels, fer.classes, "fer2013")
        b = as_journal(folder / "ferplus.jsonl", list(plus.ids), plus.labels, plus.classes, "ferplus")
        result = agreement(judgements(a.latest(imports=False)), judgements(b.latest(imports=False)), fer.classes)
    print(describe(result, "FER-2013", "FER+") + ".")
    per_class = {c: round(float(result.confusion[k, k] / result.confusion[k].sum()), 4)
                 for k, c in enumerate(result.categories) if result.confusion[k].sum()}
    print("FER+ agrees with FER-2013's label, per FER-2013 class:",
          ", ".join(f"{c} {100 * v:.1f}%" for c, v in per_class.items()))
    print("most confused (FER-2013 -> FER+):", result.most_confused(5))
    out = {"split": args.split, "both": result.both, "agree": result.agree, "rate": result.rate,
           "kappa": result.kappa, "only_fer2013": len(result.only_a), "only_ferplus": len(result.only_b),
           "per_class": per_class, "most_confused": result.most_confused(5)}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
