"""Frames per second of the review grid while scrolling through FER-2013's 35,887 faces.

Each frame moves the scroll bar and repaints the grid synchronously (``repaint()``): the time
to show a frame is the real layout + paint of every visible tile. A paint draws new tiles for
at most 8 ms and leaves grey squares for the rest, which the next paints fill: the bench also
reports when every tile in sight was drawn.
Three passes: *cold* (scrolling down, every tile new), *warm* (back up over the last
screens, tiles cached) and *jumps* (random positions: a full screen of new tiles per frame,
the worst case, like dragging the scroll bar).

    python bench/review_grid.py                       # ../shared/data FER-2013 when present
    python bench/review_grid.py --generated 35887     # generated faces of that count

The model's probabilities come from the prediction cache when this model already ran over
FER-2013 (``fer-desktop review``); else random ones (they change the text, not the paint cost).
Runs offscreen (QT_QPA_PLATFORM=offscreen) unless a display is set explicitly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fer_samples(limit: int | None):
    from trainer.data.datasets import DataSpec, LoadOptions, available_splits, default_data_root, load_samples

    path = default_data_root() / "fer2013" / "fer2013.csv.gz"
    if not path.is_file():
        return None
    return load_samples(DataSpec(path, tuple(available_splits(path))), LoadOptions(limit=limit)), str(path)


def generated_samples(n: int):
    from trainer.classes import BASIC_CLASSES
    from trainer.data.samples import SampleSet
    from trainer.data.synthetic import pattern_set

    images, labels = pattern_set(n, len(BASIC_CLASSES), 48, seed=0)
    return SampleSet(ids=[f"gen:{i}" for i in range(n)], images=images, labels=labels, classes=BASIC_CLASSES,
                     name="generated/all", meta={"dataset": "generated"}), ""


def predictions_for(samples, source: str):
    """The cached pass of the bundled model when there is one, else random probabilities."""
    from trainer.evaluation.predictions import Predictions, cache_path

    if source:
        try:
            from trainer.data.datasets import DataSpec, available_splits
            from trainer.inference.bundled import default_model_path

            spec = DataSpec(Path(source), tuple(available_splits(source)))
            where = cache_path(default_model_path(), str(spec), samples.meta.get("preprocessing"), samples=samples,
                               tta_flip=True, embeddings=True)
            if where.is_file():
                return Predictions.load(where), "the bundled model's cached predictions"
        except Exception as exc:  # noqa: BLE001 - a benchmark: fall back and say so
            print(f"(no cached predictions: {exc})")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(samples.classes)) * 0.5, size=len(samples)).astype(np.float32)
    return Predictions(ids=list(samples.ids), labels=samples.labels, probs=probs, classes=samples.classes), \
        "random probabilities"


def measure(grid, positions: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Per frame: the time to show it (scroll + synchronous repaint), and the time until every
    tile in sight is drawn (tiles over the paint budget come as grey squares first and are
    filled by the paints that follow). Returns (shown, complete, frames with placeholders)."""
    from PySide6.QtWidgets import QApplication

    bar = grid.verticalScrollBar()
    shown, complete = [], []
    before = grid.deferred_paints
    for v in positions:
        t = time.perf_counter()
        bar.setValue(v)
        grid.viewport().repaint()
        shown.append(time.perf_counter() - t)
        while grid.last_deferred:  # the follow-up paints (queued by the grid) fill the grey squares
            grid.viewport().repaint()
        complete.append(time.perf_counter() - t)
        QApplication.processEvents()
    return np.array(shown), np.array(complete), _frames_with_placeholders(grid, before, len(positions))


def _frames_with_placeholders(grid, before: int, frames: int) -> int:
    return min(frames, grid.deferred_paints - before)


def report(name: str, result: tuple[np.ndarray, np.ndarray, int]) -> str:
    shown, complete, deferred = result
    ms, full = 1000 * shown, 1000 * complete
    return (f"{name:<6} {len(shown)} frames: {len(shown) / shown.sum():5.0f} fps shown "
            f"(mean {ms.mean():.1f} ms, p95 {np.percentile(ms, 95):.1f} ms); "
            f"every tile drawn after {full.mean():.1f} ms (p95 {np.percentile(full, 95):.1f}); "
            f"{deferred} frames with grey squares first")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generated", type=int, default=0, metavar="N", help="generated faces instead of FER-2013")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--size", default="1100x800", help="grid size WxH")
    p.add_argument("--single-pass", action="store_true", help="lay the grid out in one pass (Qt's default)")
    args = p.parse_args()

    from PySide6.QtWidgets import QApplication

    from fer_desktop._qt.tools.review.grid import SampleGrid
    from fer_desktop.review import ReviewSession
    from trainer.evaluation.label_quality import IssueScores

    app = QApplication.instance() or QApplication([])
    t = time.perf_counter()
    loaded = None if args.generated else fer_samples(None)
    samples, source = loaded if loaded is not None else generated_samples(args.generated or 35887)
    preds, what = predictions_for(samples, source)
    from trainer.evaluation.label_quality import label_quality_scores

    scores = label_quality_scores(samples.labels, preds.probs)
    issues = IssueScores(scores, scores < 0.1, np.zeros(len(samples), bool), "self_confidence")
    import tempfile

    session = ReviewSession(samples, Path(tempfile.mkdtemp()) / "journal.jsonl", predictions=preds, issues=issues)
    print(f"{samples.name}: {len(samples):,} faces ({what}); loaded in {time.perf_counter() - t:.1f} s")

    w, h = (int(v) for v in args.size.split("x"))
    grid = SampleGrid()
    if args.single_pass:
        from PySide6.QtWidgets import QListView

        grid.setLayoutMode(QListView.LayoutMode.SinglePass)
    grid.resize(w, h)
    grid.show()
    grid.set_session(session)
    t = time.perf_counter()
    grid.set_order(session.view(sort="score"))
    app.processEvents()
    grid.viewport().repaint()
    shown = time.perf_counter() - t
    bar = grid.verticalScrollBar()
    steady, last = 0, -1
    while steady < 20:  # the batched layout goes on between events until the scroll range stops growing
        app.processEvents()
        steady = steady + 1 if bar.maximum() == last else 0
        last = bar.maximum()
    print(f"grid of {grid.grid_model.rowCount():,} tiles: first screen shown in {1000 * shown:.0f} ms, "
          f"all laid out in {1000 * (time.perf_counter() - t):.0f} ms; {w}x{h} px")
    row = grid.cache.tile.height() + 2 * grid.spacing()
    step = row // 2  # half a row per frame: 30 rows a second at 60 fps
    down = [min(bar.maximum(), k * step) for k in range(1, args.frames + 1)]
    cold = measure(grid, down)
    back = down[::-1][: min(len(down), 60)]  # scrolling back up over tiles just seen
    warm = measure(grid, back)
    rng = np.random.default_rng(0)
    jumps = measure(grid, rng.integers(0, bar.maximum(), size=args.frames // 3).tolist())
    print(report("cold", cold))
    print(report("warm", warm))
    print(report("jumps", jumps))
    print(f"tiles drawn: {grid.cache.made:,}; scroll range {bar.maximum():,} px; "
          f"{os.cpu_count()} CPUs, Qt platform {app.platformName()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
