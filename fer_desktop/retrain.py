"""Retraining from the app, Qt-free: a run folder the app starts ``fer-train train --spec`` in,
watches and stops, and the progress its events add up to.

A run is a child process started in its own session with its output going to files in the run
folder, so it never blocks the window and may outlive it (the user can close the app and keep
it training); the app follows it by reading those files and stops it with a stop file, which
works the same on every platform and lets the trainer keep its last full epoch.

Run folder::

    spec.json        the run, every setting (trainer.training.spec)
    run.json         what the app knows about it: base model, data, journal, comparison sets, pid
    progress.jsonl   the trainer's ``--progress json`` events, appended across resumes
    train.log        its stderr
    STOP             present = stop after this batch
    comparison.json  ``fer-train compare`` of the base and the new model
    model.safetensors + model.json, checkpoint.pt, metrics.json ...   (the trainer's)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trainer.training.progress import (
    BatchEvent,
    DoneEvent,
    EpochEndEvent,
    EpochStartEvent,
    Event,
    MessageEvent,
    StageEvent,
    parse_event,
)

RUN_FILE = "run.json"
SPEC_FILE = "spec.json"
PROGRESS_FILE = "progress.jsonl"
LOG_FILE = "train.log"
STOP_FILE = "STOP"
COMPARISON_FILE = "comparison.json"
CHECKPOINT_FILE = "checkpoint.pt"  # trainer.training.loop.CHECKPOINT, without importing torch


def trainer_command(*args: str) -> list[str]:
    """``fer-train ARGS`` with this interpreter (the app's own environment, no PATH lookup)."""
    return [sys.executable, "-m", "trainer.cli", *args]


@dataclass
class RunInfo:
    """What the app records about a run it started (``run.json``)."""
    base_model: str  # the model fine-tuned (compare's OLD)
    data: list[str]  # training data specs
    journal: str | None  # relabel journal applied to training and validation data
    val: str | None  # the set compare uses, with the journal applied
    test: str | None  # a set the journal did not touch, its own labels
    name: str = ""
    val_fold: list[int] | None = None  # [k, n]: validation is fold k of n of the data (it has no Val split)
    team: list[str] = field(default_factory=list)  # annotators' journals whose votes labelled the data
    base_name: str = ""  # the base model's card name
    pid: int | None = None
    started: float = 0.0
    starts: int = 0  # 1 + resumes

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunInfo":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def process_alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether process ``pid`` runs (a zombie does not); with ``marker``, only if its command
    line contains it where that can be checked (a reused pid is another program)."""
    if not pid:
        return False
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():  # Linux: tell zombies and reused pids apart
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            if marker and marker not in proc.joinpath("cmdline").read_bytes().decode(errors="replace"):
                return False
        except (OSError, IndexError):
            pass
    return True


def _windows_alive(pid: int) -> bool:
    import ctypes

    kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    try:
        ok = kernel.GetExitCodeProcess(handle, ctypes.byref(code))
    finally:
        kernel.CloseHandle(handle)
    return bool(ok) and code.value == 259  # STILL_ACTIVE


class EventReader:
    """New events from a growing ``--progress json`` file; a line still being written waits
    for its newline."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self._partial = b""

    def read(self) -> list[Event]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [e for e in map(parse_event, lines) if e is not None]


class RunFolder:
    """One retraining run on disk, and its process while this app started it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._process: subprocess.Popen | None = None
        self._log = None

    spec_path = property(lambda self: self.path / SPEC_FILE)
    progress_path = property(lambda self: self.path / PROGRESS_FILE)
    log_path = property(lambda self: self.path / LOG_FILE)
    stop_path = property(lambda self: self.path / STOP_FILE)
    comparison_path = property(lambda self: self.path / COMPARISON_FILE)
    model_path = property(lambda self: self.path / "model.safetensors")

    @classmethod
    def create(cls, spec: Any, info: RunInfo) -> "RunFolder":
        """A new run folder for ``spec`` (a StageSpec); refuses one that holds a run."""
        from trainer.training.spec import save_spec

        run = cls(spec.out)
        if (run.path / CHECKPOINT_FILE).exists() or run.spec_path.exists():
            from trainer.errors import UsageError

            raise UsageError(f"{run.path} already holds a run; choose another output folder")
        save_spec(spec, run.spec_path)
        info.name = info.name or spec.name
        run.save_info(info)
        return run

    def info(self) -> RunInfo:
        try:
            return RunInfo.from_dict(json.loads((self.path / RUN_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise FileNotFoundError(f"{self.path} is not a run started from the app ({exc})") from None

    def save_info(self, info: RunInfo) -> None:
        tmp = self.path / (RUN_FILE + ".tmp")
        self.path.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        os.replace(tmp, self.path / RUN_FILE)

    # -- the process --

    def command(self, resume: bool) -> list[str]:
        return trainer_command("train", "--spec", str(self.spec_path), "--progress", "json",
                               "--stop-file", str(self.stop_path), *(["--resume"] if resume else []))

    def start(self, resume: bool = False, env: dict[str, str] | None = None) -> int:
        """Start (or resume) the run in the background; returns its pid. The process has its
        own session, so closing the app (or its terminal) does not stop it."""
        if self.running():
            raise RuntimeError(f"{self.path.name} is running already")
        self.stop_path.unlink(missing_ok=True)
        info = self.info()
        out = open(self.progress_path, "ab")
        err = open(self.log_path, "ab")
        err.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.command(resume))}\n".encode())
        err.flush()
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        try:
            self._process = subprocess.Popen(self.command(resume), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                             cwd=str(self.path), env={**os.environ, **(env or {})}, **kwargs)
        finally:
            out.close()
            err.close()
        info.pid, info.started, info.starts = self._process.pid, time.time(), info.starts + 1
        self.save_info(info)
        return self._process.pid

    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None  # also reaps it once it ended
        try:
            pid = self.info().pid
        except FileNotFoundError:
            return False
        return process_alive(pid, marker=str(self.spec_path))

    def exit_code(self) -> int | None:
        """The exit status of a process this app started (None: still running or unknown)."""
        return self._process.poll() if self._process is not None else None

    def request_stop(self) -> None:
        """Stop after the current batch; the last full epoch is kept and can be resumed."""
        self.stop_path.touch()

    def kill(self) -> None:
        """Stop at once (a stop request that is not honoured); resume still works from the
        last checkpoint."""
        if self._process is not None:
            self._process.kill()
            return
        pid = self.info().pid
        if pid and self.running():
            os.kill(pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)

    def detach(self) -> None:
        """Forget the process handle (the app is closing; the run goes on)."""
        self._process = None

    # -- what it produced --

    def events(self) -> list[Event]:
        return EventReader(self.progress_path).read()

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def error_line(self) -> str:
        """The trainer's one-line error (``fer-train train: error: ...``), else the log's last line."""
        tail = self.log_tail(40).splitlines()
        for line in reversed(tail):
            if ": error: " in line or line.startswith(("Traceback", "RuntimeError", "ValueError")):
                return line.strip()
        return tail[-1].strip() if tail else ""

    def can_resume(self) -> bool:
        return (self.path / CHECKPOINT_FILE).is_file() and not self.finished()

    def finished(self) -> bool:
        """The run went through all its epochs (or stopped early on its own) and saved its model."""
        done = [e for e in self.events() if isinstance(e, DoneEvent)]
        return bool(done) and not done[-1].interrupted and self.model_path.is_file()

    def comparison(self) -> dict | None:
        try:
            return json.loads(self.comparison_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def compare_command(self) -> list[str]:
        info = self.info()
        args = ["compare", info.base_model, str(self.model_path), "--data", str(info.val or info.data[0]), "--json"]
        if info.journal:
            args += ["--relabels", info.journal]
        if info.team:
            args += ["--team", *info.team]
        if info.val_fold:
            args += ["--val-fold", "/".join(map(str, info.val_fold))]
        if info.test:
            args += ["--test", info.test]
        return trainer_command(*args)


@dataclass
class RunProgress:
    """What a run's events add up to: the panel's numbers, curves and ETA."""
    name: str = ""
    epochs: int = 0
    epoch: int = 0  # the epoch under way (1-based), 0 before the first
    batch: int = 0  # batches done in it
    batches: int = 0  # per epoch
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (fractional epoch, loss)
    history: dict[int, EpochEndEvent] = field(default_factory=dict)  # by epoch: a resumed epoch replaces
    messages: list[str] = field(default_factory=list)
    done: DoneEvent | None = None
    _t0: float | None = None  # when the batches now being counted began (resets on a resume)
    _done_at_t0: int = 0

    def add(self, event: Event, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if isinstance(event, StageEvent):
            self.name, self.epochs, self.done = event.name, event.epochs, None
            self._t0 = None
        elif isinstance(event, EpochStartEvent):
            self.epoch, self.batches, self.batch = event.epoch, event.batches, 0
            if self._t0 is None:
                self._t0, self._done_at_t0 = now, self.batches_done()
        elif isinstance(event, BatchEvent):
            self.epoch, self.batch, self.batches = event.epoch, event.index + 1, event.batches
            self.batch_losses.append((event.epoch - 1 + (event.index + 1) / max(event.batches, 1), event.loss))
        elif isinstance(event, EpochEndEvent):
            self.history[event.epoch] = event
            self.batch = self.batches
        elif isinstance(event, MessageEvent):
            self.messages.append(event.text)
        elif isinstance(event, DoneEvent):
            self.done = event
            self._t0 = None

    def batches_done(self) -> int:
        return max(0, (self.epoch - 1) * self.batches + self.batch) if self.epoch else 0

    def batches_total(self) -> int:
        return self.epochs * self.batches

    def eta_seconds(self, now: float | None = None) -> float | None:
        """From the batch rate since this process began; None until there is one. Validation
        time is in it too: it is spent between the batches the rate is measured over."""
        now = time.monotonic() if now is None else now
        done = self.batches_done() - self._done_at_t0
        if self._t0 is None or done <= 0 or self.done is not None or now - self._t0 < 0.5:
            return None
        return (now - self._t0) / done * max(0, self.batches_total() - self.batches_done())

    def curves(self) -> dict[str, tuple[list[float], list[float]]]:
        """Series for the plots: x = epochs (fractional for batches)."""
        epochs = sorted(self.history)
        rows = [self.history[e] for e in epochs]
        out = {"batch_loss": ([x for x, _ in self.batch_losses], [y for _, y in self.batch_losses]),
               "train_loss": (epochs, [r.train_loss for r in rows]),
               "train_accuracy": (epochs, [r.train_accuracy for r in rows])}
        val = [(e, r.val_accuracy) for e, r in zip(epochs, rows) if r.val_accuracy is not None]
        out["val_accuracy"] = ([e for e, _ in val], [v for _, v in val])
        return out


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def default_test_spec(train: list[str], replay: list[str], val: str | None) -> str | None:
    """A set the relabelling did not touch, to compare on with its own labels: the training
    data's test split when it has one other than the validation split (FER-2013's
    PrivateTest), else the replayed data's."""
    from trainer.data.datasets import DataSpec, available_splits, dataset_kind

    val_split = DataSpec.parse(val).splits if val else ()
    for text in [*train, *replay]:
        spec = DataSpec.parse(text)
        try:
            kind = dataset_kind(spec.path)
            splits = ["PrivateTest"] if kind in ("fer2013", "ferplus") else available_splits(spec.path)
        except (OSError, ValueError):
            continue
        for split in splits:
            if split.lower() in ("privatetest", "test") and (split,) != tuple(val_split) \
                    and split not in spec.splits:
                return str(DataSpec(spec.path, (split,)))
    return None


# Data without a validation split holds out one fold of its (labelled) images: the epoch is
# chosen and old and new compared on faces the run did not train on.
HOLD_OUT = (0, 5)


def val_spec_of(train: list[str], val: str | None) -> str | None:
    """The validation set a run uses (as the trainer picks it when not told)."""
    if val:
        return val
    from trainer.data.datasets import DataSpec, default_val_spec

    spec = DataSpec.parse(train[0]) if train else None
    if spec is None or spec.splits:
        return None
    return default_val_spec(spec)
