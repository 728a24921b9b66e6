"""Benchmark 3: the streaming Monte Carlo estimator against raw ``rng.laplace`` generation.

Throughput (samples per second) of ``biper_theory.montecarlo.estimate`` against drawing the
same number of Laplace samples in chunks of the same size and discarding them, and the
peak traced memory (``tracemalloc``; numpy reports its buffers to it) of one estimate at
10⁸ samples.
"""

from __future__ import annotations

import inspect
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from ._harness import Config, Result, Timing, require, time_interleaved

__all__ = ["bench_montecarlo", "raw_laplace"]

_A = 0.954882  # near the peak of QE*: every branch of the law matters
_SEED = 20240401


def raw_laplace(n: int, *, a: float, rng: np.random.Generator, chunk_size: int) -> None:
    """Draw ``n`` Laplace(0, a) samples in chunks of ``chunk_size`` and discard them."""
    left = n
    while left > 0:
        k = min(chunk_size, left)
        rng.laplace(0.0, a, size=k)
        left -= k


def _chunk_size(estimate: Callable[..., Any]) -> int:
    """The estimator's default ``chunk_size`` (2**20 if it has none)."""
    p = inspect.signature(estimate).parameters.get("chunk_size")
    if p is not None and isinstance(p.default, int) and p.default > 0:
        return int(p.default)
    return 1 << 20


def bench_montecarlo(cfg: Config) -> Result:
    """Samples/s of the streaming estimator vs raw generation; peak memory at 10⁸ samples."""
    n_time = 200_000 if cfg.quick else 10_000_000
    n_mem = 200_000 if cfg.quick else 100_000_000
    res = Result(
        name="montecarlo",
        title=f"streaming MC estimate vs raw rng.laplace ({n_time:.0e} samples; memory at {n_mem:.0e})",
        target="throughput >= 0.5 x raw rng.laplace, peak memory <= 300 MB at 1e8 samples",
        ratio_label="estimator samples/s / raw samples/s",
    )
    mc = require("biper_theory.montecarlo", "estimate")
    estimate = mc.estimate
    chunk = _chunk_size(estimate)
    if cfg.quick:
        chunk = min(chunk, 1 << 15)
    reps = max(1, min(cfg.repeats, 3)) if not cfg.quick else cfg.repeats

    def run_est(n: int) -> Any:
        return estimate(a=_A, n=n, rng=np.random.default_rng(_SEED), chunk_size=chunk)

    def run_raw() -> None:
        raw_laplace(n_time, a=_A, rng=np.random.default_rng(_SEED), chunk_size=chunk)

    ts = time_interleaved({"raw": run_raw, "estimate": lambda: run_est(n_time)}, repeats=reps)
    t_raw, t_est = ts["raw"], ts["estimate"]
    res.add(
        "rng.laplace in chunks (reference)", t_raw, info=f"{n_time / t_raw.median_s / 1e6:.1f} M samples/s"
    )
    res.add(
        "montecarlo.estimate",
        t_est,
        info=f"{n_time / t_est.median_s / 1e6:.1f} M samples/s, chunk_size {chunk}",
    )

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        t0 = time.perf_counter()
        run_est(n_mem)
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    peak_mb = peak / 1e6
    res.add(
        f"montecarlo.estimate, n={n_mem:.0e}, under tracemalloc",
        Timing.of([wall]),
        peak_mb=peak_mb,
        info=f"peak traced memory {peak_mb:.1f} MB",
    )
    res.ratio = t_raw.median_s / t_est.median_s
    res.ratio_min = t_raw.min_s / t_est.min_s
    res.met = res.ratio >= 0.5 and peak_mb <= 300.0
    res.details = {
        "a": _A,
        "n_timed": n_time,
        "n_memory": n_mem,
        "chunk_size": chunk,
        "peak_traced_mb": peak_mb,
        "raw_samples_per_s": n_time / t_raw.median_s,
        "estimator_samples_per_s": n_time / t_est.median_s,
    }
    return res
