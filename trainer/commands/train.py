"""``fer-train train``: one fine-tuning stage.

Examples::

    fer-train train --variant fer32 --preset modern --epochs 12 --out runs/fer32
    fer-train train --data ../shared/data/sfew2 --init-from runs/fer32/model --preset small-target --faces crops
    fer-train train --data ../shared/data/sfew2 --init-from runs/fer32/model --preset small-target \\
        --replay ../shared/data/fer2013/fer2013.csv#Training+PublicTest --replay-ratio 3   # keep FER
    fer-train train --variant fer28 --data-root ../shared/data --max-train-samples 300 \\
        --max-val-samples 300 --epochs 1 --out runs/smoke          # a smoke run
    fer-train train --from-model default --data ../shared/data/sfew2 \\
        --relabels my-fixes.jsonl --epochs 6 --out runs/retrain     # fine-tune a model again, its card's recipe
    fer-train train --spec runs/retrain/spec.json --resume --progress json   # what the app runs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trainer.data.crops import FACE_MODES
from trainer.errors import UsageError
from trainer.data.datasets import VARIANTS, LoadOptions
from trainer.data.ferplus import CONTEMPT_RULES, MODES, TIE_RULES
from trainer.data.samples import FOLD_UNITS
from trainer.training.config import PRESETS

# ---- helpers shared with cascade / evaluate ------------------------------------------------

def add_face_args(parser: argparse.ArgumentParser, default_mode: str | None = None) -> None:
    g = parser.add_argument_group("faces (folder datasets)")
    g.add_argument("--faces", choices=FACE_MODES, default=default_mode,
                   help="detect: photos, detect+align the largest face; crops: face crops, re-align "
                        "(pad, detect, else as-is); auto: per image by size; none: use as-is (grey, resized)")
    g.add_argument("--crop-size", type=int, help="side of the cached crops (default max(96, input size))")
    g.add_argument("--detector", help="face detector name (default auto)")
    g.add_argument("--align-border", choices=("replicate", "constant"),
                   help="what fills the aligned box outside the image: the edge pixels (default) or black")
    g.add_argument("--cache", type=Path, metavar="DIR", help="crop cache folder (default ~/.cache/fer-desktop/crops)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the crop cache")


def add_ferplus_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("FER+ votes csv")
    g.add_argument("--ferplus-mode", choices=MODES, default="majority",
                   help="majority: one label per image; votes: vote distributions (soft labels)")
    g.add_argument("--contempt", choices=CONTEMPT_RULES, default="keep",
                   help="FER+'s 8th class: keep (8 classes), drop (7), or fold into disgust")
    g.add_argument("--ties", choices=TIE_RULES, default="drop",
                   help="majority ties: drop the image, or take FER-2013's label when it is among the tied")
    g.add_argument("--fer-csv", type=Path, help="FER-2013 csv with the pixels (found beside the votes by default)")


def aligner_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Aligner settings given on the command line (AlignConfig fields)."""
    return {"border": args.align_border} if args.align_border else {}


def load_options(args: argparse.Namespace, faces: Any) -> LoadOptions:
    return LoadOptions(faces=faces, cache_dir=args.cache, use_cache=not args.no_cache,
                       ferplus_mode=args.ferplus_mode, contempt=args.contempt, ties=args.ties,
                       fer_csv=args.fer_csv, faces_on_csv=bool(getattr(args, "align_csv", False)))


def make_progress(kind: str | None):
    from trainer.training.progress import JsonProgress, TqdmProgress

    return JsonProgress() if kind == "json" else TqdmProgress()


def fold_arg(text: str) -> tuple[int, int]:
    """K/N -> (K, N) with 0 <= K < N, N >= 2."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N, e.g. 0/5") from None
    if n < 2 or not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"{text!r}: need N >= 2 and 0 <= K < N")
    return k, n


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


# ---- the command --------------------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one stage (fine-tune a backbone on a dataset)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--variant", choices=sorted(VARIANTS), help="a paper variant (paths under --data-root)")
    src.add_argument("--data", action="append", metavar="SPEC",
                     help="training data PATH[#SPLIT[+SPLIT]] (csv, csv.gz, FER+ csv or class folders); repeatable")
    src.add_argument("--spec", type=Path, metavar="SPEC.json",
                     help="every setting from a training spec (the app writes one into each run folder); "
                          "only --resume, --progress, --stop-file, --threads and --estimate go with it")
    d.add_argument("--val", metavar="SPEC", help="validation data (default: the --data set's val split)")
    d.add_argument("--val-fold", type=fold_arg, metavar="K/N",
                   help="validate (and choose) on fold K of N of the training data, a fixed class-stratified "
                        "split by sample id, and train on the rest: e.g. 0/5 of SFEW Train, whose Val is for reporting")
    d.add_argument("--fold-by", choices=FOLD_UNITS, default="sample",
                   help="what a --val-fold keeps whole: single samples (default) or films, for frames named "
                        "FILM_FRAME_FACE.png as SFEW's (its Val shares no film with Train, so neither should a fold)")
    d.add_argument("--no-val", action="store_true", help="train without validation (keeps the last epoch)")
    d.add_argument("--target", metavar="SPEC", help="the target dataset of *+target variants (default sfew2)")
    d.add_argument("--data-root", type=Path, help="where variants' datasets are (default ../shared/data)")
    d.add_argument("--relabels", type=Path, metavar="JOURNAL", help="a relabel journal (JSONL) to apply")
    d.add_argument("--team", type=Path, nargs="+", default=[], metavar="JOURNAL",
                   help="two or more annotators' journals of the data: each face labelled by their votes (the "
                        "dataset's label one more), its vote distribution with --soft-labels; faces most "
                        "say are not a face left out; --relabels, if given, has the last word")
    d.add_argument("--replay", action="append", metavar="SPEC",
                   help="earlier data mixed into every epoch so the model does not forget it (e.g. "
                        "FER-2013 while fine-tuning on SFEW); repeatable")
    d.add_argument("--max-train-samples", type=int, help="train on a random subset (smoke runs)")
    d.add_argument("--max-val-samples", type=int, default=0, help="validate on a random subset (smoke runs)")
    add_face_args(p)
    p.add_argument("--align-csv", action="store_true",
                   help="FER-2013 / FER+ csv crops through the face pipeline too (--faces crop): as the app and "
                        "fer-train evaluate make them; default: their 48x48 crops as they are")
    add_ferplus_args(p)

    m = p.add_argument_group("model")
    m.add_argument("--model", help="backbone: efficientnet-lite0 (default), alexnet, vgg-cnn-m-2048, "
                                   "timm:NAME or torchvision:NAME")
    m.add_argument("--weights", help="a file with ImageNet weights for the backbone")
    m.add_argument("--no-pretrained", action="store_true", help="start from random weights")
    m.add_argument("--allow-download", action="store_true", help="allow downloading ImageNet weights")
    m.add_argument("--init-from", metavar="MODEL", help="start from a fer-desktop model (a previous stage)")
    m.add_argument("--from-model", metavar="MODEL",
                   help="fine-tune MODEL (a model file, or a bundled model by name: default, paper-fer32-sfew) "
                        "on --data with the recipe its card records (its optimizer, schedule, face crops, replay "
                        "data); other flags change it")
    m.add_argument("--input-size", type=positive_int)

    t = p.add_argument_group("training")
    t.add_argument("--preset", choices=sorted(PRESETS), help="paper | modern | small-target (see docs)")
    t.add_argument("--epochs", type=positive_int)
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=("sgd", "adamw"))
    t.add_argument("--scheduler", choices=("step", "cosine", "none"))
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--warmup-epochs", type=float)
    t.add_argument("--label-smoothing", type=float)
    t.add_argument("--class-balance", choices=("none", "weights", "sampler"))
    t.add_argument("--replay-ratio", type=float, metavar="R",
                   help="replay samples drawn per training sample each epoch (default 1)")
    t.add_argument("--soft-labels", action="store_true", default=None, help="train on vote distributions (FER+)")
    t.add_argument("--mixup", type=float, metavar="ALPHA", dest="mixup_alpha",
                   help="blend pairs of training images and their labels, lam ~ Beta(ALPHA, ALPHA) (e.g. 0.2)")
    t.add_argument("--ema-decay", type=float, metavar="D",
                   help="keep a moving average of the weights, updated every batch (e.g. 0.998; default off)")
    t.add_argument("--teacher", action="append", metavar="MODEL", dest="teachers",
                   help="distil from this fer-desktop model too (repeatable: the teachers' probabilities are "
                        "averaged); it must have the training data's classes")
    t.add_argument("--distill-weight", type=float, metavar="A",
                   help="share of the distillation term in the loss (default 0.5 with --teacher)")
    t.add_argument("--distill-temperature", type=float, metavar="T",
                   help="softmax temperature of teachers and student in that term (default 2)")
    t.add_argument("--freeze-backbone", action="store_true", default=None,
                   help="train the classifier alone; the backbone of --init-from (or ImageNet) stays fixed")
    t.add_argument("--select", choices=("best", "last"), help="keep the best epoch on val, or the last")
    t.add_argument("--early-stopping", type=int, metavar="EPOCHS")
    t.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    t.add_argument("--augment-webcam", action="store_true",
                   help="add what webcams do to faces: blur, sensor noise, JPEG compression, a dim room "
                        "(on top of the default flips, small rotations, shifts, scale, contrast and occlusion)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    t.add_argument("--num-workers", type=int)

    t.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads for torch (default 1: on 2 shared cores the same loop ran at 86 images/s "
                        "with one thread and 11 with two, bench/trainer_overhead.py; more pays on idle many-core CPUs)")

    o = p.add_argument_group("output")
    o.add_argument("--out", type=Path, metavar="RUN_DIR", help="run folder (default runs/<name>)")
    o.add_argument("--name", help="run name (default: the variant or the data folder's name)")
    o.add_argument("--resume", action="store_true", help="continue the run in --out after a stop or crash")
    o.add_argument("--progress", choices=("tqdm", "json"), default="tqdm",
                   help="tqdm bars, or one JSON object per line on stdout (for the GUI)")
    o.add_argument("--stop-file", type=Path, metavar="PATH",
                   help="stop cleanly (as on Ctrl-C: the last full epoch is kept) once PATH exists; "
                        "the app stops its runs this way on every platform")
    o.add_argument("--estimate", action="store_true",
                   help="load the data, time a few training batches and print how long the run would take; "
                        "trains nothing")


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from trainer.data.transforms import AugmentConfig

    overrides = {
        "model": args.model, "weights": args.weights, "init_from": args.init_from,
        "pretrained": False if args.no_pretrained else None, "allow_download": args.allow_download or None,
        "input_size": args.input_size, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "optimizer": args.optimizer, "scheduler": args.scheduler, "weight_decay": args.weight_decay,
        "warmup_epochs": args.warmup_epochs, "label_smoothing": args.label_smoothing,
        "class_balance": args.class_balance, "soft_labels": args.soft_labels, "select": args.select,
        "early_stopping": args.early_stopping, "seed": args.seed, "device": args.device,
        "num_workers": args.num_workers, "max_train_samples": args.max_train_samples,
        "replay_ratio": args.replay_ratio, "ema_decay": args.ema_decay,
        "mixup_alpha": args.mixup_alpha, "teachers": args.teachers, "distill_weight": args.distill_weight,
        "distill_temperature": args.distill_temperature, "freeze_backbone": args.freeze_backbone,
    }
    if args.augment_webcam and not args.no_augment:
        from trainer.data.transforms import WEBCAM_AUGMENT

        overrides["augment"] = {**AugmentConfig().__dict__, **WEBCAM_AUGMENT}
    if args.no_augment:
        overrides["augment"] = AugmentConfig(flip=False, rotate_degrees=0.0, scale=0.0, shift=0.0,
                                             brightness=0.0, contrast=0.0, erasing=0.0).__dict__.copy()
    if args.no_val and args.select is None:
        overrides["select"] = "last"  # nothing to pick the best epoch on
    return overrides


def build_stage(args: argparse.Namespace):
    """The run the flags describe, through trainer.training.spec (the app builds its runs there too)."""
    from trainer.training.spec import Overrides, build_spec, load_spec, spec_from_card

    if args.spec:
        given = _settings_given(args)
        if given:
            raise UsageError(f"--spec holds every setting; drop {', '.join(given)} (or edit the spec)")
        return load_spec(args.spec)
    overrides = {k: v for k, v in config_overrides(args).items() if v is not None}
    if args.val_fold and (args.val or args.no_val):
        raise UsageError("--val-fold validates on a fold of the training data: drop --val / --no-val")
    if args.from_model:
        if args.variant or args.init_from:
            raise UsageError("--from-model fine-tunes that model on --data: drop --variant / --init-from")
        named = {k: overrides.pop(k, None) for k in ("epochs", "input_size", "seed", "batch_size", "lr", "device",
                                                      "replay_ratio", "max_train_samples")}
        for k in ("model", "weights", "pretrained", "allow_download"):
            overrides.pop(k, None)
        from trainer.training.spec import RECORDED_DATA_OPTIONS

        # Only the data flags given here change how the card's data was read (contempt, votes ...).
        given, defaults = load_options(args, None), load_options(build_defaults(), None)
        data = {k: getattr(given, k) for k in RECORDED_DATA_OPTIONS if getattr(given, k) != getattr(defaults, k)}
        o = Overrides(preset=args.preset, replay=args.replay, name=args.name, out=args.out,
                      max_val_samples=args.max_val_samples or None, faces_mode=args.faces, config=overrides,
                      data=data, **named)
        from dataclasses import replace

        from trainer.inference.bundled import resolve_model

        spec = spec_from_card(resolve_model(args.from_model), list(args.data), val=args.val, relabels=args.relabels,
                              overrides=o, load=load_options(args, None), val_fold=args.val_fold, team=args.team)
        spec = replace(spec, fold_by=args.fold_by)
        if args.out is None:  # the command line's usual runs/NAME, so that --resume finds it again
            from trainer.training.spec import check_out

            spec = replace(spec, out=Path("runs") / spec.name)
            check_out(spec.out)
        return spec
    return build_spec(
        config=overrides, preset=args.preset, variant=args.variant, train=list(args.data or []), val=args.val,
        no_val=args.no_val, target=args.target, data_root=args.data_root, load=load_options(args, None),
        faces={"mode": args.faces, "crop_size": args.crop_size, "detector": args.detector,
               "aligner": aligner_overrides(args)},
        relabels=args.relabels, max_val_samples=args.max_val_samples, replay=list(args.replay or []),
        name=args.name, out=args.out, val_fold=args.val_fold, fold_by=args.fold_by, team=args.team)


# Flags that --spec replaces (all but these: how to run it, not what to run).
_SPEC_ONLY = {"spec", "resume", "progress", "estimate", "stop_file", "threads", "command", "func"}


def _settings_given(args: argparse.Namespace) -> list[str]:
    defaults = vars(build_defaults())
    return [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
            if k not in _SPEC_ONLY and k in defaults and v != defaults[k]]


def build_defaults() -> argparse.Namespace:
    """This command's flags at their defaults."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", "--spec", "x"])


def run(args: argparse.Namespace) -> int:
    from trainer.training.loop import CHECKPOINT
    from trainer.training.runner import run_stage
    from trainer.training.signals import StopOnSignal

    spec = build_stage(args)
    import torch

    torch.set_num_threads(max(1, args.threads))  # a run option, not a setting: it changes no result
    progress = make_progress(args.progress)
    if args.estimate:
        from trainer.training.estimate import describe, estimate_stage

        estimate = estimate_stage(spec, progress)
        if args.progress == "json":
            progress.emit(estimate)
        else:
            print(describe(estimate))
        return 0
    if (spec.out / CHECKPOINT).is_file() and not args.resume:
        raise UsageError(f"{spec.out} already holds a run: pass --resume to continue it, or choose another --out")
    if args.resume and not (spec.out / CHECKPOINT).is_file():
        progress.message(f"nothing to resume in {spec.out}; starting a new run")
    stop_file = args.stop_file
    with StopOnSignal() as stop:
        def should_stop() -> bool:
            return stop() or (stop_file is not None and stop_file.exists())

        result = run_stage(spec, progress, should_stop=should_stop, resume=True)
    if args.progress != "json":
        val = result.metrics.get("val")
        line = f"model: {result.run_dir / 'model.safetensors'}"
        if val:
            line += (f"  val {val.get('name', '')}: accuracy {100 * val['accuracy']:.2f}%, "
                     f"macro F1 {100 * val['macro_f1']:.2f}%")
        print(line, file=sys.stderr)
    return 130 if result.interrupted else 0
