"""What a face costs each model, as the app runs it: ``Predictor.predict_crops`` (flip TTA and
the card's test views, ONNX Runtime on a CPU, one thread) on 1, 4 and 8 aligned crops of real
faces, median of repeated calls, every model in the same run; the first model is the baseline
the ratios are against.

    python bench/model_cost.py default fer2013-labels paper-fer32-sfew
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer.inference.predictor import Predictor  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: sessions and caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)
    from skimage import data

    base = None
    for name in args.models:
        predictor = Predictor.from_path(name, threads=1)
        crops = [f.crop for f in predictor.predict_image(data.astronaut()[:, :, ::-1].copy())]
        if not crops:
            raise SystemExit(f"{name}: no face found in the astronaut")
        row = []
        for n in (1, 4, 8):
            batch = [crops[0]] * n
            ms = median_ms(lambda: predictor.predict_crops(batch), args.repeats)
            row.append(ms / n)
        base = base or row
        cells = "  ".join(f"{n} faces {ms:6.2f} ms/face ({ms / b:.1f}x)" for n, ms, b in zip((1, 4, 8), row, base))
        views = len(predictor.card.test_views)
        print(f"{name:18s} {predictor.backend_name:28s} test views {views}  {cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
