"""Live-view frames per second, end to end (detect, align, classify, draw), on 640x480
frames with one moving face: detecting on every frame (the baseline) against the tracking
pipeline of trainer/inference/live.py, in the same run. Not a test.

    python bench/live_fps.py [--frames 150] [--model PATH] [--detector auto] [--threads N]
                             [--pause-pid-file /tmp/train.pid]

``--pause-pid-file``: SIGSTOP that process (a training job sharing the CPUs) for the timed
part and SIGCONT it afterwards, whatever happens (finally + signal handlers)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_frames(n: int) -> list[np.ndarray]:
    """A camera panning over scikit-image's astronaut: one face, moving ~4 px a frame."""
    from skimage import data

    scene = cv2.resize(np.ascontiguousarray(data.astronaut()[:, :, ::-1]), (800, 800), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(n):
        t = i / max(1, n - 1) * 2 * np.pi
        x = int(80 + 70 * np.sin(t))
        y = int(60 + 40 * np.sin(2 * t))
        frames.append(np.ascontiguousarray(scene[y:y + 480, x:x + 640]))
    return frames


def draw(frame: np.ndarray, boxes_labels: list[tuple[tuple[float, float, float, float], str]]) -> np.ndarray:
    out = frame.copy()
    for (x, y, w, h), label in boxes_labels:
        p0, p1 = (int(x), int(y)), (int(x + w), int(y + h))
        cv2.rectangle(out, p0, p1, (0, 200, 255), 2)
        cv2.putText(out, label, (p0[0], max(12, p0[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 255), 2)
    return out


def tiny_model(tmp: Path) -> Path:
    from trainer.classes import BASIC_CLASSES
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model

    model, _ = create_model("efficientnet-lite0", len(BASIC_CLASSES), pretrained=False)
    card = ModelCard(name="bench-random", backbone="efficientnet-lite0", classes=list(BASIC_CLASSES),
                     input_size=64, mean=[0.5], std=[0.5], preprocessing={"faces": "align"})
    return save_model(model, card, tmp / "bench")[0]


@contextmanager
def paused(pid_file: str | None) -> Iterator[None]:
    """SIGSTOP the process in ``pid_file`` for the block; SIGCONT it on any way out."""
    pid = None
    if pid_file and Path(pid_file).is_file():
        try:
            pid = int(Path(pid_file).read_text().split()[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError, IndexError):
            pid = None
    if pid is None:
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def resume_and_exit(signum, _frame) -> None:
        os.kill(pid, signal.SIGCONT)
        raise SystemExit(128 + signum)

    for s in old:
        signal.signal(s, resume_and_exit)
    os.kill(pid, signal.SIGSTOP)
    print(f"(paused pid {pid})", file=sys.stderr)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        print(f"(resumed pid {pid})", file=sys.stderr)
        for s, h in old.items():
            signal.signal(s, h)


def run(name: str, frames: list[np.ndarray], step: Callable[[np.ndarray], dict], source_fps: float,
        warm: int = 5) -> dict:
    """Feed ``frames`` as a camera running at ``source_fps`` would, processing the newest
    frame each time and dropping the ones that arrived meanwhile (as the GUI's one-slot
    mailbox does); fps is frames processed per second of stream."""
    for f in frames[-warm:]:  # the path is a loop: the last frames lead into the first
        step(f)
    per_frame, indices, boxes = [], [], []
    stages: dict[str, float] = {}
    duration = len(frames) / source_fps
    start = time.perf_counter()
    last = -1
    while True:
        now = time.perf_counter() - start
        if now >= duration:
            break
        index = int(now * source_fps)
        if index == last:  # faster than the camera: wait for its next frame
            time.sleep(max(0.0, (index + 1) / source_fps - now))
            continue
        last = index
        t0 = time.perf_counter()
        parts = step(frames[index])
        per_frame.append((time.perf_counter() - t0) * 1000)
        indices.append(index)
        boxes.append(parts.pop("box"))
        for k, v in parts.items():
            stages[k] = stages.get(k, 0.0) + v
    n = len(per_frame)
    return {"name": name, "fps": n / duration, "mean_ms": float(np.mean(per_frame)),
            "p95_ms": float(np.percentile(per_frame, 95)), "max_ms": float(np.max(per_frame)),
            "indices": indices, "boxes": boxes, **{k: v / n for k, v in stages.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300, help="stream length in frames")
    ap.add_argument("--source-fps", type=float, default=60.0,
                    help="the virtual camera's frame rate (the most any pipeline can show)")
    ap.add_argument("--model", default=None, help="model file (default: the bundled one, else random weights)")
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--detect-every", type=int, default=8)
    ap.add_argument("--detect-max-side", type=int, default=320)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--pause-pid-file", default=None)
    args = ap.parse_args(argv)

    import torch

    from fer_desktop.engine import load_engine
    from trainer.inference.live import LiveConfig
    from trainer.inference.predictor import default_model_path

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="fer-bench-"))
    model = args.model or (str(default_model_path()) if default_model_path().is_file() else str(tiny_model(tmp)))
    engine = load_engine(model, detector=args.detector)
    predictor, classes = engine.predictor, engine.info.classes
    detector, aligner = engine.live.detector, engine.live.aligner
    frames = make_frames(args.frames)

    predictor.tta_flip = False  # as the GUI's live view (the flip is for still images)

    def baseline(frame: np.ndarray) -> dict[str, float]:
        t0 = time.perf_counter()
        faces = detector.detect(frame)
        t1 = time.perf_counter()
        crops = [aligner.align(frame, f) for f in faces]
        t2 = time.perf_counter()
        probs = predictor.predict_crops(crops)
        t3 = time.perf_counter()
        draw(frame, [(f.box, classes[int(np.argmax(p))]) for f, p in zip(faces, probs)])
        t4 = time.perf_counter()
        return {"detect": (t1 - t0) * 1e3, "track": 0.0, "align": (t2 - t1) * 1e3,
                "classify": (t3 - t2) * 1e3, "draw": (t4 - t3) * 1e3, "faces": len(faces),
                "box": faces[0].box if faces else None}

    def live_step(live) -> Callable[[np.ndarray], dict[str, float]]:
        def step(frame: np.ndarray) -> dict[str, float]:
            faces = live.process(frame)
            t = live.timings
            t0 = time.perf_counter()
            draw(frame, [(f.face.box, classes[int(np.argmax(f.smoothed))]) for f in faces])
            return {"detect": t.detect_ms, "track": t.track_ms, "align": t.align_ms, "classify": t.classify_ms,
                    "draw": (time.perf_counter() - t0) * 1e3, "faces": len(faces),
                    "box": faces[0].face.box if faces else None}
        return step

    from trainer.inference.live import LivePipeline

    variants = [
        ("detect every frame, full 640x480 (baseline)", baseline),
        (f"detect every frame, downscaled to {args.detect_max_side}",
         live_step(LivePipeline(detector, aligner, predictor.predict_crops,
                                LiveConfig(detect_every=1, detect_max_side=args.detect_max_side)))),
        (f"tracking: detect every {args.detect_every}, downscaled to {args.detect_max_side}",
         live_step(LivePipeline(detector, aligner, predictor.predict_crops,
                                LiveConfig(detect_every=args.detect_every, detect_max_side=args.detect_max_side)))),
        ("tracking + detection in a background thread (GUI)",
         live_step(async_live := LivePipeline(detector, aligner, predictor.predict_crops,
                                              LiveConfig(detect_every=args.detect_every,
                                                         detect_max_side=args.detect_max_side, async_detect=True)))),
    ]
    rows = []
    try:
        with paused(args.pause_pid_file):
            for name, step in variants:
                rows.append(run(name, frames, step, args.source_fps))
            # The reference for the IoU column: the detector at full resolution on every frame shown.
            needed = sorted({i for r in rows for i in r["indices"]})
            reference = {}
            for i in needed:
                faces = detector.detect(frames[i])
                reference[i] = faces[0].box if faces else None
    finally:
        async_live.close()

    print(f"\nmodel {engine.info.name} ({predictor.card.input_size}px input), "
          f"detector {type(detector).__name__}, device {engine.info.device}, torch threads {torch.get_num_threads()}, "
          f"{args.frames} frames 640x480 from a virtual {args.source_fps:g}-fps camera, {os.cpu_count()} CPUs")
    from trainer.faces.geometry import box_iou

    for r in rows:
        ious = [box_iou(b, reference[i]) if b is not None and reference[i] is not None else 0.0
                for i, b in zip(r["indices"], r["boxes"])]
        r["iou"] = float(np.mean(ious))
    head = (f"{'pipeline':<48} {'fps':>6} {'mean':>6} {'p95':>6} {'max':>6} | {'detect':>6} {'track':>6} "
            f"{'align':>6} {'class.':>6} {'draw':>5} {'faces':>5} {'IoU':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:<48} {r['fps']:6.1f} {r['mean_ms']:6.1f} {r['p95_ms']:6.1f} {r['max_ms']:6.1f} | "
              f"{r['detect']:6.1f} {r['track']:6.1f} {r['align']:6.1f} {r['classify']:6.1f} {r['draw']:5.1f} {r['faces']:5.2f} {r['iou']:5.2f}")
    print("fps: frames shown per second (the rest dropped as stale); mean/p95/max: ms to process one frame; "
          "stage columns: mean ms per frame (async detection runs beside them, not counted);\n"
          "faces: faces shown per frame (1.00 = the face in every frame); IoU: mean overlap of the shown box "
          "with a full-resolution detection of the same frame (0 where none was shown)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
