"""``biper-theory`` command line: argument parsing and wiring only, no science.

Each subcommand lives in its own small module of this package exposing ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``. Those modules import the
library lazily inside ``run`` so that ``biper-theory --help`` stays fast.

Any user error (a ``ValueError``, a missing file, a bad argument) prints one line,
``biper-theory: error: ...``, to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main", "UsageError", "COMMANDS"]

#: subcommand name -> module under ``biper_theory.cli`` (order = order in --help).
COMMANDS: dict[str, str] = {
    "reproduce": "reproduce",
    "qe": "qe",
    "errata": "errata",
    "figures": "figures",
    "train": "train",
    "pick-omega": "pick_omega",
}


class UsageError(Exception):
    """A problem with what the user asked for; reported in one line, exit status 2."""


class _Formatter(argparse.HelpFormatter):
    """Keep each subcommand and its HELP on one line in ``biper-theory --help``."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):  # measured 2 columns short otherwise
            self._action_max_length += 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only`` (a subcommand named on the command line) that subcommand alone
    is built: the others' arguments would never be looked at, and building them all costs
    milliseconds (argparse looks up translations and the terminal size for every one)."""
    from biper_theory import __version__

    parser = _Parser(
        prog="biper-theory",
        formatter_class=_Formatter,
        description="Quantization error of BiPer binary neural networks (Vargas et al., 2024).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, modname in COMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            mod = importlib.import_module(f"{__name__}.{modname}")
        except ModuleNotFoundError as exc:  # a subcommand whose module is not there yet
            if exc.name == f"{__name__}.{modname}":
                continue
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _one_line(exc: BaseException) -> str:
    """The message of a user error on one line: whole words, no errno prefix, no traceback."""
    if isinstance(exc, OSError) and exc.strerror:  # "[Errno 2] ..." reads as noise to a user
        where = f"{exc.filename}: " if exc.filename is not None else ""
        text = f"{where}{exc.strerror}"
    elif isinstance(exc, MemoryError):
        text = f"not enough memory ({exc})" if str(exc) else "not enough memory"
    else:
        text = str(exc)
    text = " ".join(text.split())  # a multi-line message joined, never cut
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``biper-theory`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # the subcommand, when one is named: the first word that is not an option (the top-level
    # parser's only options, -h and --version, take no value)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = _build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:  # e.g. `biper-theory errata | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (UsageError, ValueError, OSError, OverflowError, MemoryError) as exc:
        print(f"biper-theory: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("biper-theory: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
