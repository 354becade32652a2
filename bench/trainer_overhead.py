"""The trainer's own cost: images per second of ``fer-train train`` against a bare PyTorch loop
on the same model, data, batches and optimizer, in the same run. Not a test.

    python bench/trainer_overhead.py [--images 1280] [--epochs 3] [--data SPEC] [--fer2013]
                                     [--preset modern] [--threads N] [--json OUT]

* ``fer-train train``: the command itself (trainer.cli.main in this process, as the console
  script runs it), ``--progress json``, validation off; each epoch's ``images_per_second``
  (the loop's own clock: every batch from the loader through the optimizer step, the
  progress events and the stop checks) and its CPU time (between the epoch_start and
  epoch_end events, read off a stamped stdout).
* ``bare, same DataLoader``: the same data loaded the way the command loads it
  (trainer.commands.train.build_stage, trainer.training.runner.load_stage_data), the same
  DataLoader (CropDataset + the training transforms, batch size, shuffle, drop_last,
  workers), the same network (trainer.models.registry.create_model) and optimizer settings;
  forward, loss, backward, step: nothing else. One bare epoch runs right after each of the
  command's epochs (from its epoch_end event, while its clock is stopped), so that the two
  alternate and a change in the machine's load hits both sides alike.
* ``bare, batches in memory``: the same, the batches made once beforehand (what the network
  alone costs; the gap to the row above is the data pipeline's: augmentation on the fly).

The ratio trainer / bare (same DataLoader), the median over the pairs after the first
(warm-up) epoch, is the trainer's overhead (target >= 0.9); by the wall clock and by CPU time.

Data: a FER-2013-format csv of synthetic faces (trainer/data/synthetic.py, 7 classes) by
default; ``--fer2013`` takes ../shared/data/fer2013/fer2013.csv.gz (Training), its first
``--images`` after the trainer's seeded subset; ``--data SPEC`` any data spec. The time to
load the data (csv decode, crop cache) is reported separately.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine import MachineLoad  # noqa: E402

FER2013 = REPO.parent / "shared" / "data" / "fer2013" / "fer2013.csv.gz"


def train_argv(data: str, images: int, epochs: int, preset: str, batch_size: int, out: Path,
               extra: list[str]) -> list[str]:
    return ["train", "--data", data, "--no-val", "--max-train-samples", str(images), "--epochs", str(epochs),
            "--preset", preset, "--model", "efficientnet-lite0", "--input-size", "64", "--batch-size",
            str(batch_size), "--out", str(out), "--progress", "json", "--name", "overhead", *extra]


class StampedLines(io.TextIOBase):
    """A stdout that notes the wall clock and this process's CPU clock as each line arrives,
    and calls ``after_epoch(epoch)`` once an epoch_end event is written (the trainer's epoch
    clock has stopped then, and the next epoch's has not started)."""

    def __init__(self, after_epoch: Callable[[int], None] | None = None) -> None:
        self.lines: list[tuple[float, float, str]] = []
        self._partial = ""
        self._after_epoch = after_epoch

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        wall, cpu = time.perf_counter(), time.process_time()
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        for line in done:
            self.lines.append((wall, cpu, line))
            event = _json_or_none(line) or {}
            if event.get("event") == "epoch_end" and self._after_epoch is not None:
                self._after_epoch(int(event["epoch"]))
        return len(text)


def run_trainer(argv: list[str], after_epoch: Callable[[int], None] | None = None) -> dict[str, Any]:
    """``fer-train`` + argv, in this process (trainer.cli.main, as the command runs it), with
    its JSON progress on a stamped stdout: each epoch's images per second by the loop's own
    clock, and by the CPU clock between its epoch_start and epoch_end events."""
    from trainer.cli import main as fer_train

    out = StampedLines(after_epoch)
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = fer_train(argv)
    wall = time.perf_counter() - start
    if code:
        raise SystemExit(f"fer-train {' '.join(argv)} failed ({code})")
    epochs, begun = [], None
    for _wall, t_cpu, line in out.lines:
        event = _json_or_none(line) or {}
        if event.get("event") == "epoch_start":
            begun = t_cpu
        elif event.get("event") == "epoch_end" and begun is not None:
            images = event["images_per_second"] * event["seconds"]
            epochs.append({"epoch": event["epoch"], "images": round(images),
                           "seconds": round(event["seconds"], 2),
                           "images_per_second": round(event["images_per_second"], 1),
                           "cpu_s": round(t_cpu - begun, 2),
                           "images_per_cpu_second": round(images / max(t_cpu - begun, 1e-9), 1)})
    if not epochs:
        raise SystemExit("fer-train printed no epoch_end event")
    return {"epochs": epochs, "wall_s": wall}


def _json_or_none(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def bare_setup(argv: list[str]):
    """The data, config and loader of the run ``argv`` describes, loaded as the command does."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from trainer.cli import build_parser
    from trainer.commands.train import build_stage
    from trainer.data.torch_dataset import CropDataset
    from trainer.data.transforms import train_transform
    from trainer.models.registry import get_spec
    from trainer.training.runner import load_stage_data

    args = build_parser("train").parse_args(argv)
    spec = build_stage(args)
    t0 = time.perf_counter()
    data = load_stage_data(spec)
    load_s = time.perf_counter() - t0
    cfg = spec.config
    train = data.train.random_subset(cfg.max_train_samples, cfg.seed).labelled()
    model_spec = get_spec(cfg.model)
    mean, std = float(np.mean(model_spec.mean)), float(np.mean(model_spec.std))
    loader = DataLoader(CropDataset(train, train_transform(cfg.input_size, mean, std, cfg.augment)),
                        batch_size=cfg.batch_size, shuffle=True, generator=torch.Generator().manual_seed(cfg.seed),
                        drop_last=True, num_workers=cfg.num_workers)
    return cfg, train, loader, load_s


class BareLoop:
    """The same network and optimizer settings as the run, trained by forward / loss /
    backward / step and nothing else. One model for all its epochs, as the run has: weights
    that have trained a while cost more to compute with than fresh ones (see docs/speed.md)."""

    def __init__(self, cfg, classes: int) -> None:
        import torch
        from torch import nn

        from trainer.models.registry import create_model

        model, _ = create_model(cfg.model, classes, pretrained=cfg.pretrained, weights=cfg.weights,
                                allow_download=cfg.allow_download)
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        self.model = model.train()
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def step(self, x, y) -> None:
        from trainer.models.registry import grey_to_model_input

        loss = self.criterion(self.model(grey_to_model_input(x)), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def epoch(self, batches) -> dict[str, float]:
        """One pass over ``batches`` (an iterable of (x, y)): images per wall and CPU second."""
        seen, start, cpu = 0, time.perf_counter(), time.process_time()
        for x, y in batches:
            self.step(x, y)
            seen += len(x)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"images": seen, "seconds": round(seconds, 2), "images_per_second": round(seen / seconds, 1),
                "cpu_s": round(cpu, 2), "images_per_cpu_second": round(seen / cpu, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1280, help="training images (a seeded subset)")
    ap.add_argument("--epochs", type=int, default=3, help="the command's epochs (the first is left out)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--preset", default="modern")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--fer2013", action="store_true", help="FER-2013 Training from ../shared/data")
    src.add_argument("--data", help="any data spec fer-train takes")
    ap.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default torch's)")
    ap.add_argument("--train-args", default="", help="more fer-train train flags, space-separated")
    ap.add_argument("--json", type=Path, metavar="OUT")
    args = ap.parse_args()
    if args.epochs < 2:
        raise SystemExit("--epochs must be at least 2 (the first is warm-up)")

    import torch

    work = Path(tempfile.mkdtemp(prefix="fer-overhead-"))
    if args.fer2013:
        if not FER2013.is_file():
            raise SystemExit(f"--fer2013: {FER2013} not found")
        data, data_name = f"{FER2013}#Training", "FER-2013 Training"
    elif args.data:
        data, data_name = args.data, args.data
    else:
        from trainer.data.synthetic import write_fer_csv

        csv = write_fer_csv(work / "synthetic.csv", {"Training": args.images}, num_classes=7)
        data, data_name = f"{csv}#Training", "synthetic FER-format csv (trainer/data/synthetic.py)"
    extra = args.train_args.split()
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = train_argv(data, args.images, args.epochs, args.preset, args.batch_size, work / "run", extra)

    with MachineLoad() as load:
        cfg, train, loader, load_s = bare_setup(train_argv(data, args.images, args.epochs, args.preset,
                                                           args.batch_size, work / "bare", extra))
        classes = len(train.classes)
        print(f"data: {data_name}, {len(train)} images loaded in {load_s:.1f} s; {cfg.model} at {cfg.input_size} px, "
              f"batch {cfg.batch_size}, {cfg.optimizer}, torch threads {torch.get_num_threads()}", flush=True)
        bare_loop = BareLoop(cfg, classes)
        bare_loop.epoch(loader)  # warm-up, as the trainer's first epoch
        # A bare epoch after each of the trainer's: the two alternate, so that the machine's
        # load (other jobs come and go) hits both sides alike.
        bare: dict[int, dict] = {}
        spent = [0.0]

        def between(epoch: int) -> None:
            t0 = time.perf_counter()
            bare[epoch] = bare_loop.epoch(loader)
            spent[0] += time.perf_counter() - t0
        trainer = run_trainer(argv, between)
        trainer["wall_s"] -= spent[0]  # the command's own time
        bare_memory = bare_loop.epoch(list(loader))
    for e in trainer["epochs"]:
        _line(f"fer-train train, epoch {e['epoch']}", e)
        _line("  then bare, same DataLoader", bare[e["epoch"]])
    _line("bare, batches in memory", bare_memory)
    steady = trainer["epochs"][1:]
    pairs = [(e, bare[e["epoch"]]) for e in steady]

    def median(values: list[float]) -> float:
        return float(statistics.median(values))
    wall_ratio = median([t["images_per_second"] / b["images_per_second"] for t, b in pairs])
    cpu_ratio = median([t["images_per_cpu_second"] / b["images_per_cpu_second"] for t, b in pairs])
    trainer_ips = median([t["images_per_second"] for t, _ in pairs])
    bare_ips = median([b["images_per_second"] for _, b in pairs])
    images_trained = sum(e["images"] for e in trainer["epochs"])
    result = {
        "data": data_name, "images": len(train), "data_load_s": round(load_s, 2), "model": cfg.model,
        "input_size": cfg.input_size, "batch_size": cfg.batch_size, "optimizer": cfg.optimizer,
        "torch_threads": torch.get_num_threads(), "command": "fer-train " + " ".join(argv),
        "trainer_images_per_second": round(trainer_ips, 1), "bare_same_loader_images_per_second": round(bare_ips, 1),
        "trainer_epochs": trainer["epochs"], "bare_epochs": [bare[e["epoch"]] for e in trainer["epochs"]],
        "trainer_command_wall_s": round(trainer["wall_s"], 1),
        "bare_in_memory": bare_memory,
        "ratio_trainer_to_bare": round(wall_ratio, 3),
        "ratio_trainer_to_bare_cpu": round(cpu_ratio, 3),
        "pair_ratios_wall": [round(t["images_per_second"] / b["images_per_second"], 3) for t, b in pairs],
        "pair_ratios_cpu": [round(t["images_per_cpu_second"] / b["images_per_cpu_second"], 3) for t, b in pairs],
        "ratio_loader_to_in_memory_cpu": round(
            median([b["images_per_cpu_second"] for _, b in pairs]) / bare_memory["images_per_cpu_second"], 3),
        "machine": load.summary(),
    }
    print(f"ratio fer-train / bare loop (same DataLoader), median over epochs 2-{len(trainer['epochs'])}: "
          f"{result['ratio_trainer_to_bare']:.3f} by the wall clock, {result['ratio_trainer_to_bare_cpu']:.3f} "
          f"by CPU time (target >= 0.9); epoch by epoch (wall): {result['pair_ratios_wall']}, "
          f"(CPU): {result['pair_ratios_cpu']}\n"
          f"the DataLoader (augmentation on the fly) vs batches in memory, by CPU time: "
          f"{result['ratio_loader_to_in_memory_cpu']:.3f}\n"
          f"the whole command: {result['trainer_command_wall_s']} s for {images_trained} images, "
          f"{images_trained / trainer['wall_s']:.1f} images per second (data loading, model building, checkpoints "
          f"included)")
    print(f"({MachineLoad.describe(result['machine'])})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _line(name: str, r: dict) -> None:
    print(f"{name:<28} {r['images_per_second']:7.1f} images/s, {r['images_per_cpu_second']:7.1f} images per CPU "
          f"second ({r['seconds']:.1f} s, {r['cpu_s']:.1f} s CPU)", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
