"""``fer-train``: the engine's command line. Each subcommand lives in ``trainer.commands.<name>``
with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("align", "train", "cascade", "evaluate", "predict", "report", "merge", "compare")


class CliError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


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
    except (CliError, OSError, ValueError, RuntimeError) as exc:
        # Our errors (DataError, ModelLoadError, ImageReadError, ...) derive from these and
        # carry a message meant for the user: no traceback.
        print(f"fer-train {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
