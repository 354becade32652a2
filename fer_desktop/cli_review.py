"""``fer-desktop review DATA [--split S] [--model M] [--journal J]``: the review window alone
(no webcam, no live model), optionally scripted for docs: ``--screenshot OUT.png`` saves the
window once the predictions are shown, then quits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

# --filter's names for fer_desktop.review.Filter fields
FILTERS = {"wrong": {"correct": False}, "flagged": {"flagged": True}, "relabelled": {"relabelled": True},
           "no-face": {"face": False}, "copies-disagree": {"copies": "disagree"}, "copies-split": {"copies": "split"},
           "unlabelled": {"label": -1}, "unchecked": {"checked": False},
           "checked": {"checked": True}, "all": {}}  # label -1: fer_desktop.review.NONE, not labelled yet
# --order's names for fer_desktop.review.SORTS
ORDERS = {"label-error": "score", "not-a-face": "not_a_face", "confidence": "confidence", "ambiguity": "ambiguity",
          "id": "id"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fer-desktop review",
        description="Browse a model's mistakes on a labelled dataset, rank likely label errors, relabel "
                    "(number keys, undo with Ctrl+Z) and export. Every change goes to a journal at once.")
    p.add_argument("data", help="a FER-2013 csv(.gz), a FER+ csv, a class-folder dataset or a folder of images")
    p.add_argument("--split", help="split(s) to review, '+'-joined (default: all)")
    p.add_argument("--model", help="model file (.safetensors/.json), or a bundled model by name (e.g. paper-fer32-sfew); default: the bundled default model")
    p.add_argument("--journal", help="relabel journal (default: one per dataset in the user's data folder)")
    p.add_argument("--input", choices=("auto", "photo", "crop"),
                   help="what the images are: photo (find the face), crop (face crops: pad, re-align, else as "
                        "they are), auto; default: what the dataset declares (FER-2013, FER+, SFEW: crop)")
    p.add_argument("--every-face", action="store_true",
                   help="one sample a face: every face of the photos (group photos) and of one frame a second of "
                        "the videos, cut once into a folder in your data folder (default: an image is its largest face)")
    p.add_argument("--every", type=float, default=None, metavar="SECONDS",
                   help="with --every-face: one frame of each video every SECONDS (default 1)")
    p.add_argument("--compare", metavar="JOURNAL", nargs="+",
                   help="another annotator's journal beside yours, or a team's (several; their judgement is the "
                        "majority), nothing taken: how far you agree, and the faces you judged differently first "
                        "(Review > Compare With Journal)")
    p.add_argument("--cell", metavar="LABEL:PREDICTED",
                   help="start on one confusion-matrix cell, e.g. angry:neutral (either side may be empty)")
    p.add_argument("--filter", choices=tuple(FILTERS), help="start with this filter")
    p.add_argument("--order", choices=tuple(ORDERS),
                   help="start in this order (default: likely label error first)")
    p.add_argument("--screenshot", metavar="OUT.png", help="save the window once the predictions are shown, then quit")
    p.add_argument("--parts", action="store_true",
                   help="with --screenshot: also OUT-matrix.png, OUT-grid.png and OUT-detail.png")
    p.add_argument("--quit-after-ms", type=int, default=None, metavar="N",
                   help="quit after N ms (with --screenshot: the longest to wait)")
    p.add_argument("--size", metavar="WxH", default=None, help="window size, e.g. 1500x940")
    p.add_argument("--settings", metavar="FILE.ini", help="settings file (default: the user's)")
    p.add_argument("--device", default="auto", help="where the model runs: auto, cpu, cuda")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _cell(text: str | None, classes: tuple[str, ...]) -> tuple[int | None, int | None] | None:
    if not text:
        return None
    from trainer.classes import canonical_class

    label, _, predicted = text.partition(":")
    try:
        return tuple(classes.index(canonical_class(t)) if t.strip() else None for t in (label, predicted))
    except ValueError as exc:
        raise SystemExit(f"fer-desktop review: --cell {text!r}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.every is not None and not (args.every_face and args.every > 0):
        parser.error("--every SECONDS needs --every-face and a positive number")
    data = Path(args.data).expanduser()
    if not data.exists() and not Path(str(data) + ".gz").exists():
        print(f"fer-desktop review: dataset not found: {data}", file=sys.stderr)
        return 2
    from fer_desktop.app import _size, qt_application

    app = qt_application(args.verbose)
    if app is None:
        return 2
    from PySide6.QtCore import QTimer

    from fer_desktop._qt.context import AppContext
    from fer_desktop._qt.errors import set_reporter
    from fer_desktop._qt.settings import open_settings
    from fer_desktop._qt.tools.review.window import ReviewWindow
    from fer_desktop.review import DatasetRequest, Filter

    ctx = AppContext(open_settings(args.settings))
    window = ReviewWindow(ctx, device=args.device)
    ctx.message.connect(lambda text, level: window.banner.show_message(text, level))
    set_reporter(ctx.report)
    size = _size(args.size)
    if size:
        window.resize(*size)
    window.show()
    window.open_dataset(DatasetRequest(args.data, args.split, args.model, args.journal, args.input,
                                       args.every_face, args.every, tuple(args.compare or ())))

    exit_code = {"code": 0}

    def start_view(session) -> None:
        # a --compare journal shows the faces you disagree on; --order, --cell and --filter below win
        if args.order:
            window.filter_bar.set_sort(ORDERS[args.order])
        cell = _cell(args.cell, session.classes)
        if cell is not None:
            window.matrix.click_cell(*cell)
        elif args.filter:
            window.apply_filter(Filter(**FILTERS[args.filter]))

    window.sessionChanged.connect(start_view)
    if args.screenshot:
        out = Path(args.screenshot)

        def take(timed_out: bool) -> None:
            if exit_code.get("taken"):
                return
            if window.detail.originals.busy and not timed_out:  # the detail's photo is on its way
                QTimer.singleShot(100, lambda: take(False))
                return
            exit_code["taken"] = True
            out.parent.mkdir(parents=True, exist_ok=True)
            ok = window.grab().save(str(out), "PNG")
            if ok and args.parts:
                for name, widget in (("matrix", window.matrix), ("grid", window.grid), ("detail", window.detail)):
                    ok &= widget.grab().save(str(out.with_name(f"{out.stem}-{name}.png")), "PNG")
            print(f"fer-desktop review: screenshot {'saved to ' + str(out) if ok else 'FAILED: ' + str(out)}"
                  + (" (timed out before the predictions were shown)" if timed_out else ""), file=sys.stderr)
            exit_code["code"] = 0 if ok and not timed_out else 1
            window.close()
            app.quit()

        def failed(text: str) -> None:
            print(f"fer-desktop review: {text}", file=sys.stderr)
            QTimer.singleShot(300, lambda: take(True))

        window.sessionChanged.connect(lambda _s: QTimer.singleShot(500, lambda: take(False)))
        window.loadFailed.connect(failed)
        QTimer.singleShot(args.quit_after_ms or 600000, lambda: take(True))
    elif args.quit_after_ms is not None:
        QTimer.singleShot(args.quit_after_ms, window.close)

    app.exec()
    window.shutdown()
    set_reporter(None)
    return int(exit_code["code"])
