"""The installed version of fer-desktop (one number for the app, the trainer and the wheel)."""

from __future__ import annotations

import argparse


def package_version() -> str:
    """The distribution's version (a wheel or an editable install), else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fer-desktop")
    except PackageNotFoundError:  # run from a clone without installing
        from trainer import __version__

        return __version__


class VersionAction(argparse.Action):
    """``--version``, looked up only when asked for (importlib.metadata is not free at start)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0,
                         help=help or "print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog.split()[0]} {package_version()}")
        parser.exit()
