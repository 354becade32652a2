"""``fer-train compare OLD NEW --data ...``: two models on the same samples with the same
(corrected) labels, each fed the face crops its own card asks for: accuracy, macro F1,
per-class recall, both confusion matrices and their difference, and the samples the new
model fixed and broke. ``--test SPEC`` adds a set the relabelling did not touch (its own
labels, the journal not applied), so that "better" is not just "agrees with my edits".

OLD / NEW are model files (NAME.safetensors + NAME.json) or ``bundled``.

Examples::

    fer-train compare bundled runs/retrain/model --data ../shared/data/sfew2 --split Val \\
        --relabels ~/.local/share/fer-desktop/journals/sfew2-1a2b3c4d.jsonl \\
        --test ../shared/data/fer2013/fer2013.csv.gz#PrivateTest
    fer-train compare runs/a/model runs/b/model --data ../shared/data/sfew2 --json > comparison.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainer.commands.evaluate import add_input_args
from trainer.commands.train import add_ferplus_args, fold_arg
from trainer.data.samples import FOLD_UNITS

BUNDLED = "bundled"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two models on the same data (fixed / broken samples)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", metavar="OLD", help="the model before (a model file, or 'bundled')")
    p.add_argument("new", metavar="NEW", help="the model after")
    p.add_argument("--data", required=True, metavar="PATH", help="csv, csv.gz, FER+ csv or class-folder dataset")
    p.add_argument("--split", help="split name(s), '+'-joined (default: the val / test split)")
    p.add_argument("--relabels", type=Path, metavar="JOURNAL", help="a relabel journal applied to --data's labels")
    p.add_argument("--team", type=Path, nargs="+", default=[], metavar="JOURNAL",
                   help="annotators' journals whose votes label --data (before --relabels), as fer-train train --team")
    p.add_argument("--val-fold", type=fold_arg, metavar="K/N",
                   help="compare on fold K of N of --data (after --relabels), the fold a run held out to validate on")
    p.add_argument("--fold-by", choices=FOLD_UNITS, default="sample", help="what the fold keeps whole (as for train)")
    p.add_argument("--test", metavar="SPEC", help="also compare on this set, with its own labels: PATH[#SPLIT]")
    p.add_argument("--json", action="store_true", help="print one JSON object (every fixed / broken sample)")
    p.add_argument("--list", type=int, default=10, metavar="N", help="fixed / broken samples listed in the text")
    p.add_argument("--max-samples", type=int, default=0, help="compare on a random subset (quick looks)")
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"),
                   help="where the model runs: auto (PyTorch on a GPU, else ONNX Runtime), onnx, torch")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--no-tta", action="store_true", help="do not average with the mirrored face")
    add_input_args(p)
    add_ferplus_args(p)


def _model(text: str, args: argparse.Namespace):
    from trainer.commands.evaluate import load_model_arg
    return load_model_arg(argparse.Namespace(**{**vars(args), "model": None if text == BUNDLED else text}))


def _set(args: argparse.Namespace, role: str, models: list, relabels: Path | None) -> dict:
    """One set's comparison: each model's predictions on its own crops of the data."""
    import numpy as np

    from trainer.commands.evaluate import load_data_arg
    from trainer.evaluation.compare import compare_predictions
    from trainer.evaluation.predictions import cached_predict

    set_args = argparse.Namespace(**{**vars(args), "relabels": relabels})
    preds, info = [], {}
    for path, model, card in models:
        samples = load_data_arg(set_args, card)
        if getattr(set_args, "val_fold", None):  # the run's held-out fold: split as training split it
            samples = samples.split_fold(*set_args.val_fold, by=set_args.fold_by)[1]
        if args.max_samples and len(samples) > args.max_samples:
            pick = np.sort(np.random.default_rng(0).permutation(len(samples))[: args.max_samples])
            samples = samples.subset(pick)
        print(f"compare: {card.name} on {samples.name} ({len(samples)} samples)", file=sys.stderr)
        pred = cached_predict(path, model, card, samples, samples.meta["spec"], device=args.device,
                              tta_flip=not args.no_tta, batch_size=args.batch_size).predictions
        preds.append(pred)
        info = {"data": samples.meta["spec"], "name": samples.name,
                "relabels": str(relabels) if relabels else None, "team": [str(p) for p in set_args.team or []],
                "relabelled": int(samples.meta.get("relabelled", 0)), "excluded": int(samples.meta.get("excluded", 0))}
    result = compare_predictions(preds[0], preds[1], list(models[0][2].classes), list(models[1][2].classes))
    return {"role": role, **info, **result}


def run(args: argparse.Namespace) -> int:
    from trainer.evaluation.compare import format_comparison

    if args.relabels is not None and not args.relabels.is_file():
        raise FileNotFoundError(f"relabel journal not found: {args.relabels}")
    models = [_model(args.old, args), _model(args.new, args)]
    sets = [_set(args, "validation", models, args.relabels)]
    if args.test:
        test_args = argparse.Namespace(**{**vars(args), "data": args.test, "split": None, "val_fold": None,
                                          "team": []})
        sets.append(_set(test_args, "test (labels as published)", models, None))
    result = {"old_model": {"path": str(models[0][0]), "name": models[0][2].name},
              "new_model": {"path": str(models[1][0]), "name": models[1][2].name}, "sets": sets}
    print(json.dumps(result) if args.json else format_comparison(result, args.list))
    return 0
