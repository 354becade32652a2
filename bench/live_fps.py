"""Live-view frames per second, end to end, on 640x480 frames with 1, 4 and 8 real faces:
three pipelines on the same frames in the same run, plus the classifier alone per back-end.
Not a test.

    python bench/live_fps.py [--threads 1] [--json] [--faces 1,4,8] [--frames 360]
                             [--backend auto|onnx|torch] [--detector NAME] [--model PATH]
                             [--source-fps 120] [--fer-model PATH] [--pause-pid-file FILE]

Pipelines (each processes the newest frame of a virtual camera and drops the ones that
arrived meanwhile, as the app's one-slot mailbox does; fps = frames shown per second):

* ``detect-every-frame``: detect (on the frame downscaled as the live view does), align,
  classify every face in one batch, draw, on every frame;
* ``tracking``: the app's live pipeline as the app configures it (trainer.inference.live,
  fer_desktop._qt.inference.DEFAULT_LIVE_OPTIONS: detection every 8th frame in a background
  thread, optical flow in between);
* ``fer-peer``: the ``fer`` package's pipeline (Haar + its quantised mini-Xception in LiteRT),
  re-created without TensorFlow in bench/fer_peer.py;
* ``tracking-tta`` (extra): ``tracking`` with the mirror-image average (flip TTA) on.

Frames: bench/synthetic_faces.py (scikit-image's astronaut, matplotlib's Grace Hopper and,
with ../shared/data, SFEW 2.0 Val faces). ``--threads N`` sets torch's, OpenCV's and LiteRT's
threads (default: what each uses in the app: one torch thread on a CPU). ``--json`` prints
one JSON object on stdout (the tables go to stderr). ``--pause-pid-file``: SIGSTOP that
process (a training job sharing the CPUs) for the timed part and SIGCONT it afterwards."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine import MachineLoad  # noqa: E402
from synthetic_faces import FaceStream, face_patches, faces_found  # noqa: E402

PIPELINES = ("detect-every-frame", "tracking", "fer-peer")
EXTRA_PIPELINES = ("tracking-tta",)
SHARED_DATA = REPO.parent / "shared" / "data"


def draw(frame: np.ndarray, boxes_labels: list[tuple[tuple[float, float, float, float], str]]) -> np.ndarray:
    """What the app draws per face (a box and a label), with OpenCV instead of Qt."""
    out = frame.copy()
    for (x, y, w, h), label in boxes_labels:
        p0, p1 = (int(x), int(y)), (int(x + w), int(y + h))
        cv2.rectangle(out, p0, p1, (0, 200, 255), 2)
        cv2.putText(out, label, (p0[0], max(12, p0[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 255), 2)
    return out


def tiny_model(tmp: Path) -> Path:
    """A randomly initialised model, where no bundled one is installed (speed only)."""
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


# --- the engine --------------------------------------------------------------------------------

def load_app_engine(model: str, detector: str | None, backend: str, threads: int | None):
    """The app's engine (fer_desktop.engine.load_engine) with the app's live options; with
    ``threads``, the classifier rebuilt with that many threads (the app uses one)."""
    from fer_desktop._qt.inference import DEFAULT_LIVE_OPTIONS
    from fer_desktop.engine import load_engine
    from trainer.inference.live import LiveConfig

    if "backend" not in inspect.signature(load_engine).parameters:
        raise SystemExit("this checkout's fer_desktop.engine.load_engine takes no backend= "
                         "(trainer/inference/backends.py, issue 12): update it")
    engine = load_engine(model, LiveConfig(**DEFAULT_LIVE_OPTIONS), detector=detector, backend=backend)
    if threads and threads != 1:
        from trainer.inference.backends import create_classifier

        p = engine.predictor
        p.classifier = create_classifier(p.path, p.card, backend, "auto", threads)
    return engine


# --- one pipeline on one stream ---------------------------------------------------------------

Step = Callable[[np.ndarray], dict[str, Any]]


def run(frames: list[np.ndarray], stream: FaceStream, step: Step, source_fps: float, n_frames: int,
        warm: int = 8) -> dict[str, Any]:
    """Feed ``n_frames`` frames of the looped stream as a camera at ``source_fps`` would,
    processing the newest one each time and dropping the rest; fps = frames processed per
    second of stream. ``step`` returns stage times (ms) and "boxes" (the faces it shows)."""
    for f in frames[-warm:]:  # the stream is a loop: these lead into frame 0
        step(f)
    per_frame: list[float] = []
    shown: list[int] = []
    found: list[int] = []
    stages: dict[str, float] = {}
    duration = n_frames / source_fps
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
        frame = frames[index % len(frames)]
        t0 = time.perf_counter()
        parts = step(frame)
        per_frame.append((time.perf_counter() - t0) * 1000)
        boxes = parts.pop("boxes")
        shown.append(len(boxes))
        found.append(faces_found([_Boxed(b) for b in boxes], stream.patch_boxes(index % len(frames))))
        for k, v in parts.items():
            stages[k] = stages.get(k, 0.0) + v
    n = len(per_frame)
    return {"fps": round(n / duration, 2), "p95_ms": round(float(np.percentile(per_frame, 95)), 2),
            "mean_ms": round(float(np.mean(per_frame)), 2), "max_ms": round(float(np.max(per_frame)), 2),
            "frames": n, "faces_shown": round(float(np.mean(shown)), 2),
            "faces_found": round(float(np.mean(found)), 2),
            "stages_ms": {k: round(v / n, 2) for k, v in stages.items()}}


class _Boxed:
    def __init__(self, box) -> None:
        self.box = box


def detect_every_frame(engine) -> Step:
    """Detect (downscaled as the live view does), align, classify, draw: every frame."""
    from trainer.inference.live import LiveConfig, LivePipeline

    live, predictor, classes = engine.live, engine.predictor, engine.info.classes
    sync = LivePipeline(live.detector, live.aligner, predictor.predict_crops,
                        LiveConfig(detect_every=1, detect_max_side=live.config.detect_max_side))

    def step(frame: np.ndarray) -> dict[str, Any]:
        t0 = time.perf_counter()
        faces = sync.detect(frame)
        t1 = time.perf_counter()
        crops = [live.aligner.align(frame, f) for f in faces]
        t2 = time.perf_counter()
        probs = predictor.predict_crops(crops) if crops else np.zeros((0, len(classes)))
        t3 = time.perf_counter()
        draw(frame, [(f.box, classes[int(np.argmax(p))]) for f, p in zip(faces, probs)])
        t4 = time.perf_counter()
        return {"detect": (t1 - t0) * 1e3, "align": (t2 - t1) * 1e3, "classify": (t3 - t2) * 1e3,
                "draw": (t4 - t3) * 1e3, "boxes": [f.box for f in faces]}
    return step


def tracking(engine) -> Step:
    """The app's LivePipeline (engine.live, the app's LiveConfig), then draw."""
    live, classes = engine.live, engine.info.classes
    live.reset()

    def step(frame: np.ndarray) -> dict[str, Any]:
        faces = live.process(frame)
        t = live.timings
        t0 = time.perf_counter()
        draw(frame, [(f.face.box, classes[int(np.argmax(f.smoothed))]) for f in faces])
        return {"detect": t.detect_ms, "track": t.track_ms, "align": t.align_ms, "classify": t.classify_ms,
                "draw": (time.perf_counter() - t0) * 1e3, "boxes": [f.face.box for f in faces]}
    return step


def fer_peer(peer) -> Step:
    def step(frame: np.ndarray) -> dict[str, Any]:
        out = peer.detect_emotions(frame)
        t0 = time.perf_counter()
        draw(frame, [(box, str(int(np.argmax(p)))) for box, p in out])
        return {**peer.timings, "draw": (time.perf_counter() - t0) * 1e3, "boxes": [box for box, _ in out]}
    return step


# --- the classifier alone ---------------------------------------------------------------------

def time_call(fn: Callable[[], Any], min_s: float = 0.6, min_reps: int = 15) -> float:
    """Median ms of ``fn`` over at least ``min_reps`` calls and ``min_s`` seconds (3 warm-ups)."""
    for _ in range(3):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_s:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def classifier_rows(engine, crops: list[np.ndarray], threads: int) -> dict[str, dict[str, float]]:
    """ms per face at batch 1, ms per frame (and per face) at batch 8, with and without flip
    TTA, on every back-end of trainer.inference.backends that runs here (torch-cpu is eager
    PyTorch, float32), fed the same numpy batch of real aligned faces."""
    from trainer.inference.backends import BackendUnavailable, create_classifier, predict_probs, resolve

    predictor = engine.predictor
    batch8 = np.ascontiguousarray(predictor.to_batch((crops * 8)[:8]), dtype=np.float32)
    batch1 = batch8[:1]
    gpu = resolve("torch", "auto")[1] != "cpu"
    wanted = [("onnx", "cpu"), ("torch", "cpu")] + ([("torch", "cuda")] if gpu else [])
    rows: dict[str, dict[str, float]] = {}
    for backend, device in wanted:
        try:
            clf = create_classifier(predictor.path, predictor.card, backend, device, threads)
        except BackendUnavailable as exc:
            print(f"(back-end {backend} on {device}: {exc})", file=sys.stderr)
            continue

        def make(x: np.ndarray, tta: bool, clf=clf) -> Callable[[], Any]:
            return lambda: predict_probs(clf, x, tta)
        rows[clf.name] = _rows(make, batch1, batch8)
        rows[clf.name]["label"] = clf.label
    pre = time_call(lambda: predictor.to_batch((crops * 8)[:8]))
    rows["preprocess (crops_to_batch)"] = {"batch8_ms_per_frame": round(pre, 3), "batch8_ms_per_face": round(pre / 8, 3)}
    return rows


def _rows(make: Callable[[np.ndarray, bool], Callable[[], Any]], batch1: np.ndarray,
          batch8: np.ndarray) -> dict[str, Any]:
    b1 = time_call(make(batch1, False))
    b8 = time_call(make(batch8, False))
    b1_tta = time_call(make(batch1, True))
    b8_tta = time_call(make(batch8, True))
    return {"batch1_ms_per_face": round(b1, 3), "batch8_ms_per_frame": round(b8, 3),
            "batch8_ms_per_face": round(b8 / 8, 3), "batch1_tta_ms_per_face": round(b1_tta, 3),
            "batch8_tta_ms_per_frame": round(b8_tta, 3)}


# --- main -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", default="1,4,8", help="faces per frame, comma-separated")
    ap.add_argument("--frames", type=int, default=360, help="stream length per run, in camera frames")
    ap.add_argument("--source-fps", type=float, default=120.0,
                    help="the virtual camera's frame rate (the most any pipeline can show)")
    ap.add_argument("--model", default=None, help="model file (default: the bundled one, else random weights)")
    ap.add_argument("--detector", default=None, help="face detector (default: the model card's, as the app)")
    ap.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for torch, OpenCV and LiteRT (default: as in the app)")
    ap.add_argument("--pipelines", default=",".join(PIPELINES + EXTRA_PIPELINES))
    ap.add_argument("--no-classifier", action="store_true", help="skip the classifier-only rows")
    ap.add_argument("--no-sfew", action="store_true", help="built-in faces only, even with ../shared/data")
    ap.add_argument("--fer-model", default=None, help="fer's emotion_model_quantized.tflite")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--pause-pid-file", default=None)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = sys.stderr if args.json else sys.stdout
    counts = [int(c) for c in args.faces.split(",") if c.strip()]
    wanted = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    unknown = set(wanted) - set(PIPELINES + EXTRA_PIPELINES)
    if unknown:
        raise SystemExit(f"unknown pipeline(s): {', '.join(sorted(unknown))}")

    import torch

    from trainer.inference.bundled import default_model_path

    tmp = Path(tempfile.mkdtemp(prefix="fer-bench-"))
    model = args.model or (str(default_model_path()) if default_model_path().is_file() else str(tiny_model(tmp)))
    engine = load_app_engine(model, args.detector, args.backend, args.threads)
    if args.threads:
        torch.set_num_threads(args.threads)  # load_engine set 1 on a CPU, as the app runs
        cv2.setNumThreads(args.threads)
    engine.predictor.tta_flip = False  # as the app's live view (flip_live = False)
    peer = None
    if "fer-peer" in wanted:
        from fer_peer import FerPeer, find_fer_model

        peer = FerPeer(find_fer_model(args.fer_model), threads=args.threads)
    detector = engine.live.detector
    patches = face_patches(None if args.no_sfew else SHARED_DATA, detector)

    result: dict[str, Any] = {"pipelines": {p: {} for p in wanted if p in PIPELINES},
                              "extra_pipelines": {p: {} for p in wanted if p in EXTRA_PIPELINES},
                              "backend": engine.predictor.backend_name,
                              "detector": getattr(detector, "name", type(detector).__name__),
                              "model": engine.info.name, "input_size": engine.predictor.card.input_size,
                              "device": engine.info.device, "torch_threads": torch.get_num_threads(),
                              "opencv_threads": cv2.getNumThreads(), "threads_arg": args.threads,
                              "source_fps": args.source_fps, "frames_per_run": args.frames,
                              "frame_size": [640, 480], "face_sources": len(patches),
                              "live_config": {k: getattr(engine.live.config, k)
                                              for k in ("detect_every", "detect_max_side", "async_detect")}}
    makers: dict[str, Callable[[], Step]] = {
        "detect-every-frame": lambda: detect_every_frame(engine),
        "tracking": lambda: tracking(engine),
        "fer-peer": lambda: fer_peer(peer),
        "tracking-tta": lambda: tracking(engine),
    }
    try:
        with paused(args.pause_pid_file), MachineLoad() as load:
            crops: list[np.ndarray] = []
            for n in counts:
                stream = FaceStream(patches, n, fps=args.source_fps)
                frames = stream.frames()
                if not crops:
                    crops = [engine.live.aligner.align(frames[0], f) for f in detector.detect(frames[0])]
                for name in wanted:
                    engine.predictor.tta_flip = name == "tracking-tta"
                    row = run(frames, stream, makers[name](), args.source_fps, args.frames)
                    engine.predictor.tta_flip = False
                    table = "pipelines" if name in PIPELINES else "extra_pipelines"
                    result[table][name][str(n)] = row
                    print(f"{name:<20} {n} face(s): {row['fps']:6.1f} fps, p95 {row['p95_ms']:6.1f} ms, "
                          f"faces found {row['faces_found']:.2f}/{n}", file=log, flush=True)
                del frames
            if not args.no_classifier:
                if len(crops) < 8:
                    stream = FaceStream(patches, 8, fps=args.source_fps)
                    frame = stream.frame(0)
                    crops = [engine.live.aligner.align(frame, f) for f in detector.detect(frame)] or crops
                result["classifier"] = classifier_rows(engine, crops, args.threads or 1)
    finally:
        engine.live.close()
    result["machine"] = load.summary()
    add_ratios(result)
    report(result, log)
    if args.json:
        print(json.dumps(result))
    return 0


def add_ratios(result: dict[str, Any]) -> None:
    """fps ratios against the fer pipeline in the same run, and the classifier's speed-up
    over eager PyTorch."""
    pipes = result["pipelines"]
    ratios: dict[str, Any] = {}
    if "fer-peer" in pipes:
        for name in ("detect-every-frame", "tracking"):
            if name in pipes:
                ratios[f"{name}/fer-peer"] = {n: round(pipes[name][n]["fps"] / pipes["fer-peer"][n]["fps"], 2)
                                              for n in pipes[name] if n in pipes["fer-peer"]
                                              and pipes["fer-peer"][n]["fps"] > 0}
    clf = result.get("classifier")
    if clf and "torch-cpu" in clf:
        eager = clf["torch-cpu"]
        ratios["eager-torch/back-end"] = {
            name: {"batch1": round(eager["batch1_ms_per_face"] / r["batch1_ms_per_face"], 2),
                   "batch8": round(eager["batch8_ms_per_frame"] / r["batch8_ms_per_frame"], 2)}
            for name, r in clf.items() if name != "torch-cpu" and "batch1_ms_per_face" in r}
    result["ratios"] = ratios


def report(result: dict[str, Any], out) -> None:
    m = result["machine"]
    print(f"\nmodel {result['model']} ({result['input_size']} px), back-end {result['backend']}, detector "
          f"{result['detector']}, {result['device']}, torch threads {result['torch_threads']}, OpenCV threads "
          f"{result['opencv_threads']}; 640x480 frames from a virtual {result['source_fps']:g}-fps camera, "
          f"{result['frames_per_run']} frames a run; {MachineLoad.describe(m)}", file=out)
    head = f"{'pipeline':<20} {'faces':>5} {'fps':>6} {'mean':>6} {'p95':>6} {'found':>5} | stage ms per frame"
    print(head + "\n" + "-" * len(head), file=out)
    for table in ("pipelines", "extra_pipelines"):
        for name, by_n in result[table].items():
            for n, r in by_n.items():
                stages = " ".join(f"{k} {v:.1f}" for k, v in r["stages_ms"].items())
                print(f"{name:<20} {n:>5} {r['fps']:6.1f} {r['mean_ms']:6.1f} {r['p95_ms']:6.1f} "
                      f"{r['faces_found']:5.2f} | {stages}", file=out)
    print("fps: frames shown per second (the rest dropped as stale); mean/p95: ms to process one frame; found: "
          "faces per frame whose box lies on a pasted face (none counted twice); tracking's detection runs in "
          "a background thread (not in its stage times)", file=out)
    if result.get("classifier"):
        print(f"\n{'classifier':<22} {'b1 ms/face':>10} {'b8 ms/frame':>11} {'b8 ms/face':>10} "
              f"{'b1 tta':>7} {'b8 tta':>7}", file=out)
        for name, r in result["classifier"].items():
            if "batch1_ms_per_face" not in r:
                print(f"{name:<22} {'':>10} {r['batch8_ms_per_frame']:11.2f} {r['batch8_ms_per_face']:10.2f}", file=out)
                continue
            print(f"{name:<22} {r['batch1_ms_per_face']:10.2f} {r['batch8_ms_per_frame']:11.2f} "
                  f"{r['batch8_ms_per_face']:10.2f} {r['batch1_tta_ms_per_face']:7.2f} "
                  f"{r['batch8_tta_ms_per_frame']:7.2f}", file=out)
        print(f"(torch-cpu is eager PyTorch; the app's back-end here: {result['backend']})", file=out)
    for name, r in result.get("ratios", {}).items():
        print(f"ratio {name}: {r}", file=out)


if __name__ == "__main__":
    raise SystemExit(main())
