"""Cascades trained on a GPU machine that has neither the datasets nor the face detectors.

Here (where the data is): ``pack`` loads every stage's data the way ``fer-train cascade`` does
(the app's crops from the crop cache, labels, votes, replay) and writes one pack
(trainer/data/pack.py), small enough to travel (WebP-coded crops).
There: ``train`` runs the named jobs in parallel processes, each job the same stages through
the same code (``run_stage``) as ``fer-train cascade``, with data from the pack, then a job's
fold runs (the last stage again on each fold of its training data, from the stage before it:
the selection score's SFEW folds); ``bundle`` packs what came out (models, cards, metrics,
logs; no checkpoints) into tar chunks under a size limit.

    python bench/gpu_cascade.py pack --out .gpu/data.npz --codec webp --quality 90 --store-size 64 JOB...
    python bench/gpu_cascade.py train --pack .gpu/data.npz --out runs/gpu --deadline 540 JOB...
    python bench/gpu_cascade.py bundle runs/gpu --out $OUT --chunk-mib 15
    python bench/gpu_cascade.py unbundle DIR_OF_CHUNKS --out runs/gpu
    python bench/gpu_cascade.py check l1e12-s2 --pack .gpu/data.npz [--model default]   # what the coding costs
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.data.datasets import TrainValData  # noqa: E402
from trainer.training.progress import Progress  # noqa: E402
from trainer.training.runner import StageSpec, load_replay, load_stage_data, run_stage  # noqa: E402

# ImageNet Lite1 weights as they travel (fp16 halves them; see ``weights``).
LITE1_FP16 = ".gpu/efficientnet-lite1-imagenet.fp16.safetensors"
# The 12-epoch Lite1 recipe of docs/RESULTS.md ("Twelve stage-1 epochs").
E12 = ["model=efficientnet-lite1", "ferplus.epochs=12", "sfew.freeze_backbone=true", "sfew.lr=0.003",
       f"ferplus.weights=\"{LITE1_FP16}\""]


@dataclass(frozen=True)
class Job:
    cascade: str
    overrides: list[str]
    folds: int = 0  # > 0: the last stage again on fold k of N (by film) for each k
    fold_by: str = "film"
    extra: dict[str, Any] = field(default_factory=dict)


JOBS: dict[str, Job] = {
    **{f"l1e12-s{n}": Job("app-crops", [*E12, f"seed={n}"], folds=5) for n in range(2, 5)},
    **{f"fer2013-l1-s{n}": Job("app-crops-fer2013", [f"weights=\"{LITE1_FP16}\"", f"seed={n}"]) for n in range(3)},
}


def stage_specs(job: Job, out: Path, extra_overrides: list[str] = ()) -> list[StageSpec]:
    """The job's stages as ``fer-train cascade`` resolves them (init_from the stage before)."""
    from trainer.training.cascade import cascade_specs, load_cascade

    return cascade_specs(load_cascade(job.cascade, overrides=[*job.overrides, *extra_overrides]), out)


def fold_specs(job: Job, specs: list[StageSpec], out: Path) -> list[StageSpec]:
    """The last stage on each fold, from the model of the stage before it."""
    last = specs[-1]
    start = specs[-2].out / "model" if len(specs) > 1 else None
    return [replace(last, name=f"{last.name}-fold{k}", out=out / f"fold{k}", no_val=False, val_fold=(k, job.folds),
                    fold_by=job.fold_by, config=replace(last.config, init_from=str(start) if start else None))
            for k in range(job.folds)]


def _key(spec: StageSpec, fields: tuple[str, ...], size_name: str) -> str:
    """A short hash of the spec's ``fields`` (as described) and its input size."""
    d = spec.describe()
    what = {**{k: d[k] for k in fields}, size_name: spec.config.input_size}
    return hashlib.sha1(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def data_key(spec: StageSpec) -> str:
    """Which loaded data a stage needs: the same key, the same sets."""
    return _key(spec, ("variant", "train", "val", "no_val", "target", "data_root", "faces", "ferplus"), "common_size")


def replay_key(spec: StageSpec) -> str:
    return _key(spec, ("replay", "data_root", "faces", "ferplus"), "size")


def _unfolded(spec: StageSpec) -> StageSpec:
    return replace(spec, val_fold=None, fold_by="sample")


def cmd_pack(args: argparse.Namespace) -> None:
    from trainer.data.pack import save_pack

    sets, notes = {}, {}
    for name in args.jobs:
        job = JOBS[name]
        specs = stage_specs(job, Path("unused"))
        for spec in [*specs, *fold_specs(job, specs, Path("unused"))] if job.folds else specs:
            if spec.relabels is not None:
                raise SystemExit(f"{name}: packs hold data as loaded; relabel journals are not packed")
            key = data_key(spec)
            if f"{key}.train" not in sets:
                data = load_stage_data(_unfolded(spec), print)
                sets[f"{key}.train"] = data.train
                notes[f"{key}.train"] = {"description": data.description}
                if data.val is not None:
                    sets[f"{key}.val"] = data.val
            rkey = replay_key(spec)
            if spec.replay and f"{rkey}.replay" not in sets:
                sets[f"{rkey}.replay"] = load_replay(spec, print)
    for name, s in sets.items():
        print(f"{name}: {s!r}")
    size = save_pack(args.out, sets, codec=args.codec, quality=args.quality, store_size=args.store_size, notes=notes)
    print(f"{args.out}: {size / 2**20:.1f} MiB")


class LogProgress(Progress):
    """One line per epoch and message, with the time since start (a log to read afterwards)."""

    def __init__(self) -> None:
        self.t0 = time.time()

    def _say(self, text: str) -> None:
        print(f"[{time.time() - self.t0:7.1f}s] {text}", flush=True)

    def stage(self, name: str, epochs: int) -> None:
        self._say(f"stage {name}: {epochs} epochs")

    def epoch_end(self, record: dict[str, Any]) -> None:
        keep = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()
                if not isinstance(v, (dict, list))}
        self._say(f"epoch {json.dumps(keep)}")

    def message(self, text: str) -> None:
        self._say(text)


def run_job(name: str, pack_path: Path, out: Path, overrides: list[str]) -> None:
    from trainer.data.pack import load_pack

    job = JOBS[name]
    pack = load_pack(pack_path)
    specs = stage_specs(job, out, overrides)
    progress = LogProgress()
    progress.message(f"{name}: pack {pack_path} ({pack.storage}); overrides {job.overrides + overrides}")

    def loaded(spec: StageSpec) -> tuple[TrainValData, Any]:
        key = data_key(spec)
        data = TrainValData(pack.sets[f"{key}.train"], pack.sets.get(f"{key}.val"),
                            {**pack.notes[f"{key}.train"].get("description", {}), "pack": {**pack.storage,
                             "file": pack_path.name}})
        return data, pack.sets.get(f"{replay_key(spec)}.replay") if spec.replay else None

    for spec in specs + (fold_specs(job, specs, out) if job.folds else []):
        data, replay = loaded(spec)
        result = run_stage(spec, progress, resume=True, loaded=data, replay=replay)
        val = result.metrics.get("val", {})
        progress.message(f"{name}/{spec.name}: done, val {val.get('name')} accuracy {val.get('accuracy')}")


def cmd_train(args: argparse.Namespace) -> None:
    """Each job in its own process (the GPU is shared; each keeps a few loader workers)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name in args.jobs:
        log = open(out / f"{name}.log", "w")
        cmd = [sys.executable, __file__, "run-job", name, "--pack", args.pack, "--out", str(out / name),
               *[x for o in [f"num_workers={args.workers}", *args.set] for x in ("--set", o)]]
        procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ,
                                       "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + args.deadline
    while time.time() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(5)
    for name, p in procs.items():
        if p.poll() is None:
            p.terminate()
        print(f"{name}: exit {p.wait()}")


def cmd_run_job(args: argparse.Namespace) -> None:
    run_job(args.job, Path(args.pack), Path(args.out), args.set)


def _metadata(path: Path) -> dict[str, str] | None:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        return fh.metadata()


def _bundled_files(root: Path) -> list[tuple[Path, bytes]]:
    """(path, bytes) to bring back: logs, cards and metrics, then every model (as fp16, half the
    bytes); no checkpoints. The xz window (128 MiB) spans the whole tar, so the backbone that
    classifier-only stage 2s and fold runs share with their stage 1 is stored once."""
    from safetensors.torch import load_file, save

    small, models = [], []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix == ".pt" or "checkpoint" in p.name:
            continue
        if p.suffix == ".safetensors":
            # best.safetensors is the epoch the model already holds; of a run cut short, the best so far
            if p.name != "model.safetensors" and (p.name != "best.safetensors" or p.with_name("model.safetensors").exists()):
                continue
            tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(p)).items()}
            models.append((p.with_suffix(".fp16.safetensors"), save(tensors, metadata=_metadata(p))))
        else:
            small.append((p, p.read_bytes()))
    return sorted(small, key=lambda f: len(f[1])) + models


def cmd_check(args: argparse.Namespace) -> None:
    """What the pack's coding costs a model: its accuracy on the first stage's validation set
    from the pack's crops and from the originals, and how often its top class agrees."""
    import numpy as np

    from trainer.data.pack import load_pack
    from trainer.evaluation.evaluate import summarise_predictions
    from trainer.evaluation.predictions import predict_samples
    from trainer.inference.bundled import resolve_model
    from trainer.models.card import load_model

    spec = stage_specs(JOBS[args.job], Path("unused"))[0]
    packed = load_pack(args.pack).sets[f"{data_key(spec)}.val"]
    real = load_stage_data(_unfolded(spec)).val
    if args.max_samples:
        packed, real = (s.random_subset(args.max_samples) for s in (packed, real))
    assert packed.ids == real.ids, "the pack's set is not the one the job loads"
    model, card = load_model(resolve_model(args.model))
    preds = {name: predict_samples(model, card, s) for name, s in (("pack", packed), ("originals", real))}
    for name, pred in preds.items():
        print(f"{name}: accuracy {100 * summarise_predictions(pred, list(card.classes))['accuracy']:.2f}%")
    same = np.mean(np.asarray(preds["pack"].probs).argmax(1) == np.asarray(preds["originals"].probs).argmax(1))
    error = np.abs(packed.images.astype(float) - real.images.astype(float)).mean()
    print(f"{real.name} ({len(real)}): same top class {100 * same:.1f}%, mean pixel difference {error:.2f} grey levels")


def cmd_bundle(args: argparse.Namespace) -> None:
    """What came out of ``root`` as one xz-compressed tar, cut into chunks of ``chunk_mib``."""
    import lzma

    root = Path(args.root)
    buf = io.BytesIO()
    files = _bundled_files(root)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p, data in files:
            info = tarfile.TarInfo(str(p.relative_to(root.parent)))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = lzma.compress(buf.getvalue(), format=lzma.FORMAT_XZ,
                         filters=[{"id": lzma.FILTER_LZMA2, "preset": 1, "dict_size": 128 * 2**20}])
    chunk = args.chunk_mib * 2**20
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(data), chunk):
        (out / f"bundle.tar.xz.{i // chunk:02d}").write_bytes(data[i:i + chunk])
    print(f"bundle: {len(files)} files, {len(buf.getvalue()) / 2**20:.1f} MiB -> {len(data) / 2**20:.1f} MiB "
          f"in {-(-len(data) // chunk)} chunk(s)")


def cmd_unbundle(args: argparse.Namespace) -> None:
    """The chunks back into run folders; fp16 models become ``model.safetensors`` (fp32) again."""
    from safetensors.torch import load_file, save_file

    parts = sorted(Path(args.chunks).glob("bundle.tar.xz.*"))
    data = b"".join(p.read_bytes() for p in parts)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as tar:
        tar.extractall(args.out, filter="data")
    for p in Path(args.out).rglob("*.fp16.safetensors"):
        tensors = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(p)).items()}
        save_file(tensors, str(p.with_name(p.name.replace(".fp16", ""))), metadata=_metadata(p))
        p.unlink()
    print(f"{len(parts)} chunk(s) -> {args.out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack")
    a.add_argument("jobs", nargs="+", choices=sorted(JOBS))
    a.add_argument("--out", required=True)
    a.add_argument("--codec", default="webp")
    a.add_argument("--quality", type=int, default=90)
    a.add_argument("--store-size", type=int, default=None)
    a.set_defaults(func=cmd_pack)
    a = sub.add_parser("train")
    a.add_argument("jobs", nargs="+", choices=sorted(JOBS))
    a.add_argument("--pack", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--deadline", type=float, default=540, help="seconds; jobs still running then are stopped")
    a.add_argument("--workers", type=int, default=3, help="data-loader workers per job")
    a.add_argument("--set", action="append", default=[], help="an override for every job (KEY=VALUE)")
    a.set_defaults(func=cmd_train)
    a = sub.add_parser("run-job")
    a.add_argument("job", choices=sorted(JOBS))
    a.add_argument("--pack", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--set", action="append", default=[])
    a.set_defaults(func=cmd_run_job)
    a = sub.add_parser("check")
    a.add_argument("job", choices=sorted(JOBS))
    a.add_argument("--pack", required=True)
    a.add_argument("--model", default="default")
    a.add_argument("--max-samples", type=int, default=0)
    a.set_defaults(func=cmd_check)
    a = sub.add_parser("bundle")
    a.add_argument("root")
    a.add_argument("--out", required=True)
    a.add_argument("--chunk-mib", type=int, default=15)
    a.set_defaults(func=cmd_bundle)
    a = sub.add_parser("unbundle")
    a.add_argument("chunks")
    a.add_argument("--out", required=True)
    a.set_defaults(func=cmd_unbundle)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
