"""``biper-theory errata``: the paper's §2.1 statements compared with the SymPy derivation."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "errata of §2.1 (f_W, eqs. 3–8, the peak), each with a witness"

_FORMATS = ("text", "markdown", "json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=_FORMATS,
        default="text",
        help="text (one block per statement, default), markdown (the README table) or json",
    )


def run(args: argparse.Namespace) -> int:
    from biper_theory.errata import errata_table

    print(errata_table(args.format))
    return 0
