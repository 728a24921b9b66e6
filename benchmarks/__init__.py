"""Benchmarks of biper-theory against what a user would do instead (issue 7).

Run ``python -m benchmarks`` from the repository root: every benchmark runs side by side in
one process, a table is printed and ``benchmarks/results.json`` is written. Each benchmark
reports min / median / max over repeats and one headline ratio judged against its target;
a benchmark whose module is missing is listed as "not available" with the reason.

Benchmarks (``--only`` names): ``throughput`` (closed-form QE* vs ``np.tanh``), ``accuracy``
(closed form vs ``scipy.integrate.quad`` vs the paper's printed eqs. 7-8, against mpmath),
``montecarlo`` (streaming estimator vs raw ``rng.laplace``), ``pick_omega`` (vs
``torch.load``), ``conv`` (``BiPerConv2d`` vs a sign-STE conv) and ``reproduce`` (wall time).
"""

from __future__ import annotations

from .runner import BENCHMARKS, main, run

__all__ = ["BENCHMARKS", "main", "run"]
