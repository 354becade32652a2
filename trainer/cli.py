"""``fer-train``: the engine's command line. Each subcommand lives in ``trainer.commands.<name>``
with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from trainer.errors import is_user_error, one_line, report_bug
from trainer.version import VersionAction

COMMANDS = ("align", "train", "cascade", "evaluate", "predict", "report", "merge", "compare", "issues", "export",
            "agreement")
# What ``fer-train --help`` lists, without importing every command's module (their imports
# cost seconds together); each must equal the help its module gives (tests/test_startup.py).
# A command missing here is imported to build its help.
SUMMARIES = {
    "align": "detect, align and crop faces (Ng et al. 2015 crops)",
    "train": "train one stage (fine-tune a backbone on a dataset)",
    "cascade": "run a multi-stage fine-tuning from a TOML config",
    "evaluate": "evaluate a model on a labelled dataset",
    "predict": "detect faces in images and predict their expressions",
    "report": "summarise finished runs (mean and spread over seeds)",
    "merge": "average the weights of models of the same architecture",
    "compare": "compare two models on the same data (fixed / broken samples)",
    "issues": "rank a dataset's samples by how likely their label is wrong",
    "export": "export a model to ONNX, checked against torch on real faces",
    "agreement": ("how far annotators' relabel journals agree (Cohen's kappa, Krippendorff's alpha), "
                  "and their consensus"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``command``, only that command's module is imported and the
    others are listed by their summaries."""
    parser = argparse.ArgumentParser(prog="fer-train", description="fer-desktop's trainer: faces, training, evaluation")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        if command is None or name == command or name not in SUMMARIES:
            importlib.import_module(f"trainer.commands.{name}").add_parser(sub)
            cmd = sub.choices[name]
            cmd.description, cmd.epilog = plain_help(cmd.description), plain_help(cmd.epilog)
        else:
            sub.add_parser(name, help=SUMMARIES[name])
    return parser


def plain_help(text: str | None) -> str | None:
    """A command's docstring as terminal text: ``code`` without its reST quotes, and
    "Examples::" as argparse writes its own headings ("examples:")."""
    if not text:
        return text
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"^(\s*)([A-Za-z][\w ]*)::[ \t]*$", lambda m: f"{m.group(1)}{m.group(2).lower()}:", text,
                  flags=re.MULTILINE)


def _command_of(argv: list[str]) -> str:
    """The command named on the command line ("" when none is: help or a usage error)."""
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_of(argv)).parse_args(argv)
    module = importlib.import_module(f"trainer.commands.{args.command}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("fer-train: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): nothing left to say to it
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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
