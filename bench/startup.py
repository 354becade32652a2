"""Start-up time and memory of the command lines, cold and warm. Not a test.

    python bench/startup.py [--runs 3] [--image IMG] [--only help|predict] [--json OUT]
                            [--bin DIR] [--no-cold]

Each command runs as a fresh process, the way a user starts it (the ``fer-train`` and
``fer-desktop`` scripts beside this Python, or ``--bin DIR``'s). Per command: wall time,
CPU time (user + system, from ``os.wait4``) and peak memory (max RSS, from GNU time).

*cold*: the first run after the page cache of the packages' files has been dropped
(``posix_fadvise(DONTNEED)``; pages that another running process has mapped stay), as after
a reboot; ``--no-bytecode`` also starts with an empty bytecode cache (a first start after
``pip install --no-compile``: every module is compiled). *warm*: the median of ``--runs``
more. On a shared machine the wall times follow its load; the CPU times much less so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The packages whose files a start reads (cold: evicted from the page cache first).
PACKAGES = ("torch", "torchvision", "timm", "cv2", "numpy", "facenet_pytorch", "safetensors", "PIL",
            "huggingface_hub", "pydantic", "pydantic_core", "sympy", "tqdm", "trainer", "fer_desktop")


def command_path(name: str, bin_dir: Path | None) -> list[str]:
    """The console script as a user runs it, else ``python -m``."""
    script = (bin_dir or Path(sys.executable).parent) / name
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", {"fer-train": "trainer.cli", "fer-desktop": "fer_desktop"}[name]]


def drop_page_cache(python: str) -> int:
    """Evict the packages' files from the page cache (best effort, no root needed); returns
    how many files were advised."""
    code = ("import importlib.util, json, sys; out = []\n"
            f"for name in {PACKAGES!r}:\n"
            "    spec = importlib.util.find_spec(name)\n"
            "    if spec is not None: out += list(spec.submodule_search_locations or [spec.origin])\n"
            "print(json.dumps(out))")
    roots = json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)
    count = 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                try:
                    fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    count += 1
                finally:
                    os.close(fd)
    return count


def _gnu_time() -> str | None:
    """GNU time, for the peak memory: a child's own ru_maxrss also counts the pages it had
    before exec, copied from this (large) Python process at fork."""
    path = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if path is None:
        return None
    probe = subprocess.run([path, "--version"], capture_output=True, text=True)
    return path if "GNU" in probe.stdout + probe.stderr else None


def measure(argv: list[str], runs: int, cold: bool, python: str, cwd: Path, no_bytecode: bool = False) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    result: dict = {"command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv))}
    if cold:
        prefix = Path(tempfile.mkdtemp(prefix="fer-pycache-"))
        try:
            drop_page_cache(python)
            cold_env = dict(env, PYTHONPYCACHEPREFIX=str(prefix)) if no_bytecode else env
            result["cold"] = run_once(argv, cold_env, cwd)
        finally:
            shutil.rmtree(prefix, ignore_errors=True)
    warm = [run_once(argv, env, cwd) for _ in range(runs)]
    result["warm"] = {k: statistics.median(r[k] for r in warm) for k in warm[0]}
    result["warm_runs"] = warm
    return result


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Wall seconds, CPU seconds and max RSS (MB) of one run (``os.wait4`` reaps the child
    itself, so its own resource usage comes back); fails loudly on a non-zero exit."""
    gnu_time = _gnu_time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = [gnu_time, "-f", "%M", "-o", rss.name, *argv] if gnu_time else argv
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, env=env, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err.read().decode()[-2000:]}")
        peak = float(rss.read().strip().splitlines()[-1]) / 1024 if gnu_time else float("nan")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": peak}


def default_image(folder: Path) -> Path:
    """scikit-image's astronaut (one real face) as a PNG."""
    import numpy as np
    from skimage import data
    from skimage.io import imsave

    path = folder / "astronaut.png"
    imsave(path, np.ascontiguousarray(data.astronaut()), check_contrast=False)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="warm runs per command (median reported)")
    ap.add_argument("--image", type=Path, help="the image for predict (default: scikit-image's astronaut)")
    ap.add_argument("--only", choices=("help", "predict"), help="only the --help commands, or only predict")
    ap.add_argument("--bin", type=Path, help="folder with the fer-train / fer-desktop scripts to time")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold runs")
    ap.add_argument("--no-bytecode", action="store_true", help="cold runs also compile every module anew")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = ap.parse_args()

    python = str((args.bin / "python") if args.bin and (args.bin / "python").exists() else sys.executable)
    work = Path(tempfile.mkdtemp(prefix="fer-startup-"))
    commands: list[list[str]] = []
    if args.only in (None, "help"):
        commands += [command_path("fer-train", args.bin) + ["--help"],
                     command_path("fer-train", args.bin) + ["evaluate", "--help"],
                     command_path("fer-desktop", args.bin) + ["--help"]]
    if args.only in (None, "predict"):
        image = args.image.resolve() if args.image else default_image(work)
        commands += [command_path("fer-desktop", args.bin) + ["predict", str(image)]]
    results = []
    try:
        for argv in commands:
            r = measure(argv, args.runs, not args.no_cold, python, work, args.no_bytecode)
            results.append(r)
            cold = r.get("cold", {})
            print(f"{r['command']:<40} " + (f"cold {cold['wall_s']:6.2f} s ({cold['cpu_s']:5.2f} s CPU)  " if cold else "")
                  + f"warm {r['warm']['wall_s']:6.2f} s ({r['warm']['cpu_s']:5.2f} s CPU)  "
                  f"max RSS {r['warm']['max_rss_mb']:5.0f} MB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"(load average {load:.1f} on {os.cpu_count()} CPUs)" if load is not None else "")
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "load": load, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
