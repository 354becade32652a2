"""``fer-train issues DATA``: rank a labelled dataset's samples by how likely their label is
wrong, likeliest first, as a CSV (the review workspace's ranking, without a window).

The score is cleanlab's label-quality score (self-confidence; low = likely wrong) of either the
model's own probabilities or out-of-fold ones: the model's embeddings feed a K-fold
logistic-regression head, so every sample is scored by a model that never saw its label. With
``--probs auto`` (the default) the model's own are used while its accuracy on these labels is
within 5 points of the K-fold head's, the out-of-fold ones otherwise: a model rates the labels
it learnt by heart as right. docs/label-issues.md has the measurements.

Samples that are no face at all get a column of their own, ``not_a_face`` (high = likely no
face: blank, no face found, then how unusual the model finds it; the review window's "likely
not a face first"), with its reasons in ``face_doubts``: sort on it to find them. ``copies``
lists the ids of a sample's copies in the data, exact or near (trainer.evaluation.duplicates):
copies labelled two ways point at label errors.

Examples::

    fer-train issues ../shared/data/sfew2 --split Train --out sfew-train-issues.csv
    fer-train issues ../shared/data/fer2013/fer2013.csv.gz --split Training --out fer-issues.csv --top 2000
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from trainer.commands.evaluate import add_input_args
from trainer.commands.train import add_ferplus_args
from trainer.errors import UsageError

COLUMNS = ("rank", "id", "path", "split", "given", "predicted", "confidence", "score", "ambiguity", "flagged",
           "not_a_face", "face_doubts", "copies")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("issues", help="rank a dataset's samples by how likely their label is wrong",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="DATA", help="csv, csv.gz, FER+ csv or class-folder dataset (PATH[#SPLIT])")
    p.add_argument("--split", help="split name(s), '+'-joined (default: the test / val split)")
    p.add_argument("--model", type=Path, help="NAME.safetensors (+ NAME.json), or a bundled model by name (e.g. paper-fer32-sfew); default: the bundled default model")
    p.add_argument("--out", type=Path, required=True, metavar="CSV", help="the ranked table")
    p.add_argument("--relabels", type=Path, metavar="JOURNAL", help="rank the labels as corrected by a journal")
    p.add_argument("--method", default=None,
                   help="cleanlab score: self_confidence (default), normalized_margin, confidence_weighted_entropy")
    p.add_argument("--probs", choices=("auto", "out-of-fold", "model"), default="auto",
                   help="which probabilities to score: the model's own, out-of-fold ones from a K-fold head on "
                        "its embeddings, or auto (the review window's rule: the model's own for samples its card "
                        "says it never trained on; for the others, out-of-fold unless the model is as accurate "
                        "as the head)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=0, help="write only the first N rows")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"),
                   help="where the model runs: auto (PyTorch on a GPU, else ONNX Runtime), onnx, torch")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--no-tta", action="store_true", help="do not average with the mirrored face")
    p.add_argument("--no-views", action="store_true",
                   help="score the likeliest errors from one look only (default: also from a few moved and "
                        "rescaled views of them; docs/label-issues.md)")
    p.add_argument("--max-samples", type=int, default=0, help=argparse.SUPPRESS)
    add_input_args(p)
    add_ferplus_args(p)


def run(args: argparse.Namespace) -> int:
    from trainer.commands.evaluate import load_data_arg, load_model_arg
    from trainer.evaluation.duplicates import UNIQUE, cached_near_copy_groups, copies_of, disagreeing, group_members
    from trainer.evaluation.label_quality import (DEFAULT_METHOD, METHODS, IssueScores, ambiguity, find_issues,
                                                  score_labels)
    from trainer.evaluation.not_a_face import sample_doubts
    from trainer.evaluation.predictions import cached_predict
    from trainer.evaluation.trained_on import trained_on

    method = args.method or DEFAULT_METHOD
    if method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if args.folds < 2:
        raise UsageError(f"--folds must be at least 2, got {args.folds}")
    model_path, model, card = load_model_arg(args)
    args.data = str(args.data)
    samples = load_data_arg(args, card)
    if len(samples) == 0:
        raise UsageError(f"{args.data}: no labelled samples to rank")
    views = not args.no_views and args.probs != "out-of-fold"
    pred, _, pass_file = cached_predict(model_path, model, card, samples, samples.meta["spec"], device=args.device,
                                        tta_flip=not args.no_tta, batch_size=args.batch_size, embeddings=True,
                                        views=views)
    seen = trained_on(samples, card.training)
    if args.probs == "auto":
        found = score_labels(pred, seen, method=method, folds=args.folds, seed=args.seed)
    else:
        found = IssueScores.of(find_issues(pred, out_of_sample=args.probs == "out-of-fold", method=method,
                                           folds=args.folds, seed=args.seed))
    doubts = sample_doubts(samples, pred.embeddings)
    groups = cached_near_copy_groups(samples.images, pass_file)
    members = group_members(groups)
    root = Path(samples.meta["spec"].partition("#")[0])
    root = root if root.is_dir() else None
    ranking = found.order
    order = ranking[: args.top] if args.top else ranking
    amb = ambiguity(pred.probs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for rank, i in enumerate(order, start=1):
            writer.writerow([rank, pred.ids[i], str(root / pred.ids[i]) if root else "",
                             "" if pred.splits is None else pred.splits[i], pred.classes[pred.labels[i]],
                             pred.classes[pred.predicted[i]], f"{pred.confidence[i]:.4f}",
                             f"{found.scores[i]:.4f}", f"{amb[i]:.4f}", int(found.flagged[i]),
                             f"{doubts.scores[i]:.4f}", "; ".join(doubts.reasons(i)),
                             "; ".join(pred.ids[k] for k in copies_of(groups, members, i))])
    summary = {"data": samples.meta["spec"], "split": samples.name, "model": str(model_path), "n": len(pred),
               "ranked": len(ranking), "unlabelled": int((pred.labels < 0).sum()),
               "written": len(order), "flagged": int(found.flagged.sum()),
               "method": method, "trained_on": int(seen.sum()), "out_of_sample": int(found.out_of_sample.sum()),
               "memorisation_gap": found.memorisation_gap,
               "no_face_found": int(doubts.missing.sum()), "blank": int(doubts.blank.sum()),
               "copied": int((groups != UNIQUE).sum()), "copies_labelled_otherwise": int(disagreeing(groups, pred.labels).sum()),
               "out": str(args.out),
               "top": [{"id": pred.ids[i], "given": pred.classes[pred.labels[i]],
                        "predicted": pred.classes[pred.predicted[i]], "score": round(float(found.scores[i]), 4)}
                       for i in ranking[:10]]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['ranked']} samples of {samples.name} ranked ({method}, {found.which_probabilities()}"
              + ("" if found.memorisation_gap is None else f", memorisation gap {100 * found.memorisation_gap:+.1f} points")
              + f"); cleanlab flags {summary['flagged']} "
              f"({100 * summary['flagged'] / max(1, summary['ranked']):.1f}%) as likely label errors; "
              f"wrote {len(order)} rows to {args.out}")
        if summary["unlabelled"]:  # images still to label: no label to doubt
            print(f"{summary['unlabelled']} without a label are not ranked: label them in "
                  f"fer-desktop review {samples.meta['spec']}")
        for row in summary["top"]:
            print(f"  {row['id']}: given {row['given']}, model says {row['predicted']} (score {row['score']})")
        if summary["no_face_found"]:
            print(f"{summary['no_face_found']} with no face found ({summary['blank']} blank): the highest "
                  "not_a_face values; sort on that column to see them")
        if summary["copied"]:
            print(f"{summary['copied']} with a copy in the data, exact or near ({summary['copies_labelled_otherwise']} "
                  "of them labelled otherwise than a copy): the copies column names them")
    return 0

