"""``fer-train agreement MINE THEIRS [MORE ...]``: how far annotators' relabel journals agree on
the faces they judged (a class set or confirmed, or not a face).

Two journals: the share alike, Cohen's kappa, the confusion between them and the faces they
judged differently; what the review window's *Compare With Journal* shows, without the data or
a model (journals name faces by id). Three or more: Krippendorff's alpha over every face two
or more judged, each pair's kappa, each annotator against the others' majority, and how many
faces have a majority. ``--consensus OUT``
writes each face's majority as a journal of its own (annotator "consensus"), for *Import
Journal* in the review window or ``fer-train train --relabels``; the faces without one are
listed, for a person to decide.

Examples::

    fer-train agreement ann.jsonl bob.jsonl
    fer-train agreement ann.jsonl bob.jsonl --dataset sfew2 --json > agreement.json
    fer-train agreement ann.jsonl bob.jsonl cy.jsonl --consensus team.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.data.samples import DataError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agreement", help="how far annotators' relabel journals agree (Cohen's kappa, "
                                         "Krippendorff's alpha), and their consensus",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("journals", type=Path, nargs="+", metavar="JOURNAL",
                   help="two or more relabel journals (JSONL) of the same data, one an annotator")
    p.add_argument("--dataset", help="the dataset key, for journals that hold several (default: the one they hold)")
    p.add_argument("--classes", type=lambda t: [c.strip() for c in t.split(",") if c.strip()], metavar="A,B,...",
                   help="the data's classes: judgements naming others count nowhere, as in the review window "
                        "(default: every class either journal names)")
    p.add_argument("--list", type=int, default=10, metavar="N",
                   help="faces judged differently (or without a majority) listed in the text")
    p.add_argument("--consensus", type=Path, metavar="OUT.jsonl",
                   help="write each face's majority judgement as a new journal (annotator 'consensus')")
    p.add_argument("--min-judges", type=int, default=2, metavar="N",
                   help="a consensus needs at least N annotators to have judged the face (default 2)")
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


def _names(paths: list[Path]) -> list[str]:
    """Each journal's annotator as the output names it: its file's stem, its parent's name
    where two stems are the same (ann/labels.jsonl, bob/labels.jsonl)."""
    stems = [p.stem for p in paths]
    return [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]


def run(args: argparse.Namespace) -> int:
    from trainer.classes import FERPLUS_CLASSES
    from trainer.data.relabel import EXCLUDED
    from trainer.evaluation.agreement import team_agreement

    if len(args.journals) < 2:
        raise DataError("agreement: name two or more journals (one an annotator)")
    if len({p.resolve() for p in args.journals}) < len(args.journals):
        raise DataError("agreement: the same journal named twice")
    if args.consensus is not None and args.consensus.exists():
        raise DataError(f"{args.consensus} exists: a consensus goes to a new journal (choose another path)")
    judged, dataset = {}, args.dataset
    for path, name in zip(args.journals, _names(args.journals)):
        judged[name], dataset = _judgements(path, dataset)
    named = set().union(*(set(j.values()) for j in judged.values()))
    classes = args.classes or ([c for c in FERPLUS_CLASSES if c in named]
                               + sorted(named - set(FERPLUS_CLASSES) - {EXCLUDED}))
    team = team_agreement(judged, classes)
    consensus = team.consensus(args.min_judges)
    if args.consensus is not None:
        _write_consensus(args.consensus, dataset, consensus, team.ids)
    if len(judged) == 2:
        _two(args, team, dataset, judged, consensus)
    else:
        _team(args, team, dataset, consensus)
    return 0


def _write_consensus(path: Path, dataset: str | None, consensus: dict[str, str], order: tuple[str, ...]) -> None:
    from trainer.data.relabel import RelabelJournal

    path.parent.mkdir(parents=True, exist_ok=True)
    RelabelJournal(path, dataset=dataset).set_many([(i, consensus[i], None) for i in order if i in consensus],
                                                   user="consensus")


def _consensus_line(args: argparse.Namespace, team, consensus: dict[str, str]) -> str:
    undecided = team.undecided(args.min_judges)
    text = (f"consensus (a majority of {args.min_judges}+ judges): {len(consensus):,} faces; "
            f"no majority: {len(undecided):,}")
    return text + (f"; written to {args.consensus}" if args.consensus is not None else "")


def _two(args: argparse.Namespace, team, dataset: str | None, judged: dict, consensus: dict[str, str]) -> None:
    from trainer.evaluation.agreement import describe

    (a, b), = team.pairs
    result = team.pairs[(a, b)]
    mine, theirs = judged[a], judged[b]
    if args.json:
        print(json.dumps({"dataset": dataset, "both": result.both, "agree": result.agree, "rate": result.rate,
                          "kappa": result.kappa, "alpha": team.alpha, "categories": list(result.categories),
                          "confusion": result.confusion.tolist(), "only_mine": len(result.only_a),
                          "only_theirs": len(result.only_b), "consensus": len(consensus),
                          "disagreeing": [{"id": i, "mine": mine[i], "theirs": theirs[i]} for i in result.disagreeing]},
                         indent=1))
        return
    print(describe(result, a, b) + ".")
    print(f"judged by {a} only: {len(result.only_a):,}; by {b} only: {len(result.only_b):,}")
    if result.both:
        width = max(len(c) for c in result.categories) + 1
        print(f"\nrows: {a}, columns: {b}")
        print(" " * width + "".join(f"{c[:6]:>7}" for c in result.categories))
        for name, row in zip(result.categories, result.confusion):
            print(f"{name:<{width}}" + "".join(f"{n:>7}" for n in row))
    for i in result.disagreeing[: args.list]:
        print(f"{i}: {mine[i]} / {theirs[i]}")
    if len(result.disagreeing) > args.list:
        print(f"... and {len(result.disagreeing) - args.list} more (--list N, --json)")
    if args.consensus is not None:
        print(_consensus_line(args, team, consensus))


def _team(args: argparse.Namespace, team, dataset: str | None, consensus: dict[str, str]) -> None:
    from trainer.evaluation.agreement import coefficient

    judges = team.judges
    undecided = team.undecided(args.min_judges)
    if args.json:
        print(json.dumps({
            "dataset": dataset, "annotators": list(team.annotators), "categories": list(team.categories),
            "faces": len(team.ids),
            "judged_by": {str(n): int((judges == n).sum()) for n in range(1, len(team.annotators) + 1)},
            "alpha": team.alpha,
            "pairs": [{"a": a, "b": b, "both": r.both, "agree": r.agree, "kappa": r.kappa}
                      for (a, b), r in team.pairs.items()],
            "with_the_others": {name: {"alike": a, "compared": n}
                                for name, (a, n) in team.with_the_others().items()},
            "consensus": len(consensus), "min_judges": args.min_judges,
            "undecided": [{"id": i, "votes": _votes(team, i)} for i in undecided]}, indent=1))
        return
    pairable = int((judges >= 2).sum())
    print(f"{len(team.annotators)} annotators judged {len(team.ids):,} faces, {pairable:,} of them by two or more: "
          f"Krippendorff's alpha {coefficient(team.alpha)}.")
    width = max(len(n) for n in team.annotators) + 1
    print("\nCohen's kappa (faces both judged)")
    print(" " * width + "".join(f"{n[:10]:>12}" for n in team.annotators[1:]))
    for n, a in enumerate(team.annotators[:-1]):
        cells = []
        for b in team.annotators[1:]:
            r = team.pairs.get((a, b))
            kappa = "-" if r is None or r.kappa is None else coefficient(r.kappa)
            cells.append("" if r is None else f"{kappa} ({r.both})")
        print(f"{a:<{width}}" + "".join(f"{c:>12}" for c in cells))
    print("\neach against the others' majority (faces where they have one)")
    for name, (alike, compared) in team.with_the_others().items():
        share = f"{100 * alike / compared:.1f}%" if compared else "-"
        print(f"{name:<{width}}{share:>7} of {compared:,}")
    print("\n" + _consensus_line(args, team, consensus))
    for i in undecided[: args.list]:
        print(f"{i}: " + ", ".join(f"{c} {n}" for c, n in _votes(team, i).items()))
    if len(undecided) > args.list:
        print(f"... and {len(undecided) - args.list} more (--list N, --json)")


def _votes(team, sample_id: str) -> dict[str, int]:
    row = team.votes[team.ids.index(sample_id)]
    return {team.categories[k]: int(n) for k, n in enumerate(row) if n}
