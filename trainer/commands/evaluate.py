"""``fer-train evaluate``: accuracy, per-class recall, macro F1 and the confusion matrix of a
model on a labelled set, with the face preprocessing its card records.

--data is a FER-2013 csv (split Training / PublicTest / PrivateTest; default PrivateTest), a
FER+ votes csv (majority protocol; same splits), or a class-folder dataset (split Val, Train ...;
default the Val-like split). ``PATH#SPLIT`` works as well as --split.

Examples::

    fer-train evaluate --data ../shared/data/sfew2 --split Val
    fer-train evaluate --model runs/fer32/model --data ../shared/data/fer2013/fer2013.csv.gz --json
    fer-train evaluate --data ../shared/data/sfew2 --split Val --input none   # the old protocol

Faces are made the way the app makes them (trainer.faces.prepare), for the input kind the
dataset declares: FER-2013 / FER+ csv files and SFEW hold face crops (``crop``: pad, find the
face again, re-align, else use the crop as is); other folders are ``auto`` (find the face;
a small face-shaped image where none is found is taken as a crop). ``--input`` overrides it;
``--input none`` feeds the images as they are (grey, resized), the protocol of the paper's
ready-made crops.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections import Counter
from dataclasses import replace
from pathlib import Path

from trainer.commands.train import add_face_args, add_ferplus_args, aligner_overrides, load_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a model on a labelled dataset",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="NAME.safetensors (+ NAME.json), or a bundled model by name (e.g. paper-fer32-sfew); default: the bundled default model")
    p.add_argument("--data", required=True, metavar="PATH", help="csv, csv.gz, FER+ csv or class-folder dataset")
    p.add_argument("--split", help="split name(s), '+'-joined (default: the test / val split)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--relabels", type=Path, metavar="JOURNAL", help="apply a relabel journal to the labels")
    p.add_argument("--team", type=Path, nargs="+", default=[], metavar="JOURNAL",
                   help="annotators' journals whose votes label the data (before --relabels), as fer-train train --team")
    p.add_argument("--max-samples", type=int, default=0,
                   help="evaluate a random subset (quick looks; --record refuses it unless --record-subset)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="also write the confusion matrix as a PNG")
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"),
                   help="where the model runs: auto (PyTorch on a GPU, else ONNX Runtime), onnx, torch")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--no-tta", action="store_true", help="do not average with the mirrored face")
    p.add_argument("--predictions", type=Path, metavar="NPZ",
                   help="also write the per-sample predictions (ids, labels, probabilities, embeddings)")
    p.add_argument("--record", action="store_true",
                   help="write the result into the model's card (metrics, under the split's name); the "
                        "bundled model's card only when --model names it")
    p.add_argument("--record-subset", action="store_true",
                   help="with --max-samples: record anyway, under 'SPLIT (N random samples)'")
    add_input_args(p)
    add_ferplus_args(p)


INPUT_CHOICES = ("auto", "photo", "crop", "none")


def add_input_args(p: argparse.ArgumentParser) -> None:
    """``--input`` (what the images are) and the face options, for commands that score a
    dataset (evaluate, issues, compare); ``--faces`` stays as the old spelling of ``--input``."""
    p.add_argument("--input", choices=INPUT_CHOICES,
                   help="what the images are: photo (detect, align), crop (face crops: pad, re-align, else "
                        "as is), auto (find a face; a small face-shaped image without one is a crop), none "
                        "(as they are: no face step; the old protocol); default: what the dataset declares "
                        "(FER-2013, FER+, SFEW: crop; other folders: auto)")
    add_face_args(p)


def input_kind_arg(args: argparse.Namespace, data_path: Path) -> str:
    """--input, else --faces in the input-kind spelling, else what the dataset declares."""
    from trainer.data.crops import INPUT_OF_MODE
    from trainer.data.input_kinds import input_for
    from trainer.errors import UsageError

    given = getattr(args, "input", None)
    legacy = getattr(args, "faces", None)
    legacy = INPUT_OF_MODE.get(legacy, legacy) if legacy else None
    if given and legacy and given != legacy:
        raise UsageError(f"--input {given} and --faces {args.faces} disagree; give one of them")
    return given or legacy or input_for(data_path)


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces an evaluation, for the card."""
    parts = ["fer-train", "evaluate", "--data", str(args.data)]
    for flag, value in (("--model", args.model), ("--split", args.split), ("--input", args.input),
                        ("--faces", args.faces),
                        ("--detector", args.detector), ("--crop-size", args.crop_size),
                        ("--align-border", args.align_border), ("--relabels", args.relabels),
                        ("--max-samples", args.max_samples or None)):
        if value is not None:
            parts += [flag, str(value)]
    if getattr(args, "team", None):
        parts += ["--team", *map(str, args.team)]
    if args.no_tta:
        parts.append("--no-tta")
    return " ".join(shlex.quote(p) for p in parts)


def load_model_arg(args: argparse.Namespace):
    """(path, classifier, card) for ``--model`` (default: the bundled model), the classifier on
    ``--backend`` (trainer.inference.backends) using every CPU core."""
    from trainer.inference.backends import create_classifier
    from trainer.inference.bundled import resolve_model
    from trainer.models.card import ModelLoadError, read_card

    model_path = resolve_model(args.model)
    if args.model is None and not Path(model_path).with_suffix(".json").is_file():
        raise ModelLoadError(f"no --model given and the bundled default model is missing ({model_path})")
    card = read_card(model_path)
    classifier = create_classifier(model_path.with_suffix(".safetensors") if model_path.suffix == ".json"
                                   else model_path, card, getattr(args, "backend", "auto"), args.device, threads=None)
    return model_path, classifier, card


def load_data_arg(args: argparse.Namespace, card):
    """The labelled samples of ``--data``/``--split``, crops made the way ``card`` says (face
    options overridable), labelled by ``--team``'s votes, then ``--relabels`` applied:
    evaluate, issues and compare share it."""
    from trainer.data.datasets import DataSpec, load_samples
    from trainer.data.relabel import apply_relabels
    from trainer.evaluation.evaluate import face_options_for_input

    spec = DataSpec.parse(args.data)
    kind = input_kind_arg(args, spec.path)
    faces = face_options_for_input(card, kind, args.detector)
    if args.crop_size:
        faces = replace(faces, crop_size=args.crop_size)
    if aligner_overrides(args):
        faces = replace(faces, aligner={**faces.aligner, **aligner_overrides(args)})
    if args.split:
        spec = DataSpec(spec.path, tuple(s for s in args.split.split("+") if s))
    from trainer.console import status

    options = replace(load_options(args, faces), faces_on_csv=True,
                      report=status(f"fer-train {getattr(args, 'command', 'evaluate')}"))
    samples = load_samples(spec, options, purpose="eval")
    samples.meta.update(spec=str(spec), input=kind)
    if getattr(args, "team", None):
        from trainer.data.team_votes import apply_team_votes

        samples = apply_team_votes(samples, args.team)
    if args.relabels is not None:
        if not args.relabels.is_file():
            raise FileNotFoundError(f"relabel journal not found: {args.relabels}")
        samples = apply_relabels(samples, args.relabels)
    return samples


def _root_of(samples) -> str | None:
    """The folder a class-folder dataset's ids are relative to (None for csv data)."""
    path = Path(samples.meta["spec"].partition("#")[0])
    return str(path.resolve()) if path.is_dir() else None


BUNDLED_RECORD = ("--record writes into the model's card: name the model with --model (the bundled model's "
                  "card is written only when --model names it)")


def record_key(args: argparse.Namespace, samples, full_size: int) -> str:
    """Where ``--record`` writes in the card, or a UsageError before any work when it must
    not: a subset would overwrite the split's accuracy with a noisier one, and the bundled
    model's card is part of the installation (it is written only when --model names it)."""
    from trainer.errors import UsageError

    if args.model is None:  # checked again here for callers that skipped run()'s early check
        raise UsageError(BUNDLED_RECORD)
    key = samples.name
    if len(samples) < full_size:
        if not args.record_subset:
            raise UsageError(f"--record with --max-samples {args.max_samples} would record {len(samples)} of "
                             f"{full_size} samples as the accuracy on {samples.name}; add --record-subset to "
                             "record it under its own name")
        key += f" ({len(samples)} random samples)"
    return key + (" (no flip)" if args.no_tta else "")


def run(args: argparse.Namespace) -> int:
    from trainer.console import progress_bar
    from trainer.data.crops import ready_crops
    from trainer.evaluation.evaluate import class_mapping, format_report, summarise_predictions
    from trainer.evaluation.predictions import predict_samples

    if args.record and args.model is None:
        from trainer.errors import UsageError

        raise UsageError(BUNDLED_RECORD)  # before seconds of loading
    model_path, model, card = load_model_arg(args)
    samples = load_data_arg(args, card)
    full_size = len(samples)
    samples = samples.random_subset(args.max_samples or 0, seed=0)
    key = record_key(args, samples, full_size) if args.record else None
    class_mapping(list(card.classes), samples.classes)  # refuse disjoint classes before the work
    with progress_bar(len(samples), f"evaluate {samples.name}") as progress:
        pred = predict_samples(model, card, samples, device=args.device, tta_flip=not args.no_tta,
                               batch_size=args.batch_size, embeddings=args.predictions is not None,
                               progress=progress)
    if args.predictions is not None:
        pred.meta.update(model_path=str(model_path), data=samples.meta["spec"], root=_root_of(samples))
        pred.save(args.predictions)
    result = summarise_predictions(pred, list(card.classes))
    result.update(model=str(model_path), model_name=card.name, data=samples.meta["spec"].partition("#")[0],
                  split=samples.name, input=samples.meta.get("input"),
                  preprocessing=samples.meta.get("preprocessing", ready_crops()))
    methods = samples.meta.get("face_methods")
    if methods is not None and len(methods) and samples.meta.get("input") != "none":
        counts = Counter(str(m) for m in methods)
        result["face_methods"] = dict(counts)
        # A face found and aligned (detect) or found again in a crop (crop); asis / noface: none found.
        result["faces_found"] = round((counts["detect"] + counts["crop"]) / len(methods), 4)
    if args.plot:
        from trainer.evaluation.plots import plot_confusion

        plot_confusion(result["confusion"], result["classes"], args.plot, title=f"{card.name} on {samples.name}")
    if key is not None:
        from trainer.models.card import record_metrics

        record_metrics(model_path, key, result, _command(args))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{card.name} on {samples.name}")
        print(format_report(result))
    return 0
