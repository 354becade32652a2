"""``fer-desktop``: the window; ``fer-desktop predict IMAGE... --json``: no window;
``fer-desktop review DATA``: the review window alone."""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if getattr(sys, "frozen", False) and argv[:2] == ["-m", "trainer.cli"]:
        # A PyInstaller bundle has no Python for `python -m trainer.cli ...`, which the app
        # runs for training (sys.executable is the bundle): the bundle runs the trainer itself.
        from trainer.cli import main as trainer_main

        return trainer_main(argv[2:])
    if argv and argv[0] == "predict":
        from fer_desktop.cli_predict import main as predict_main

        return predict_main(argv[1:])
    if argv and argv[0] == "review":
        from fer_desktop.cli_review import main as review_main

        return review_main(argv[1:])
    from fer_desktop.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
