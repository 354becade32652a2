"""``fer-train cascade CONFIG.toml``: run a multi-stage fine-tuning (stage 2 starts from
stage 1's model). CONFIG is a file, or the name of a bundled one (``fer-train cascade
--list``); every stage lands in ``OUT/<n>-<stage>/`` and the final model in ``OUT/model.*``.

Examples::

    fer-train cascade app-crops                             # trainer/configs/app-crops.toml (the bundled model)
    fer-train cascade best                                  # the paper-protocol recipe
    fer-train cascade fer32-sfew.toml --data-root /data --out runs/paper-fer32-sfew
    fer-train cascade best --set epochs=1 --set max_train_samples=300 --set max_val_samples=200
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainer.commands.train import make_progress
from trainer.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cascade", help="run a multi-stage fine-tuning from a TOML config",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="a TOML file, or a bundled config's name")
    p.add_argument("--list", action="store_true", help="list the bundled configs and exit")
    p.add_argument("--data-root", type=Path, help="where the datasets are (overrides the config's data_root)")
    p.add_argument("--out", type=Path, metavar="RUN_DIR", help="run folder (default runs/<config name>)")
    p.add_argument("--set", action="append", default=[], metavar="[STAGE.]KEY=VALUE", dest="overrides",
                   help="override a setting in every stage, or in one stage (by name or 1-based index)")
    p.add_argument("--resume", action="store_true", help="continue a stopped cascade in --out")
    p.add_argument("--cache", type=Path, metavar="DIR", help="crop cache folder")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the crop cache")
    p.add_argument("--dry-run", action="store_true", help="print the resolved stages as JSON and exit")
    p.add_argument("--progress", choices=("tqdm", "json"), default="tqdm")


def run(args: argparse.Namespace) -> int:
    from trainer.training.cascade import bundled_configs, load_cascade, run_cascade, stage_spec
    from trainer.training.loop import CHECKPOINT
    from trainer.training.signals import StopOnSignal

    if args.list:
        for name in bundled_configs():
            print(name)
        return 0
    if not args.config:
        raise UsageError("name a cascade config (a TOML file or a bundled name; --list shows them)")
    plan = load_cascade(args.config, data_root=args.data_root, overrides=args.overrides)
    plan.cache_dir, plan.use_cache = args.cache, not args.no_cache
    out = args.out or Path("runs") / plan.name
    if args.dry_run:
        previous, stages = None, []
        for i, settings in enumerate(plan.stages, start=1):
            spec = stage_spec(settings, i, out, plan, previous)
            stages.append(spec.describe())
            previous = spec.out / "model"
        print(json.dumps({"name": plan.name, "source": plan.source, "data_root": str(plan.data_root),
                          "stages": stages}, indent=2))
        return 0
    started = any((d / CHECKPOINT).is_file() for d in out.glob("*-*")) if out.is_dir() else False
    if started and not args.resume:
        raise UsageError(f"{out} already holds a cascade run: pass --resume to continue it, or choose another --out")
    progress = make_progress(args.progress)
    with StopOnSignal() as stop:
        results = run_cascade(plan, out, progress=progress, should_stop=stop, resume=True)
    if args.progress != "json":
        for r in results:
            val = r.metrics.get("val")
            acc = f"{100 * val['accuracy']:.2f}% on {val.get('name', 'val')}" if val else "no validation"
            print(f"{r.run_dir.name}: {acc}", file=sys.stderr)
        if (out / "model.safetensors").is_file() and not results[-1].interrupted:
            print(f"model: {out / 'model.safetensors'}", file=sys.stderr)
    return 130 if results and results[-1].interrupted else 0
