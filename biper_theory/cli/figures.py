"""``biper-theory figures``: write every figure as PDF and PNG with its CSV numbers."""

from __future__ import annotations

import argparse
import sys
import time

from ._output import render
from .reproduce import REPLACEABLE

HELP = "write Figs. 1–7 as PDF and PNG, with their CSV numbers"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", default="figures", help="output folder (default: figures)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="listing of the files written")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--seed", type=int, default=None, help="Monte-Carlo seed (default: the fixed seed 20240401)"
    )
    p.add_argument(
        "--mc-samples", type=int, default=None, help="samples per Monte-Carlo estimate (default: 200000)"
    )
    p.add_argument(
        "--only",
        metavar="NAME",
        nargs="+",
        default=None,
        help="write only these figures (e.g. fig3_qe_vs_omega0)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that holds other files too (by default only a folder of figures "
        "and reproduce.json is rewritten)",
    )


def run(args: argparse.Namespace) -> int:
    from biper_theory import figures

    seed = figures.DEFAULT_MC_SEED if args.seed is None else args.seed
    n = figures.DEFAULT_MC_SAMPLES if args.mc_samples is None else args.mc_samples
    if seed < 0:
        raise ValueError(f"--seed must be a non-negative integer; got {seed}")
    t0 = time.perf_counter()

    def progress(name: str) -> None:
        print(f"figures: {name} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)

    unknown = sorted(set(args.only or ()) - set(figures.FIGURES))
    if unknown:
        raise ValueError(f"--only: unknown figure {unknown[0]!r}; choose from {', '.join(figures.FIGURES)}")
    if n < 2:
        raise ValueError(f"--mc-samples must be an integer >= 2; got {n}")
    from biper_theory._io import prepare_output_dir

    with prepare_output_dir(args.out, overwrite=args.overwrite, replaceable=REPLACEABLE):
        files = figures.write_all(
            args.out, mc_seed=seed, mc_samples=n, names=args.only, progress=None if args.quiet else progress
        )
    rows = [{"file": str(f)} for f in files]
    if args.format == "json":
        print(render(rows, "json", meta={"out": str(args.out), "seed": seed, "mc_samples": n}))
    else:
        print(f"wrote {len(files)} files to {args.out} in {time.perf_counter() - t0:.1f} s")
        for f in files:
            print(f"  {f}")
    return 0
