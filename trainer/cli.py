"""``fer-train``: the engine's command line. Each subcommand lives in ``trainer.commands.<name>``
with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

from trainer.errors import is_user_error, one_line, report_bug

COMMANDS = ("align", "train", "cascade", "evaluate", "predict", "report", "merge", "compare", "issues")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer-train", description="fer-desktop's trainer: faces, training, evaluation")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"trainer.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"trainer.commands.{args.command}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("fer-train: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - sorted into the user's mistakes and our bugs
        # A user's mistake (trainer.errors.UserError: DataError, ModelLoadError ...; a full
        # disk) is one line; anything else is a bug and keeps its traceback.
        if is_user_error(exc):
            print(f"fer-train {args.command}: error: {one_line(exc)}", file=sys.stderr)
            return 2
        report_bug(f"fer-train {args.command}", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
