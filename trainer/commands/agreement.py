"""``fer-train agreement MINE THEIRS``: how far two annotators' relabel journals agree on the
faces both judged (a class set or confirmed, or not a face): the share alike, Cohen's kappa, the
confusion between them and the faces they judged differently. What the review window's
*Compare With Journal* shows, without the data or a model: journals name faces by id.

Examples::

    fer-train agreement ann.jsonl bob.jsonl
    fer-train agreement ann.jsonl bob.jsonl --dataset sfew2 --json > agreement.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.data.samples import DataError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agreement", help="how far two annotators' relabel journals agree (Cohen's kappa)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mine", type=Path, metavar="MINE", help="a relabel journal (JSONL)")
    p.add_argument("theirs", type=Path, metavar="THEIRS", help="another annotator's journal of the same data")
    p.add_argument("--dataset", help="the dataset key, for journals that hold several (default: the one they hold)")
    p.add_argument("--classes", type=lambda t: [c.strip() for c in t.split(",") if c.strip()], metavar="A,B,...",
                   help="the data's classes: judgements naming others count nowhere, as in the review window "
                        "(default: every class either journal names)")
    p.add_argument("--list", type=int, default=10, metavar="N", help="faces judged differently listed in the text")
    p.add_argument("--json", action="store_true", help="print one JSON object (every face judged differently)")


def _judgements(path: Path, dataset: str | None) -> tuple[dict[str, str], str | None]:
    """A journal's own judgements (imports left out) for ``dataset`` (None: the only one it holds)."""
    from trainer.data.relabel import RelabelJournal, latest_records
    from trainer.evaluation.agreement import judgements

    if not path.is_file():
        raise DataError(f"{path}: no such journal")
    records = RelabelJournal(path).records()
    keys = sorted({r["dataset"] for r in records if r["dataset"] is not None})
    if dataset is None and len(keys) > 1:
        raise DataError(f"{path} holds labels for {len(keys)} datasets ({', '.join(keys)}): name one with --dataset")
    dataset = dataset if dataset is not None else (keys[0] if keys else None)
    judged = judgements(latest_records(records, dataset, imports=False))
    if not judged:
        raise DataError(f"{path.name}: no labels{f' for {dataset}' if dataset else ''} in it (a relabel journal, "
                        "JSON lines?)")
    return judged, dataset


def run(args: argparse.Namespace) -> int:
    from trainer.classes import FERPLUS_CLASSES
    from trainer.data.relabel import EXCLUDED
    from trainer.evaluation.agreement import agreement, describe

    mine, dataset = _judgements(args.mine, args.dataset)
    theirs, _ = _judgements(args.theirs, args.dataset or dataset)
    named = set(mine.values()) | set(theirs.values())
    classes = args.classes or ([c for c in FERPLUS_CLASSES if c in named]
                               + sorted(named - set(FERPLUS_CLASSES) - {EXCLUDED}))
    result = agreement(mine, theirs, classes)
    if args.json:
        print(json.dumps({"dataset": dataset, "both": result.both, "agree": result.agree, "rate": result.rate,
                          "kappa": result.kappa, "categories": list(result.categories),
                          "confusion": result.confusion.tolist(), "only_mine": len(result.only_a),
                          "only_theirs": len(result.only_b),
                          "disagreeing": [{"id": i, "mine": mine[i], "theirs": theirs[i]} for i in result.disagreeing]},
                         indent=1))
        return 0
    print(describe(result, args.mine.stem, args.theirs.stem) + ".")
    print(f"judged by {args.mine.stem} only: {len(result.only_a):,}; by {args.theirs.stem} only: {len(result.only_b):,}")
    if result.both:
        width = max(len(c) for c in result.categories) + 1
        print(f"\nrows: {args.mine.stem}, columns: {args.theirs.stem}")
        print(" " * width + "".join(f"{c[:6]:>7}" for c in result.categories))
        for name, row in zip(result.categories, result.confusion):
            print(f"{name:<{width}}" + "".join(f"{n:>7}" for n in row))
    for i in result.disagreeing[: args.list]:
        print(f"{i}: {mine[i]} / {theirs[i]}")
    if len(result.disagreeing) > args.list:
        print(f"... and {len(result.disagreeing) - args.list} more (--list N, --json)")
    return 0
