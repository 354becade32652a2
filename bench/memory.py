"""Peak memory (max RSS) of ``fer-desktop predict IMAGE`` and of the app playing a video of
640x480 frames with real faces for N seconds (its live view working all the time), per
classifier back-end. Not a test.

    python bench/memory.py [--seconds 20] [--faces 1,8] [--backends onnx,torch] [--detector NAME]
                           [--json OUT]

Each command is a fresh process, run as a user starts it (the ``fer-desktop`` script beside
this Python), the app with Qt's offscreen platform and a scratch settings file. Peak memory
comes from GNU time (bench/startup.py: a child's own ru_maxrss would also count the pages
copied from this process at fork). The video: bench/synthetic_faces.py's stream written
with OpenCV (MJPG in .avi, 30 fps). The app runs through bench/app_probe.py (fer-desktop's
own main with a counter on the window's results), so the table also says how many frames
the live view showed with faces while it was measured, and whether torch was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from machine import MachineLoad  # noqa: E402
from startup import _gnu_time, command_path, default_image  # noqa: E402
from synthetic_faces import FaceStream, face_patches  # noqa: E402

TARGET_MB = 600


def write_video(path: Path, n_faces: int, seconds: float, fps: float = 30.0) -> Path:
    """``seconds`` of the synthetic stream with ``n_faces`` faces, MJPG in .avi (every OpenCV
    build writes and reads it)."""
    stream = FaceStream(face_patches(), n_faces, fps=fps)
    loop = stream.frames()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for i in range(int(seconds * fps)):
            writer.write(loop[i % len(loop)])
    finally:
        writer.release()
    return path


def measure(argv: list[str], env: dict[str, str], timeout: float) -> dict:
    """Peak RSS (MB, GNU time), wall and CPU seconds of one run; its stderr tail."""
    gnu_time = _gnu_time()
    if gnu_time is None:
        raise SystemExit("bench/memory.py needs GNU time (/usr/bin/time): apt install time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.run([gnu_time, "-f", "%M %U %S", "-o", rss.name, *argv], env=env, capture_output=True,
                              text=True, timeout=timeout)
        wall = time.perf_counter() - start
        fields = rss.read().strip().splitlines()[-1].split()
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return {"max_rss_mb": round(float(fields[0]) / 1024, 1), "wall_s": round(wall, 2),
            "cpu_s": round(float(fields[1]) + float(fields[2]), 2), "stderr": proc.stderr}


def probe_report(log: str) -> dict:
    """bench/app_probe.py's JSON line from the app's stderr."""
    from app_probe import PREFIX

    lines = [line[len(PREFIX):] for line in log.splitlines() if line.startswith(PREFIX)]
    if not lines:
        raise SystemExit(f"the app printed no {PREFIX.strip()} line:\n{log[-2000:]}")
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="how long the app plays the video")
    ap.add_argument("--faces", default="1,8", help="faces per frame in the videos, comma-separated")
    ap.add_argument("--backends", default="onnx,torch")
    ap.add_argument("--detector", default=None, help="face detector (default: the model card's)")
    ap.add_argument("--image", type=Path, help="the image for predict (default: scikit-image's astronaut)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fer-memory-"))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    image = args.image.resolve() if args.image else default_image(work)
    detector = ["--detector", args.detector] if args.detector else []
    counts = [int(c) for c in args.faces.split(",") if c.strip()]
    rows = []
    with MachineLoad() as load:
        videos = {n: write_video(work / f"faces{n}.avi", n, args.seconds + 10) for n in counts}
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            r = measure(command_path("fer-desktop", None) + ["predict", str(image), "--backend", backend, *detector],
                        env, 600)
            rows.append({"what": "fer-desktop predict astronaut.png", "backend": backend, **_public(r)})
            print(f"predict, {backend:<6}: {r['max_rss_mb']:7.0f} MB peak, {r['wall_s']:.1f} s", flush=True)
            for n, video in videos.items():
                argv = [sys.executable, str(REPO / "bench" / "app_probe.py"),
                        "--video", str(video), "--play", "--quit-after-ms", str(int(args.seconds * 1000)),
                        "--backend", backend, "--settings", str(work / "settings.ini"), *detector]
                r = measure(argv, env, args.seconds + 600)
                probe = probe_report(r["stderr"])
                rows.append({"what": f"fer-desktop --video ({n} face{'s' * (n > 1)}) for {args.seconds:g} s",
                             "backend": backend, "faces": n, "app": probe, **_public(r)})
                print(f"app {n} face(s), {backend:<6}: {r['max_rss_mb']:7.0f} MB peak; showed "
                      f"{probe['with_model']} results ({probe['results_per_s_after_model']}/s after the model "
                      f"loaded, {probe['faces_per_result']} faces each), torch imported: {probe['torch_imported']}",
                      flush=True)
    summary = load.summary()
    print(f"(target: under {TARGET_MB} MB on a CPU; {MachineLoad.describe(summary)})")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "machine": summary, "target_mb": TARGET_MB}, indent=2))
    return 0


def _public(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "stderr"}


if __name__ == "__main__":
    raise SystemExit(main())
