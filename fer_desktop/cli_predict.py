"""``fer-desktop predict IMAGE_OR_FOLDER... [--json]``: faces and probabilities, no window and
no Qt. The same command, options and JSON schema as ``fer-train predict``
(trainer.inference.predict_files; docs/predict-json.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

PROG = "fer-desktop predict"


def build_parser() -> argparse.ArgumentParser:
    from trainer.inference.predict_files import add_predict_args

    p = argparse.ArgumentParser(prog=PROG, description="Find the faces in images and print each one's "
                                "expression probabilities (the same as 'fer-train predict').")
    add_predict_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from trainer.errors import is_user_error, one_line, report_bug
    from trainer.inference.predict_files import run

    try:
        return run(args, PROG)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the user's mistakes in one line, bugs with their traceback
        from trainer.models.card import ModelLoadError

        if is_user_error(exc) or isinstance(exc, ModelLoadError):
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
            return 2
        report_bug(PROG, exc)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
