"""Benchmark the face detector back-ends; prints a markdown table (docs/detectors.md).

    python bench/detectors.py --data ../shared/data/sfew2            # rates + timing
    python bench/detectors.py --data ../shared/data/sfew2 --no-timing
    python bench/detectors.py --timing-only --runs 30
    python bench/detectors.py --data ../shared/data/sfew2 --threads 1   # every back-end on one thread
    python bench/detectors.py --data ../shared/data/sfew2 --calibrate  # aligner/Haar constants
    python bench/detectors.py --data ../shared/data/sfew2 --rotation   # tilt refinement
    python bench/detectors.py --data ../shared/data/sfew2 --eye-precision   # eyes against dlib's

Measured per back-end:
- detection rate on the SFEW 2.0 Val crops (431 PNGs, tight 143x181 crops) as they are,
  and with a black border of ``--border`` (40%) of the crop's width/height on each side
  (what FacePipeline.process_crop does); "both eyes" = a face found on the bordered crop
  whose eyes were measured (landmarks or eye cascade), not guessed from the box;
- the same on the Val crops that hold a face (405: those not in sfew2/all-black.txt or
  sfew2/not-a-face.txt);
- false positives: faces reported on 17 face-free images shipped with scikit-image;
- time per 640x480 frame with one face (scikit-image's astronaut scaled to 480x480 on a
  grey canvas): median over ``--runs`` runs after warm-up, detection alone and with the
  alignment of every face.

``--rotation``: every 6th Val crop (bordered) is rotated by -20, -15, 15 and 20 degrees; the
eyes a back-end finds are compared with its own eyes on the unrotated crop carried through
the rotation (roll error in degrees, eye error in e2e), with and without FacePipeline's
refinement of tilted faces.

``--eye-precision``: on the bordered Val crops, each back-end's eyes against the eye centres
of dlib's 68-point model (the mean of each eye's 6 contour points; the most precise eyes
here), on the faces every back-end and dlib found: mean and median distance in e2e.

Back-end options can be given as ``NAME:key=value,key=value`` (e.g. ``haar:scale_factor=1.2``).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.faces import FaceAligner, available_detectors, create_detector, read_image  # noqa: E402
from trainer.faces.detectors import canonical_name  # noqa: E402
from trainer.faces.geometry import rotate_padded  # noqa: E402

CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
FACE_FREE = ("coffee", "chelsea", "rocket", "coins", "moon", "page", "horse", "hubble_deep_field",
             "immunohistochemistry", "retina", "brick", "grass", "gravel", "clock", "text", "colorwheel", "cell")


def parse_spec(spec: str) -> tuple[str, dict]:
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return name, options


def sfew_images(root: Path, split: str) -> list[tuple[str, np.ndarray]]:
    files = sorted(p for c in CLASSES for p in (root / split / c).glob("*.png"))
    if not files:
        raise SystemExit(f"no SFEW images under {root / split}/<Class>/*.png (see ../shared/data/README.md)")
    return [(f"{split}/{p.parent.name}/{p.name}", read_image(p)) for p in files]


def border(image: np.ndarray, fraction: float) -> np.ndarray:
    h, w = image.shape[:2]
    px, py = int(round(fraction * w)), int(round(fraction * h))
    return cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_CONSTANT, value=0)


def face_free_images() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in FACE_FREE:
        img = np.asarray(getattr(data, name)())
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        out.append(np.ascontiguousarray(img[:, :, 2::-1]) if img.ndim == 3 else img)
    return out


def frame_640x480() -> np.ndarray:
    from skimage import data

    face = cv2.resize(np.ascontiguousarray(data.astronaut()[:, :, ::-1]), (480, 480), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[:, 80:560] = face
    return canvas


def set_threads(n: int, specs: list[str]) -> None:
    """One thread count for the libraries the back-ends run on (dlib's HOG is single-threaded;
    LiteRT's count is the blazeface back-end's num_threads option)."""
    cv2.setNumThreads(n)
    if any(canonical_name(parse_spec(s)[0]) in ("mtcnn", "face-alignment") for s in specs):
        import torch

        torch.set_num_threads(n)


def rates(detector, images, real: set[str], border_frac: float, free: list[np.ndarray]) -> dict:
    n = len(images)
    as_is = bordered = eyes = real_bordered = 0
    for key, img in images:
        as_is += bool(detector.detect(img))
        faces = detector.detect(border(img, border_frac))
        bordered += bool(faces)
        eyes += bool(faces) and faces[0].eye_source != "prior"
        real_bordered += bool(faces) and key in real
    fp = sum(len(detector.detect(img)) for img in free)
    return {"n": n, "as_is": as_is / n, "bordered": bordered / n, "eyes": eyes / n,
            "real": real_bordered / max(1, len(real)), "n_real": len(real), "fp": fp, "n_free": len(free)}


def timing(detector, runs: int) -> dict:
    frame = frame_640x480()
    aligner = FaceAligner()
    for _ in range(3):
        detector.detect(frame)
    det, full = [], []
    found = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        faces = detector.detect(frame)
        t1 = time.perf_counter()
        for f in faces:
            aligner.align(frame, f)
        t2 = time.perf_counter()
        det.append(t1 - t0)
        full.append(t2 - t0)
        found += bool(faces)
    return {"ms": 1000 * float(np.median(det)), "ms_align": 1000 * float(np.median(full)), "found": found / runs}


def calibrate(images: list[tuple[str, np.ndarray]], border_frac: float) -> None:
    """Constants used by the face package, measured: the eye-corner ratio for the aligner
    (dlib 68 points), the Haar boxes' eye priors (MTCNN's eyes in Haar boxes), and how close
    each Haar eye source (cascade, dlib 5 points, priors) comes to MTCNN's eyes."""
    from trainer.faces.detectors.haar import HaarDetector

    dlib68 = create_detector("dlib", landmarks=68)
    mtcnn = create_detector("mtcnn")
    haar = HaarDetector(eyes="cascade")
    ratios, rel = [], {"frontal": [], "profile-left": [], "profile-right": []}
    err = {"cascade": [], "landmarks": [], "prior": []}
    haar_prior = HaarDetector(eyes="prior")
    from trainer.faces.detectors.dlib_backend import DlibLandmarker

    landmarker = DlibLandmarker(5)
    for _, img in images:
        img = border(img, border_frac)
        for f in dlib68.detect(img)[:1]:
            pts, e2e = f.landmarks, f.eye_distance()
            ratios += [np.hypot(*(pts[36] - f.left_eye)) / e2e, np.hypot(*(pts[45] - f.right_eye)) / e2e]
        ref = mtcnn.detect(img)
        if not ref:
            continue
        ref = ref[0]
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        for box, _, kind in haar.raw_boxes(cv2.equalizeHist(grey)):
            x, y, w, h = box
            cx, cy = ref.box[0] + ref.box[2] / 2, ref.box[1] + ref.box[3] / 2
            if not (x <= cx <= x + w and y <= cy <= y + h):
                continue
            rel[kind].append(((ref.left_eye[0] + 0.5 - x) / w, (ref.left_eye[1] + 0.5 - y) / h,
                              (ref.right_eye[0] + 0.5 - x) / w, (ref.right_eye[1] + 0.5 - y) / h))
        # The three eye sources of the Haar back-end, on the same (largest) Haar box.
        e2e = ref.eye_distance()
        top = haar_prior.detect(img)[:1]
        if top:
            box = top[0].box
            cx, cy = ref.box[0] + ref.box[2] / 2, ref.box[1] + ref.box[3] / 2
            if box[0] <= cx <= box[0] + box[2] and box[1] <= cy <= box[1] + box[3]:
                pair = haar._eye_pair(cv2.equalizeHist(grey), np.array(box))
                if pair is not None:
                    lm = landmarker(grey, box)
                    for name, (le, re) in (("cascade", pair), ("landmarks", (lm.left_eye, lm.right_eye)),
                                           ("prior", (top[0].left_eye, top[0].right_eye))):
                        d = (np.hypot(le[0] - ref.left_eye[0], le[1] - ref.left_eye[1])
                             + np.hypot(re[0] - ref.right_eye[0], re[1] - ref.right_eye[1])) / 2
                        err[name].append(d / e2e)
    r = np.array(ratios)
    print(f"eye corner / e2e (dlib 68, {len(r) // 2} faces): median {np.median(r):.3f}, "
          f"IQR {np.percentile(r, 25):.3f}-{np.percentile(r, 75):.3f}")
    for kind, rows in rel.items():
        if rows:
            m = np.median(np.array(rows), axis=0)
            print(f"Haar {kind} eye prior (x_l, y_l, x_r, y_r as box fractions, {len(rows)} faces): "
                  + ", ".join(f"{v:.3f}" for v in m))
    for name, e in err.items():
        if e:
            print(f"Haar eyes from {name}: mean distance to MTCNN's {np.mean(e):.3f} e2e, median "
                  f"{np.median(e):.3f} (the {len(e)} faces where the eye cascade found a pair)")


def rotation(images: list[tuple[str, np.ndarray]], specs: list[str], border_frac: float) -> None:
    from trainer.faces import FacePipeline

    print("| detector | refinement | faces | roll error, mean | median | 90th pct | eye error / e2e |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for spec in specs:
        name, options = parse_spec(spec)
        det = create_detector(name, **options)
        pipes = {"off": FacePipeline(det, refine_angle=None), "on (10 degrees)": FacePipeline(det)}
        res: dict[str, list] = {k: [] for k in pipes}
        for _, img in images[::6]:
            img = border(img, border_frac)
            ref = det.detect(img)
            if not ref:
                continue
            ref = ref[0]
            e2e = ref.eye_distance()
            for deg in (-20, -15, 15, 20):
                rot, m = rotate_padded(img, deg)
                true = np.array([[*ref.left_eye, 1.0], [*ref.right_eye, 1.0]]) @ m.T
                true_angle = np.degrees(np.arctan2(*(true[1] - true[0])[::-1]))
                row = {}
                for k, p in pipes.items():
                    faces = p.detect(rot)
                    if not faces:
                        break
                    g = min(faces, key=lambda q: np.hypot(*(np.array(q.left_eye) - true[0])))
                    eyes = np.array([g.left_eye, g.right_eye])
                    if np.abs(eyes - true).max() > e2e:  # another face, or lost
                        break
                    row[k] = (abs(g.eye_angle() - true_angle), np.linalg.norm(eyes - true, axis=1).mean() / e2e)
                else:  # only rotations every variant found count, so they are compared on the same faces
                    for k in pipes:
                        res[k].append(row[k])
        for k, r in res.items():
            r = np.array(r).reshape(-1, 2)
            print(f"| {spec} | {k} | {len(r)} | {r[:, 0].mean():.2f} | {np.median(r[:, 0]):.2f} | "
                  f"{np.percentile(r[:, 0], 90):.2f} | {r[:, 1].mean():.3f} |")


def eye_precision(images: list[tuple[str, np.ndarray]], specs: list[str], border_frac: float) -> None:
    reference = create_detector("dlib", landmarks=68)
    detectors = {spec: create_detector(name, **options) for spec, (name, options) in
                 ((spec, parse_spec(spec)) for spec in specs)}
    errors: dict[str, list[float]] = {spec: [] for spec in specs}
    for _, img in images:
        img = border(img, border_frac)
        ref = reference.detect(img)[:1]
        if not ref:
            continue
        truth, e2e = np.array([ref[0].left_eye, ref[0].right_eye]), ref[0].eye_distance()
        found = {spec: det.detect(img)[:1] for spec, det in detectors.items()}
        if not all(found.values()):
            continue
        for spec, (face,) in found.items():
            eyes = np.array([face.left_eye, face.right_eye])
            errors[spec].append(float(np.linalg.norm(eyes - truth, axis=1).mean() / e2e))
    print("| detector | faces | eye error / e2e, mean | median | 90th pct |")
    print("|---|---:|---:|---:|---:|")
    for spec, e in errors.items():
        print(f"| {spec} | {len(e)} | {np.mean(e):.3f} | {np.median(e):.3f} | {np.percentile(e, 90):.3f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "sfew2",
                    help="the SFEW 2.0 folder (default ../shared/data/sfew2)")
    ap.add_argument("--split", default="Val")
    ap.add_argument("--detectors", nargs="*", default=None,
                    help="back-ends (NAME or NAME:key=value,...); default: every one available")
    ap.add_argument("--border", type=float, default=0.4, help="black border per side, fraction of the crop size")
    ap.add_argument("--runs", type=int, default=30, help="timing runs per back-end")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images (quick checks)")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads for every back-end (OpenCV, torch, LiteRT); 0: each library's default")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--timing-only", action="store_true")
    ap.add_argument("--calibrate", action="store_true", help="print the measured aligner/Haar constants and exit")
    ap.add_argument("--rotation", action="store_true", help="measure the tilt refinement (table) and exit")
    ap.add_argument("--eye-precision", action="store_true", help="eyes against dlib's 68-point eye centres, and exit")
    args = ap.parse_args(argv)

    if args.calibrate:
        images = sfew_images(args.data, args.split)
        calibrate(images[: args.limit] if args.limit else images, args.border)
        return 0
    avail = available_detectors()
    specs = args.detectors or [n for n, why in avail.items() if why is None and n != "auto"]
    if args.rotation or args.eye_precision:
        images = sfew_images(args.data, args.split)
        (rotation if args.rotation else eye_precision)(images[: args.limit] if args.limit else images, specs,
                                                       args.border)
        return 0
    for n, why in avail.items():
        if why is not None:
            print(f"<!-- {n} not measured: {why} -->")
    images, real, free = [], set(), []
    if not args.timing_only:
        images = sfew_images(args.data, args.split)
        if args.limit:
            images = images[: args.limit]
        skip = set()
        for list_name in ("all-black.txt", "not-a-face.txt"):
            f = args.data / list_name
            if f.is_file():
                skip |= {line.strip() for line in f.read_text().splitlines() if line.strip()}
        real = {k for k, _ in images if k not in skip}
        free = face_free_images()

    if args.threads:
        set_threads(args.threads, specs)
    rows = []
    for spec in specs:
        name, options = parse_spec(spec)
        if args.threads and canonical_name(name) == "blazeface":
            options.setdefault("num_threads", args.threads)
        detector = create_detector(name, **options)
        row = {"name": spec}
        if not args.timing_only:
            row.update(rates(detector, images, real, args.border, free))
        if not args.no_timing:
            row.update(timing(detector, args.runs))
        rows.append(row)
        print(f"<!-- {spec}: {row} -->", file=sys.stderr)

    pct = int(round(100 * args.border))
    head, rule = ["detector"], ["---"]
    if not args.timing_only:
        n, nr, nf = rows[0]["n"], rows[0]["n_real"], rows[0]["n_free"]
        head += [f"found, as is ({n})", f"found, {pct}% border", "both eyes measured, border",
                 f"found, border, real faces ({nr})", f"false positives ({nf} face-free images)"]
        rule += ["---:"] * 5
    if not args.no_timing:
        head += ["ms / 640x480 frame", "ms with alignment"]
        rule += ["---:"] * 2
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(rule) + " |")
    for r in rows:
        cells = [r["name"]]
        if not args.timing_only:
            cells += [f"{100 * r['as_is']:.1f}%", f"{100 * r['bordered']:.1f}%", f"{100 * r['eyes']:.1f}%",
                      f"{100 * r['real']:.1f}%", str(r["fp"])]
        if not args.no_timing:
            cells += [f"{r['ms']:.1f}", f"{r['ms_align']:.1f}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
