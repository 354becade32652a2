"""``fer-desktop [--open PATH] [--camera N] [--video FILE] [--model PATH] [--screenshot OUT.png]
[--quit-after-ms N]``: the window, optionally scripted for docs and smoke tests."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fer-desktop",
        description="Facial-expression recognition on images, videos and the webcam. "
                    "'fer-desktop predict IMAGE... --json' predicts without a window; "
                    "'fer-desktop review DATA' reviews a labelled dataset (see 'fer-desktop review --help').",
    )
    # A bare PATH is what a file manager passes (packaging/fer-desktop.desktop: Exec=fer-desktop %f).
    p.add_argument("path", nargs="?", metavar="PATH", help="an image, a folder of images or a video to open")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--open", metavar="PATH", help="an image, a folder of images or a video to open")
    src.add_argument("--video", metavar="FILE", help="a video file to open (paused on its first frame)")
    src.add_argument("--camera", metavar="N", type=int, help="start webcam N")
    p.add_argument("--resolution", metavar="WxH", default=None, help="webcam resolution, e.g. 1280x720")
    p.add_argument("--play", action="store_true", help="start playing the --video/--open video")
    p.add_argument("--input", choices=("auto", "photo", "crop"),
                   help="what opened images are: photo, crop (face crops: re-aligned, else used as they are) or "
                        "auto; default: what their dataset declares (SFEW: crop), else auto; "
                        "File > These Are Face Crops switches it")
    p.add_argument("--model", metavar="PATH", help="model file (.safetensors/.json), or a bundled model by name (e.g. paper-fer32-sfew); default: the bundled default model")
    p.add_argument("--detector", default=None, help="face detector: auto, mtcnn, blazeface, haar, dlib (default: the card's)")
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"),
                   help="where the classifier runs: auto (PyTorch on a GPU, else ONNX Runtime), onnx, torch; "
                        "the status bar shows which")
    p.add_argument("--detect-every", type=int, default=None, metavar="N",
                   help="live view: run the detector every N frames, track in between (default 8)")
    p.add_argument("--sync-detect", action="store_true",
                   help="live view: detect in the inference thread (stalls a frame now and then) "
                        "instead of in a background thread")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="save the window to OUT.png once the first result is shown, then quit")
    p.add_argument("--quit-after-ms", type=int, default=None, metavar="N",
                   help="quit after N ms (with --screenshot: the longest to wait for a result)")
    p.add_argument("--settings", metavar="FILE.ini", help="settings file (default: the user's)")
    p.add_argument("--size", metavar="WxH", default=None, help="window size, e.g. 1400x860")
    p.add_argument("-v", "--verbose", action="store_true")
    from trainer.version import VersionAction

    p.add_argument("--version", action=VersionAction)
    return p


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise SystemExit(f"fer-desktop: expected WxH, got {text!r}") from None


def qt_application(verbose: bool = False):
    """Logging, the display check and the QApplication every window of the app starts with;
    None (after printing what to install) when there is no usable display."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from fer_desktop.display_check import display_problem

    problem = display_problem()  # before Qt, whose own answer is an abort with a misleading message
    if problem:
        print(problem, file=sys.stderr)
        return None
    from PySide6.QtWidgets import QApplication

    from fer_desktop._qt.errors import install_excepthook
    from fer_desktop._qt.icon import app_icon
    from fer_desktop._qt.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setDesktopFileName("fer-desktop")  # Wayland/X11 match the window to packaging/fer-desktop.desktop
    app.setWindowIcon(app_icon())
    install_excepthook()
    return app


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    if not args.verbose:
        # OpenCV prints its own "[ WARN:0] can't open camera by index" lines; the window says it.
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    app = qt_application(args.verbose)
    if app is None:
        return 2

    from PySide6.QtCore import QTimer

    from fer_desktop._qt.errors import set_reporter
    from fer_desktop._qt.main_window import MainWindow
    from fer_desktop._qt.settings import open_settings

    live_options = {"async_detect": not args.sync_detect}
    if args.detect_every:
        live_options["detect_every"] = max(1, args.detect_every)
    window = MainWindow(open_settings(args.settings), model_path=args.model, live_options=live_options,
                        detector=args.detector, backend=args.backend)
    window.input_override = args.input
    # Through a signal: the hook may run in any thread, the message box only in the GUI one.
    set_reporter(window.ctx.report)
    size = _size(args.size)
    if size:
        window.resize(*size)
    window.show()  # at once: the model and detector load in the inference thread

    if args.path and (args.open or args.video or args.camera is not None):
        raise SystemExit("fer-desktop: give PATH or --open/--video/--camera, not both")
    args.open = args.open or args.path
    if args.open:
        window.open_path(args.open)
    elif args.video:
        window.open_video(args.video)
    elif args.camera is not None:
        window.open_camera(args.camera, _size(args.resolution))
    if args.play:
        window.play_when_opened = True

    exit_code = {"code": 0}
    if args.screenshot:
        out = Path(args.screenshot)
        done = {"taken": False}
        # Seconds from main() to the window, to the first frame on it, to the first result with faces.
        moments: dict[str, float] = {"window": time.perf_counter() - started}

        def take(timed_out: bool) -> None:
            if done["taken"]:
                return
            done["taken"] = True
            out.parent.mkdir(parents=True, exist_ok=True)
            ok = window.grab().save(str(out), "PNG")
            print(f"fer-desktop: screenshot {'saved to ' + str(out) if ok else 'FAILED: ' + str(out)}"
                  + (" (timed out before a result was shown)" if timed_out else "")
                  + " (" + ", ".join(f"{k} after {v:.1f} s" for k, v in moments.items()) + ")", file=sys.stderr)
            exit_code["code"] = 0 if ok and not timed_out else 1
            window.close()
            app.quit()

        def take_soon() -> None:  # let the panels and layout settle for a moment before grabbing
            QTimer.singleShot(300, lambda: take(False))

        def on_result(result) -> None:
            # Wait for a result with a model, or one that says none is on its way (the load
            # failed). Read from the result, made in the worker's thread: reading the worker's
            # attributes from here races with it installing a model.
            moments.setdefault("first frame", time.perf_counter() - started)
            if result.model_name is not None:
                moments.setdefault("result", time.perf_counter() - started)
            if result.model_name is not None or not result.model_loading:
                take_soon()

        window.ctx.resultShown.connect(on_result)
        if not (args.open or args.video or args.camera is not None):
            # Nothing to show a result for: the empty window once the model has loaded or failed.
            window.ctx.modelChanged.connect(lambda _info: take_soon())
            window.ctx.modelFailed.connect(lambda _message: take_soon())
        QTimer.singleShot(args.quit_after_ms or 60000, lambda: take(True))
    elif args.quit_after_ms is not None:
        QTimer.singleShot(args.quit_after_ms, window.close)

    app.exec()
    window.shutdown()
    set_reporter(None)
    return exit_code["code"]
