"""``biper-theory reproduce``: the main job (derivations, verification, errata, figures)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import UsageError
from ._output import format_number, render

HELP = "the main job: derive, verify by 4 routes, errata, all figures"

#: entries of an output folder a rerun may replace without --overwrite: its own files
REPLACEABLE = ("fig[0-9]*_*.pdf", "fig[0-9]*_*.png", "fig[0-9]*_*.csv", "reproduce.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        metavar="DIR",
        default="figures",
        help="folder for figures and reproduce.json (default: figures)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="verification table format")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--seed", type=int, default=None, help="seed of every random draw (default: 20240401)")
    p.add_argument(
        "--mc-samples",
        type=int,
        default=None,
        help="samples per a in the Monte-Carlo checks (default: 2000000)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip writing the figures")
    p.add_argument(
        "--no-train",
        action="store_true",
        help="skip the trained-weights route (training the default digits model, fig8)",
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        action="append",
        default=None,
        help="trained-weights route on this checkpoint instead of training (repeatable: e.g. stage 1 and 2)",
    )
    p.add_argument(
        "--omega0",
        type=float,
        default=None,
        help="omega0 of --checkpoint files that record none (official files without config.txt)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that holds other files too (by default only a folder holding "
        "nothing but this command's own files, e.g. the committed figures/, is rewritten)",
    )


def run(args: argparse.Namespace) -> int:
    from biper_theory import reproduce
    from biper_theory._io import finite_or_none

    seed = reproduce.DEFAULT_SEED if args.seed is None else args.seed
    n = reproduce.DEFAULT_MC_SAMPLES if args.mc_samples is None else args.mc_samples
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"reproduce [{time.perf_counter() - t0:5.1f} s] {msg}", file=sys.stderr, flush=True)

    if args.no_train and args.checkpoint:
        raise UsageError("--no-train and --checkpoint exclude each other")
    if args.omega0 is not None and not args.checkpoint:
        raise UsageError("--omega0 applies to --checkpoint files only")
    from biper_theory._io import prepare_output_dir

    with prepare_output_dir(args.out, overwrite=args.overwrite, replaceable=REPLACEABLE):
        report = reproduce.run(
            args.out,
            progress=None if args.quiet else progress,
            mc_samples=n,
            seed=seed,
            figures=not args.no_figures,
            trained=not args.no_train,
            checkpoints=args.checkpoint or (),
            checkpoint_omega0=args.omega0,
        )
    wall = time.perf_counter() - t0
    if args.format == "json":
        payload = report.to_json()
        payload["timings_s"] = {k: round(v, 3) for k, v in report.timings.items()}
        payload["wall_time_s"] = round(wall, 3)
        print(json.dumps(finite_or_none(payload), indent=2, allow_nan=False))
    else:
        rows = [
            {
                "quantity": r["quantity"],
                "routes": r["routes"].removeprefix("closed form vs "),
                "worst": f"{format_number(r['worst'], 3)} {r['measure']}",
                "tolerance": ("≥ " if r["measure"] == "p-value" else "≤ ") + format_number(r["tolerance"], 3),
                "verdict": r["verdict"],
            }
            for r in report.rows()
        ]
        print("Verification: closed form against each route")
        print(render(rows, "text"))
        print()
        if report.errata:
            verdicts = [e["verdict"] for e in report.errata]
            counts = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))
            print(
                f"Errata of §2.1: {len(verdicts)} printed statements checked: {counts} "
                "(details: biper-theory errata, or reproduce.json)"
            )
        _print_trained(report.trained)
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items())
        print(f"timings: {timing}")
        verdict = "all passed" if report.passed else f"{len(report.failed)} FAILED"
        print(
            f"{len(report.checks)} checks, {verdict}; wrote {len(report.files)} "
            f"file{'' if len(report.files) == 1 else 's'} to {args.out}; "
            f"wall time {wall:.1f} s"
        )
    return 0 if report.passed else 1


def _print_trained(findings: Any) -> None:
    """The trained-weights findings in a table (or the line saying why they were skipped)."""
    if findings.status != "done":
        print(f"Trained weights: skipped: {findings.reason}")
        print()
        return
    rows = []
    for lf in findings.layers:
        row = {
            "source": lf.source,
            "layer": lf.layer,
            "best law": lf.best_law,
            "QE* measured": format_number(lf.quantization_error, 3),
        }
        row.update({f"QE* {k}": format_number(v.quantization_error, 3) for k, v in lf.laws.items()})
        row["crest share measured"] = format_number(lf.crest_share, 3)
        row["crest share, best law"] = format_number(lf.laws[lf.best_law].crest_share, 3)
        rows.append(row)
    print("Trained weights (findings, not checks): measured against the fitted laws (AIC)")
    print(render(rows, "text"))
    print()
