"""``biper-theory qe``: closed-form moments and quantization error at given b and ω₀."""

from __future__ import annotations

import argparse
import math

from . import UsageError
from ._output import FORMATS, render

HELP = "closed forms at (b, ω₀): E ŵ², γ*, QE, SQNR, L1 QE, sign flips"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--b", type=float, nargs="+", default=[0.05], help="Laplace scale(s) b > 0 (default 0.05)")
    p.add_argument("--omega0", type=float, nargs="+", default=[20.0], help="frequency ω₀ > 0 (default 20)")
    p.add_argument("--gamma", type=float, default=None, help="scale γ (default: the optimal γ* = E|ŵ|)")
    p.add_argument("--format", choices=FORMATS, default="text")


def run(args: argparse.Namespace) -> int:
    from biper_theory import closed_form as cf

    rows = []
    for b in args.b:
        for w in args.omega0:
            kw = {"b": b, "omega0": w}
            rows.append(
                {
                    "b": b,
                    "omega0": w,
                    "a": b * w,
                    "second_moment": float(cf.second_moment(**kw)),
                    "optimal_gamma": float(cf.optimal_gamma(**kw)),
                    "gamma": float(cf.optimal_gamma(**kw)) if args.gamma is None else args.gamma,
                    "qe": float(cf.quantization_error(**kw, gamma=args.gamma)),
                    "normalized_qe": float(cf.normalized_quantization_error(**kw, gamma=args.gamma)),
                    "sqnr_db": float(cf.sqnr_db(**kw, gamma=args.gamma)),
                    "l1_qe": float(cf.l1_quantization_error(**kw)),
                    "sign_flip_probability": float(cf.sign_flip_probability(**kw)),
                }
            )
    for r in rows:  # e.g. QE(γ)/E ŵ² overflows when |γ - γ*|/a > 1e154
        bad = [k for k, v in r.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise UsageError(
                f"{bad[0]} overflows float64 at b = {r['b']:g}, omega0 = {r['omega0']:g}, "
                f"gamma = {r['gamma']:g}: choose a gamma nearer gamma* = {r['optimal_gamma']:.6g}"
            )
    a_star, qe_star = cf.qe_peak()
    if args.format == "text":
        for r in rows:
            for k, v in r.items():
                print(f"{k:>22}  {v:.15g}")
            print()
        print(f"{'peak of QE* over a':>22}  a* = {a_star:.15g}, QE*(a*) = {qe_star:.15g}")
    else:
        print(render(rows, args.format, meta={"a_star": a_star, "qe_star": qe_star}))
    return 0
