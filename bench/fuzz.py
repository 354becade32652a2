"""Fuzz the command lines and the engine's Python API with bad input, and count what happens.

    python bench/fuzz.py                      # the full run (~25 min on 2 cores): >1,000 inputs
    python bench/fuzz.py --quick              # fewer random mutations, fewer command lines (~6 min)
    python bench/fuzz.py --keep /tmp/fz       # keep the generated inputs and logs there

Inputs (bench/fuzz_cases.py) are images, model files, ImageNet weights, datasets, crop and csv
caches, training checkpoints, cascade configs and raw frames; a few good ones go with them.
Each input goes through the Python API in a worker process (read_image, the Predictor,
load_model, load_samples, create_model, load_cascade, LivePipeline) and samples of them
through every command line (fer-train align / predict / evaluate / train / merge / cascade,
fer-desktop predict), bad files batched with good ones.

Every run ends as one of:

* processed: the call returned / the command exited 0 or 1 with its output written;
* clear error: a user's mistake, reported as one line (a ``trainer.errors.UserError``, or one
  of the project's older user-error types before it had one) / exit status 2;
* traceback: any other exception (a bug); crash: killed by a signal or the 3 GB memory cap;
  hang: no answer within the time limit.

Plus: wrong (a good input refused, or a bad one processed that cannot give a right answer:
NaN weights, duplicate class names, 0 usable samples; or output that is not valid JSON),
good inputs lost (a good file in a batch without its result), unpickled (a pickle payload
ran), and the peak memory of any process.

Exceptions are told apart by type, not by message: ``bench/fuzz.py --entry`` runs a command
line's own ``main`` with each command's ``run`` wrapped so the type of an escaping exception
is recorded, whatever the command line then prints.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MEMORY_CAP = 3 << 30  # bytes of resident memory per process: above it the process is killed
DATA_LIMIT = 5 << 30  # RLIMIT_DATA safety net (a runaway allocation fails instead of swapping)
# A user's mistake, by exception type name: trainer.errors.UserError and what came before it.
USER_ERRORS = {"UserError", "DataError", "ModelLoadError", "ImageReadError", "AlignError", "CascadeError",
               "UnknownClassError", "UnknownModelError", "PretrainedNotFound", "DetectorUnavailable", "CliError",
               "SourceError", "FileNotFoundError", "IsADirectoryError", "NotADirectoryError", "PermissionError",
               "SystemExit"}
OUTCOMES = ("processed", "clear", "traceback", "crash", "hang")


def is_user_error(mro: list[str]) -> bool:
    return bool(USER_ERRORS.intersection(mro))


# ---- the worker: the Python API, one input at a time --------------------------------------------

class Api:
    """What the worker can run; each method takes an input's fields and returns a summary."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._predictor = None
        self._live = None

    def predictor(self):
        if self._predictor is None:
            from trainer.inference.predictor import Predictor

            self._predictor = Predictor.from_path(None, device="cpu")
        return self._predictor

    @staticmethod
    def check_probs(probs: Any, n_classes: int) -> str | None:
        import numpy as np

        probs = np.asarray(probs, dtype=np.float64)
        if probs.size and (not np.isfinite(probs).all() or np.abs(probs.sum(axis=-1) - 1).max() > 1e-3):
            return f"probabilities not finite or not summing to 1: {probs.ravel()[:n_classes].tolist()}"
        return None

    def image(self, path: str, **_: Any) -> dict[str, Any]:
        from trainer.faces import read_image

        image = read_image(path)
        pred = self.predictor()
        faces = pred.predict_image(image)
        aligned = pred.pipeline.process_crop(image)
        crop = aligned.crop if aligned is not None else image
        probs = pred.predict_crops([crop])
        wrong = self.check_probs(probs, len(pred.classes)) or \
            (self.check_probs([f.probs for f in faces], len(pred.classes)) if faces else None)
        return {"shape": list(image.shape), "faces": len(faces), "wrong": wrong}

    def model(self, path: str, **_: Any) -> dict[str, Any]:
        import numpy as np

        from fuzz_cases import astronaut
        from trainer.inference.predictor import Predictor
        from trainer.models.card import load_model

        model, card = load_model(path)
        pred = Predictor.from_model(model, card, device="cpu")
        probs = pred.predict_crops([np.full((48, 48), 128, np.uint8), astronaut(64)[:, :, 0]])
        faces = pred.predict_image(astronaut(256))  # builds the detector and aligner the card names
        wrong = self.check_probs(probs, len(card.classes))
        if not wrong and probs.size and np.allclose(probs, 1.0 / probs.shape[1], atol=1e-4):
            wrong = "uniform probabilities (weights lost in a dtype conversion?)"
        if len({c.strip().lower() for c in card.classes}) != len(card.classes):
            wrong = wrong or f"duplicate class names {card.classes}"
        return {"classes": len(card.classes), "faces": len(faces), "wrong": wrong}

    def dataset(self, path: str, **_: Any) -> dict[str, Any]:
        from trainer.data.crops import FaceOptions
        from trainer.data.datasets import LoadOptions, load_samples

        opts = LoadOptions(faces=FaceOptions(mode="none", crop_size=48), cache_dir=self.root / "cache" / "api")
        samples = load_samples(path, opts)
        wrong = None if len(samples) else "0 samples loaded without an error"
        return {"n": len(samples), "classes": list(samples.classes), "wrong": wrong}

    def cache(self, path: str, extra: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Load once (filling a fresh cache), spoil every cache file, load again twice."""
        import numpy as np

        from trainer.data import datasets
        from trainer.data.crops import FaceOptions
        from trainer.data.datasets import LoadOptions, load_samples

        cache = Path(extra["cache_dir"])
        opts = LoadOptions(faces=FaceOptions(mode="none", crop_size=48), cache_dir=cache)
        first = load_samples(path, opts)
        files = sorted(cache.rglob("*.npz"))
        if not files:
            return {"wrong": "nothing was cached"}
        for f in files:
            spoil = extra["spoil"]
            if spoil == "truncate":
                f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
            elif spoil == "garbage":
                f.write_bytes(os.urandom(3000))
            elif spoil == "empty":
                f.write_bytes(b"")
            elif spoil == "wrong_keys":
                np.savez(f, something=np.zeros(3))
            elif spoil == "wrong_shapes":
                with np.load(f) as data:
                    arrays = {k: data[k] for k in data.files}
                for k, v in arrays.items():
                    if v.ndim >= 2:
                        arrays[k] = v[:1]
                    elif v.ndim == 1 and len(v) > 1:
                        arrays[k] = v[:-1]
                np.savez(f, **arrays)
            elif spoil == "object":
                f.unlink()
                with open(f, "wb") as fh:
                    np.savez(fh, files=np.array([{"a": 1}], dtype=object))
            elif spoil == "directory":
                f.unlink()
                f.mkdir()
        clear = getattr(datasets, "_fer_cached", None)
        if clear is not None and hasattr(clear, "cache_clear"):
            clear.cache_clear()
        second = load_samples(path, opts)
        if clear is not None and hasattr(clear, "cache_clear"):
            clear.cache_clear()
        third = load_samples(path, opts)
        same = np.array_equal(first.images, second.images) and np.array_equal(first.images, third.images)
        return {"n": len(second), "wrong": None if same else "different crops after the cache was spoilt"}

    def weights(self, path: str, **_: Any) -> dict[str, Any]:
        import torch

        from fuzz_cases import TINY_BACKBONE
        from trainer.models.registry import create_model

        model, source = create_model(TINY_BACKBONE, 7, weights=path)
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        return {"source": source, "wrong": None if finite else "non-finite weights accepted"}

    def cascade(self, path: str, **_: Any) -> dict[str, Any]:
        from trainer.training.cascade import load_cascade, stage_spec

        plan = load_cascade(path)
        previous = None
        out = self.root / "cascade-out"
        for i, settings in enumerate(plan.stages, start=1):
            spec = stage_spec(settings, i, out, plan, previous)
            previous = spec.out / "model"
        return {"stages": len(plan.stages)}

    def frame(self, name: str, **_: Any) -> dict[str, Any]:
        from fuzz_cases import FRAMES
        from trainer.inference.live import LivePipeline

        pred = self.predictor()
        if self._live is None:
            self._live = LivePipeline(pred.pipeline.detector, pred.pipeline.aligner, pred.predict_crops)
        frame = FRAMES[name]()
        faces = [len(self._live.process(frame)) for _ in range(3)]
        still = self._live.process(frame, still=True)
        faces.append(len(still))
        faces.append(len(pred.predict_image(frame)))
        return {"faces": faces}


def install_recorders(record: Callable[[dict[str, Any]], None]) -> None:
    """Wrap every command's ``run`` (and fer-desktop predict's work) so that the type of an
    exception leaving it is recorded, whatever the command line then prints."""
    import importlib

    def wrap(fn):
        def wrapped(*a, **kw):
            try:
                return fn(*a, **kw)
            except BaseException as exc:
                if not isinstance(exc, KeyboardInterrupt):
                    record({"type": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                            "message": str(exc)[:500]})
                raise
        wrapped.__wrapped_for_fuzz__ = True
        return wrapped

    from trainer import cli

    for name in cli.COMMANDS:
        module = importlib.import_module(f"trainer.commands.{name}")
        if not getattr(module.run, "__wrapped_for_fuzz__", False):
            module.run = wrap(module.run)
    from fer_desktop import cli_predict
    from trainer.inference import predictor

    # fer-desktop predict's work, under whichever name this version gives it.
    if hasattr(cli_predict, "predict_paths") and not getattr(cli_predict.predict_paths, "__wrapped_for_fuzz__", 0):
        cli_predict.predict_paths = wrap(cli_predict.predict_paths)
    try:
        shared = importlib.import_module("trainer.inference.predict_files")  # imported by main at call time
        if not getattr(shared.run, "__wrapped_for_fuzz__", False):
            shared.run = wrap(shared.run)
    except ImportError:
        pass
    if not getattr(predictor.Predictor.from_path.__func__, "__wrapped_for_fuzz__", False):
        predictor.Predictor.from_path = classmethod(wrap(predictor.Predictor.from_path.__func__))


def command_main(prog: str, args: list[str]) -> int:
    if prog == "fer-train":
        from trainer import cli

        return int(cli.main(args) or 0)
    from fer_desktop import cli_predict

    return int(cli_predict.main(args) or 0)


def _cli(self: Api, argv: list[str], **_: Any) -> dict[str, Any]:
    """A command line run in this process (no interpreter start-up per run): exit status,
    output and the exception types that left its ``run``."""
    import contextlib
    import io

    if not hasattr(self, "_recorded"):
        self._recorded = []
        install_recorders(self._recorded.append)
    self._recorded.clear()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc: Any = command_main(argv[0], argv[1:])
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # noqa: BLE001 - what the interpreter would print for an uncaught one
            traceback.print_exc()
            rc = 1
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "recorded": list(self._recorded)}


Api.cli = _cli


def worker_main(root: str) -> None:
    """Read one JSON input per line from stdin, answer one JSON line on stdout."""
    import warnings

    warnings.simplefilter("ignore")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    api = Api(Path(root))
    out = sys.stdout
    sys.stdout = sys.stderr  # library prints must not break the protocol
    for line in sys.stdin:
        item = json.loads(line)
        started = time.perf_counter()
        try:
            result = getattr(api, item["kind"])(**item)
            answer = {"status": "ok", "result": result}
        except BaseException as exc:  # noqa: BLE001 - classifying every exception is the point
            if isinstance(exc, KeyboardInterrupt):
                raise
            answer = {"status": "error", "type": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                      "message": str(exc)[:2000], "traceback": traceback.format_exc()[-4000:]}
        answer["seconds"] = round(time.perf_counter() - started, 3)
        out.write(json.dumps(answer, default=str) + "\n")
        out.flush()


# ---- the command-line entry: a command's main with escaping exception types recorded ----------

def entry_main(argv: list[str]) -> int:
    record = os.environ.get("FUZZ_EXC_FILE")

    def write(entry: dict[str, Any]) -> None:
        if record:
            with open(record, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    install_recorders(write)
    return command_main(argv[0], argv[1:])


# ---- the driver -----------------------------------------------------------------------------------

def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (DATA_LIMIT, DATA_LIMIT))
    os.setpgrp()


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Tally:
    runs: Counter = field(default_factory=Counter)  # (surface, outcome) -> count
    by_kind: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    wrong: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # tracebacks, crashes, hangs: what and where
    peak: int = 0
    peak_where: str = ""
    inputs: int = 0
    good_inputs: int = 0

    def add(self, surface: str, kind: str, outcome: str, where: str, detail: str = "") -> None:
        self.runs[(surface, outcome)] += 1
        self.by_kind[f"{surface}:{kind}"][outcome] += 1
        if outcome in ("traceback", "crash", "hang"):
            self.bad.append(f"{surface} {kind} {where}: {outcome}: {detail}")

    def memory(self, rss: int, where: str) -> None:
        if rss > self.peak:
            self.peak, self.peak_where = rss, where


class Worker:
    def __init__(self, root: Path, python: str, env: dict[str, str], log) -> None:
        self.root, self.python, self.env, self.log = root, python, env, log
        self.proc: subprocess.Popen | None = None
        self.peak = 0

    def start(self) -> None:
        self.proc = subprocess.Popen([self.python, str(HERE / "fuzz.py"), "--worker", str(self.root)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=self.env, preexec_fn=_limit_memory, bufsize=1, cwd=self.root)

    def stop(self) -> None:
        if self.proc is not None:
            self.peak = max(self.peak, _hwm(self.proc.pid))
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def run(self, item: dict[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        """(outcome, answer) with outcome ok | error | hang | crash | memory."""
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        import selectors

        try:
            self.proc.stdin.write(json.dumps(item) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return "crash", {"message": "worker died before the input"}
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while True:
            ready = sel.select(timeout=0.05)
            rss = _rss(self.proc.pid)
            if rss > MEMORY_CAP:
                self.stop()
                return "memory", {"message": f"resident memory {rss >> 20} MB > cap"}
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    code = self.proc.poll()
                    self.stop()
                    return "crash", {"message": f"worker died (exit {code})"}
                self.peak = max(self.peak, _hwm(self.proc.pid))
                return "ok", json.loads(line)
            if time.monotonic() > deadline:
                self.stop()
                return "hang", {"message": f"no answer in {timeout:.0f} s"}


def classify_api(item: dict[str, Any], outcome: str, answer: dict[str, Any]) -> tuple[str, str]:
    if outcome == "memory":
        return "crash", answer["message"]
    if outcome in ("hang", "crash"):
        return outcome, answer["message"]
    if answer["status"] == "ok":
        return "processed", ""
    mro = answer["mro"]
    one_line = "\n" not in answer["message"].strip() and answer["message"].strip() != ""
    api_arg = item["kind"] == "frame" and item["name"] not in GOOD_FRAMES and \
        bool({"ValueError", "TypeError"} & set(mro))
    if (is_user_error(mro) or api_arg) and one_line:
        return "clear", answer["message"]
    return "traceback", f"{answer['type']}: {answer['message'][:300]}\n{answer.get('traceback', '')[-1500:]}"


@dataclass
class CliRun:
    name: str
    argv: list[str]  # starts with fer-train | fer-desktop-predict
    kind: str
    timeout: float = 180
    good_files: list[str] = field(default_factory=list)  # must each have a result
    expect: str = "any"  # any | refuse | process
    out_json: bool = False  # stdout must be one strict JSON document
    faces_json: Path | None = None  # align: this manifest must list the good files
    env: dict[str, str] = field(default_factory=dict)  # set: run in its own process with these


def run_cli_process(run: CliRun, python: str, env: dict[str, str], logdir: Path, tally: Tally) -> dict[str, Any]:
    """A command line in its own interpreter (for what needs a process: the console's
    encoding); the same answer as the worker's ``cli``."""
    exc_file = logdir / f"{run.name}.exc"
    exc_file.unlink(missing_ok=True)
    full_env = {**env, **run.env, "FUZZ_EXC_FILE": str(exc_file)}
    cmd = [python, str(HERE / "fuzz.py"), "--entry", *run.argv]
    started = time.monotonic()
    answer: dict[str, Any] = {}
    with open(logdir / f"{run.name}.out", "wb") as out, open(logdir / f"{run.name}.err", "wb") as err:
        # cwd: outside the checkout, so PYTHONPATH (another tree) wins over the working directory.
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, preexec_fn=_limit_memory, cwd=logdir)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                peak = max(peak, usage.ru_maxrss * 1024)
                answer["rc"] = os.waitstatus_to_exitcode(status)
                break
            rss = _rss(proc.pid)
            peak = max(peak, rss)
            if rss > MEMORY_CAP:
                os.killpg(proc.pid, signal.SIGKILL)
                answer["outcome"] = ("crash", f"resident memory {rss >> 20} MB > cap")
            elif time.monotonic() - started > run.timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                answer["outcome"] = ("hang", f"no exit in {run.timeout:.0f} s")
            time.sleep(0.05)
    tally.memory(peak, f"cli {run.name}")
    answer["stderr"] = (logdir / f"{run.name}.err").read_text(errors="replace")
    answer["stdout"] = (logdir / f"{run.name}.out").read_text(errors="replace")
    answer["recorded"] = [json.loads(x) for x in exc_file.read_text().splitlines()] if exc_file.exists() else []
    return answer


def classify_cli(run: CliRun, answer: dict[str, Any], tally: Tally) -> str:
    """Count one command line: its outcome, good inputs it lost, output that is wrong."""
    stderr, stdout, recorded = answer.get("stderr", ""), answer.get("stdout", ""), answer.get("recorded", [])
    rc = answer.get("rc")
    outcome, detail = answer.get("outcome", (None, ""))
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if outcome is None:
        if rc < 0:
            outcome, detail = "crash", f"signal {-rc}"
        elif "Traceback (most recent call last)" in stderr:
            outcome, detail = "traceback", stderr.strip()[-1500:]
        elif recorded and not is_user_error(recorded[-1]["mro"]):
            outcome, detail = "traceback", f"{recorded[-1]['type']}: {recorded[-1]['message']} (printed as: {last})"
        elif rc == 2:
            outcome, detail = "clear", last
        elif rc in (0, 1):
            outcome = "processed"
        else:
            outcome, detail = "traceback", f"exit status {rc}: {stderr.strip()[-500:]}"
    tally.add("cli", run.kind, outcome, run.name, detail)
    lost = list(run.good_files)
    if outcome == "processed":
        lost = _lost_and_wrong(run, stdout, tally)
        if run.expect == "refuse":
            tally.wrong.append(f"cli {run.name}: processed an input that cannot give a right answer")
    if run.expect == "process" and outcome != "processed":
        tally.wrong.append(f"cli {run.name}: a good input was not processed ({outcome}: {detail[:200]})")
    for g in lost:
        tally.lost.append(f"cli {run.name}: {g}")
    return outcome


def _lost_and_wrong(run: CliRun, stdout: str, tally: Tally) -> list[str]:
    """The good files of a processed batch that have no result; output that is not what it claims."""
    lost: list[str] = []
    if run.out_json:
        try:
            doc = json.loads(stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError as exc:
            tally.wrong.append(f"cli {run.name}: stdout is not strict JSON ({str(exc)[:100]})")
            return list(run.good_files)
        done = {str(e.get("path") or e.get("image")) for e in doc.get("images", []) if not e.get("error")}
        lost = [g for g in run.good_files if g not in done]
    if run.faces_json is not None:
        if not run.faces_json.is_file():
            tally.wrong.append(f"cli {run.name}: no faces.json written")
            return list(run.good_files)
        records = json.loads(run.faces_json.read_text())
        done = {r["image"] for r in records if "error" not in r}
        lost = [g for g in run.good_files if g not in done]
    return lost


def build_cli_runs(inputs: list, root: Path, good_images: list[str], models: Path, datasets: dict[str, Path],
                   quick: bool) -> list[CliRun]:
    import random

    from fuzz_cases import TINY_BACKBONE

    rng = random.Random(1)
    out = root / "cli-out"
    runs: list[CliRun] = []
    good_model = str(models / "good.safetensors")  # models: the folder of model files
    tiny = ["--model", TINY_BACKBONE, "--no-pretrained", "--input-size", "32", "--batch-size", "4",
            "--epochs", "1", "--faces", "none", "--num-workers", "0", "--device", "cpu", "--progress", "json"]
    # Images: bad files in batches with two good ones, through every image command.
    bad_images = [i for i in inputs if i.kind == "image" and not i.good and i.extra.get("group") != "special"]
    special = [i for i in inputs if i.kind == "image" and i.extra.get("group") == "special"]
    rng.shuffle(bad_images)
    size = 40 if quick else 25
    batches = [bad_images[k:k + size] for k in range(0, len(bad_images), size)]
    if quick:
        batches = batches[::2]
    batches += [[s] for s in special]  # alone: a hang must not hide the others
    for b, batch in enumerate(batches):
        goods = rng.sample(good_images, 2)
        files = [i.path for i in batch] + goods
        rng.shuffle(files)
        align_out = out / f"align{b}"
        which = ["align", "desktop", "predict", "predict-crops"] if not quick or b % 2 == 0 else ["desktop", "align"]
        if "align" in which:
            runs.append(CliRun(f"align{b}", ["fer-train", "align", *files, "--out", str(align_out)], "image",
                               good_files=goods, faces_json=align_out / "faces.json", timeout=150))
        if "desktop" in which:
            runs.append(CliRun(f"desktop{b}", ["fer-desktop-predict", *files, "--json", "--device", "cpu"], "image",
                               good_files=goods, out_json=True))
        if "predict" in which:
            runs.append(CliRun(f"predict{b}", ["fer-train", "predict", *files, "--json", "--device", "cpu"], "image",
                               good_files=goods, out_json=True))
        if "predict-crops" in which:
            runs.append(CliRun(f"predictcrops{b}", ["fer-train", "predict", "--crops", *files, "--json",
                                                    "--device", "cpu"], "image", good_files=goods, out_json=True))
    odd = next(i.path for i in inputs if i.name == "non-utf8-name")
    strict = {"PYTHONIOENCODING": "utf-8"}
    runs.append(CliRun("desktop-nonutf8", ["fer-desktop-predict", odd, "--device", "cpu"], "image",
                       env=strict, expect="process"))
    runs.append(CliRun("desktop-nonutf8-json", ["fer-desktop-predict", odd, "--json", "--device", "cpu"], "image",
                       env=strict, expect="process", good_files=[odd], out_json=True))
    runs.append(CliRun("predict-nonutf8", ["fer-train", "predict", odd, "--device", "cpu"], "image",
                       env=strict, expect="process"))
    runs.append(CliRun("align-nonutf8", ["fer-train", "align", odd, "--out", str(out / "align-nonutf8")], "image",
                       env=strict, expect="process"))
    # Models: each through one command, in turn.
    astro = next(g for g in good_images if g.endswith("astro.png"))
    folder = str(datasets["folder"])
    model_inputs = [i for i in inputs if i.kind == "model"]
    if quick:
        model_inputs = model_inputs[::4]
    for k, item in enumerate(model_inputs):
        p = item.path
        choice = k % 5
        name = f"model-{item.name}"
        if choice == 0:
            argv = ["fer-train", "predict", "--model", p, astro, "--json", "--device", "cpu"]
        elif choice == 1:
            argv = ["fer-desktop-predict", "--model", p, astro, "--json", "--device", "cpu"]
        elif choice == 2:
            argv = ["fer-train", "evaluate", "--model", p, "--data", folder, "--faces", "none", "--json",
                    "--device", "cpu", "--cache", str(root / "cache" / "cli")]
        elif choice == 3:
            argv = ["fer-train", "merge", p, good_model, "--out", str(out / name / "merged")]
        else:
            argv = ["fer-train", "train", "--data", str(datasets["fer"]), "--init-from", p, *tiny[5:],
                    "--out", str(out / name), "--cache", str(root / "cache" / "cli")]
        runs.append(CliRun(name, argv, "model", expect=item.expect, out_json="--json" in argv))
    runs.append(CliRun("merge-one", ["fer-train", "merge", good_model, "--out", str(out / "merge-one")], "model",
                       expect="refuse"))
    runs.append(CliRun("merge-nan", ["fer-train", "merge", str(models / "w_all_nan.safetensors"), good_model,
                                     "--out", str(out / "merge-nan")], "model", expect="refuse"))
    runs.append(CliRun("init-nan", ["fer-train", "train", "--data", str(datasets["fer"]), "--init-from",
                                    str(models / "w_all_nan.safetensors"), *tiny[5:], "--out", str(out / "init-nan")],
                       "model", expect="refuse"))
    runs.append(CliRun("predict-nan-json", ["fer-train", "predict", "--model", str(models / "w_one_nan.safetensors"),
                                            astro, "--json", "--device", "cpu"], "model", expect="refuse",
                       out_json=True))
    runs.append(CliRun("desktop-nan-json", ["fer-desktop-predict", "--model", str(models / "w_all_nan.safetensors"),
                                            astro, "--json", "--device", "cpu"], "model", expect="refuse",
                       out_json=True))
    runs.append(CliRun("evaluate-dup-classes", ["fer-train", "evaluate", "--model",
                                                str(models / "card_classes_dup.safetensors"), "--data", folder,
                                                "--faces", "none", "--device", "cpu", "--cache",
                                                str(root / "cache" / "cli")], "model", expect="refuse"))
    # Datasets: evaluated with the good model; a few trained on.
    data_inputs = [i for i in inputs if i.kind == "dataset"]
    for k, item in enumerate(data_inputs if not quick else data_inputs[::3]):
        runs.append(CliRun(f"evaluate-{item.name}", ["fer-train", "evaluate", "--model", good_model, "--data",
                                                     item.path, "--faces", "none", "--json", "--device", "cpu",
                                                     "--cache", str(root / "cache" / "cli")],
                           "dataset", expect=item.expect, out_json=True))
    ferplus_nf = str(root / "datasets" / "ferplus_all_nf" / "fer2013new.csv")
    runs.append(CliRun("evaluate-zero-usable", ["fer-train", "evaluate", "--model", good_model, "--data",
                                                ferplus_nf + "#Training", "--device", "cpu"], "dataset",
                       expect="refuse"))
    for name in ("fer.csv", "data#set", "folder_one_corrupt", "ferplus_spaces/fer2013new.csv", "fer_bom.csv",
                 "fer_gz_corrupt.csv.gz", "folder_fifo"):
        spec = str(root / "datasets" / name)
        runs.append(CliRun(f"train-{name.replace('/', '_')}", ["fer-train", "train", "--data", spec, *tiny,
                                                               "--out", str(out / f"train-{name.replace('/', '_')}"),
                                                               "--cache", str(root / "cache" / "cli")],
                           "dataset", expect="process" if "gz_corrupt" not in name else "any"))
    # Checkpoints: resume each poisoned copy of a finished run with its own settings (the
    # checkpoint is read and checked before anything else; the good one finishes at once).
    for item in (i for i in inputs if i.kind == "checkpoint"):
        argv = ["fer-train", "train", "--data", str(datasets["fer"]), *tiny, "--out", item.path,
                "--resume", "--name", "base", "--cache", str(root / "cache" / "cli"), "--seed", "0"]
        runs.append(CliRun(f"resume-{item.name}", argv, "checkpoint", expect=item.expect, timeout=240))
    # ImageNet weights files.
    for item in (i for i in inputs if i.kind == "weights"):
        argv = ["fer-train", "train", "--data", str(datasets["fer"]), *tiny, "--out", str(out / f"weights-{item.name}"),
                "--cache", str(root / "cache" / "cli")]
        argv[argv.index("--no-pretrained")] = "--weights"
        argv.insert(argv.index("--weights") + 1, item.path)
        runs.append(CliRun(f"weights-{item.name}", argv, "weights", expect=item.expect, timeout=240))
    # Cascades: dry runs, and one real (one epoch on 21 rows).
    cascades = [i for i in inputs if i.kind == "cascade"]
    for item in cascades if not quick else cascades[::3]:
        runs.append(CliRun(f"cascade-{item.name}", ["fer-train", "cascade", item.path, "--dry-run",
                                                    "--out", str(out / f"cascade-{item.name}")],
                           "cascade", expect=item.expect))
    good_cascade = next(i.path for i in cascades if i.name == "good")
    runs.append(CliRun("cascade-run", ["fer-train", "cascade", good_cascade, "--out", str(out / "cascade-run"),
                                       "--set", "num_workers=0", "--set", "batch_size=4", "--set", "device='cpu'",
                                       "--progress", "json", "--cache", str(root / "cache" / "cli")],
                       "cascade", expect="process", timeout=240))
    return runs


def make_base_run(root: Path, python: str, env: dict[str, str], fer: Path) -> Path:
    """A finished one-epoch run on the tiny backbone, for the checkpoint cases."""
    from fuzz_cases import TINY_BACKBONE

    run = root / "base-run"
    cmd = [python, "-m", "trainer.cli", "train", "--data", str(fer), "--model", TINY_BACKBONE, "--no-pretrained",
           "--input-size", "32", "--batch-size", "4", "--epochs", "1", "--faces", "none", "--num-workers", "0",
           "--device", "cpu", "--progress", "json", "--out", str(run), "--name", "base", "--seed", "0",
           "--cache", str(root / "cache" / "cli")]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
                   cwd=root)
    return run


GOOD_FRAMES: tuple[str, ...] = ()


def main() -> int:
    global GOOD_FRAMES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer random mutations and command lines")
    parser.add_argument("--keep", type=Path, help="write inputs and logs here (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cli", action="store_true", help="the Python API only")
    parser.add_argument("--json", type=Path, help="also write the counts as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--entry", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker:
        worker_main(args.worker)
        return 0
    if args.entry is not None:
        return entry_main(args.entry + rest)

    import fuzz_cases as fc

    GOOD_FRAMES = fc.GOOD_FRAMES
    root = args.keep or Path(tempfile.mkdtemp(prefix="fer-fuzz-"))
    if root.exists() and any(root.iterdir()):
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    logdir = root / "logs"
    logdir.mkdir()
    python = sys.executable
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "FER_DESKTOP_CACHE": str(root / "cache" / "home"), "XDG_CACHE_HOME": str(root / "cache" / "xdg"),
           "FER_DESKTOP_HOME": str(root / "home"), "TQDM_DISABLE": "1"}
    t0 = time.monotonic()
    print(f"fuzz: generating inputs in {root}", file=sys.stderr)
    m = fc.Maker(root, seed=args.seed, scale=0.4 if args.quick else 1.0)
    good_images = fc.make_images(m)
    models = fc.make_models(m).parent
    datasets = fc.make_datasets(m, good_images)
    for spoil in ("truncate", "garbage", "empty", "wrong_keys", "wrong_shapes", "object", "directory"):
        for label, spec in (("fer", datasets["fer"]), ("folder", datasets["folder"]), ("ferplus", datasets["ferplus"])):
            m.add("cache", f"cache_{label}_{spoil}", spec, good=True, expect="process",
                  extra={"spoil": spoil, "cache_dir": str(root / "cache" / f"spoil-{label}-{spoil}")})
    fc.make_weights_cases(m)
    fc.make_cascades(m)
    fc.make_frames(m)
    base_run = make_base_run(root, python, env, datasets["fer"])
    fc.make_checkpoint_cases(m, base_run)
    inputs = m.inputs
    tally = Tally(inputs=len(inputs), good_inputs=sum(i.good for i in inputs))
    print(f"fuzz: {len(inputs)} inputs ({tally.good_inputs} good) in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)

    # The Python API, input by input, in one worker (restarted after a crash or hang).
    with open(logdir / "worker.log", "w") as wlog:
        worker = Worker(root, python, env, wlog)
        api_kinds = {"image", "model", "dataset", "cache", "weights", "cascade", "frame"}
        for n, item in enumerate(i for i in inputs if i.kind in api_kinds):
            payload = {"kind": item.kind, "name": item.name, "path": item.path, "extra": item.extra}
            outcome, answer = worker.run(payload, timeout=90)
            result, detail = classify_api(payload, outcome, answer)
            tally.add("api", item.kind, result, item.name, detail)
            wrong = (answer.get("result") or {}).get("wrong") if outcome == "ok" and answer["status"] == "ok" else None
            if wrong:
                tally.wrong.append(f"api {item.kind} {item.name}: {wrong}")
            if item.expect == "refuse" and result == "processed":
                tally.wrong.append(f"api {item.kind} {item.name}: processed an input that cannot give a right answer")
            if item.good and result != "processed":
                tally.lost.append(f"api {item.kind} {item.name}: {result}: {detail[:200]}")
            if n % 100 == 0:
                print(f"fuzz: api {n} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
        worker.stop()
        tally.memory(worker.peak, "api worker")

    if not args.no_cli:
        runs = build_cli_runs(inputs, root, good_images, models, datasets, args.quick)
        print(f"fuzz: {len(runs)} command lines", file=sys.stderr)
        with open(logdir / "cli-worker.log", "w") as wlog:
            worker = Worker(root, python, env, wlog)
            for n, run in enumerate(runs):
                if run.env:
                    answer = run_cli_process(run, python, env, logdir, tally)
                else:
                    # In the worker: the command's own main, without an interpreter start per run.
                    outcome, reply = worker.run({"kind": "cli", "name": run.name, "argv": run.argv}, run.timeout)
                    if outcome == "ok" and reply["status"] == "ok":
                        answer = reply["result"]
                    elif outcome == "ok":
                        answer = {"outcome": ("traceback", reply.get("traceback", ""))}
                    else:
                        answer = {"outcome": ("crash" if outcome == "memory" else outcome, reply["message"])}
                    (logdir / f"{run.name}.err").write_text(answer.get("stderr", str(answer.get("outcome"))))
                classify_cli(run, answer, tally)
                if n % 25 == 0:
                    print(f"fuzz: cli {n}/{len(runs)} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
            worker.stop()
            tally.memory(worker.peak, "cli worker")

    unpickled = (root / fc.MARKER).exists()
    report(tally, unpickled, time.monotonic() - t0, root, args.json)
    ok = not (any(tally.runs[(s, o)] for s in ("api", "cli") for o in ("traceback", "crash", "hang"))
              or tally.lost or tally.wrong or unpickled or tally.peak > MEMORY_CAP)
    return 0 if ok else 1


def report(tally: Tally, unpickled: bool, seconds: float, root: Path, json_path: Path | None) -> None:
    lines = [f"inputs: {tally.inputs} ({tally.good_inputs} good)"]
    for surface in ("api", "cli"):
        total = sum(v for (s, _), v in tally.runs.items() if s == surface)
        counts = ", ".join(f"{o} {tally.runs[(surface, o)]}" for o in OUTCOMES)
        lines.append(f"{surface}: {total} runs: {counts}")
    lines.append(f"wrong: {len(tally.wrong)}; good inputs lost: {len(tally.lost)}; unpickled: {unpickled}; "
                 f"peak memory {tally.peak / 2 ** 30:.2f} GB ({tally.peak_where}); {seconds / 60:.1f} min")
    lines.append("by kind: " + "; ".join(f"{k} " + " ".join(f"{o}={c[o]}" for o in OUTCOMES if c[o])
                                          for k, c in sorted(tally.by_kind.items())))
    for title, items in (("tracebacks/crashes/hangs", tally.bad), ("wrong", tally.wrong), ("lost", tally.lost)):
        if items:
            lines.append(f"--- {title} ({len(items)}) ---")
            lines += [x.replace("\n", "\n    ") for x in items]
    # File names that are not UTF-8 (a case of their own) are written as escapes.
    text = "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")
    (root / "report.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"(full report: {root / 'report.txt'}; logs in {root / 'logs'})")
    if json_path:
        json_path.write_text(json.dumps({
            "inputs": tally.inputs, "good_inputs": tally.good_inputs,
            "runs": {f"{s}:{o}": v for (s, o), v in tally.runs.items()}, "wrong": tally.wrong, "lost": tally.lost,
            "bad": tally.bad, "unpickled": unpickled, "peak_bytes": tally.peak, "peak_where": tally.peak_where,
            "by_kind": {k: dict(c) for k, c in tally.by_kind.items()}, "seconds": seconds}, indent=1,
            ensure_ascii=True), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
