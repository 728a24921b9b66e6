"""Timing, result records and machine description shared by every benchmark.

Nothing here knows about BiPer: it times callables (min / median / max over repeats),
holds one benchmark's outcome in a fixed structure, and describes the machine.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Config",
    "NotAvailable",
    "Result",
    "Timing",
    "machine_info",
    "profile_top",
    "require",
    "time_call",
    "time_command",
    "time_interleaved",
]


class NotAvailable(Exception):
    """A benchmark cannot run here (a module of the toolkit is not there yet, ...)."""


@dataclass(frozen=True)
class Config:
    """What the user asked for: tiny sizes (``quick``) and the number of timed repeats."""

    quick: bool = False
    repeats: int = 5


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of ``repeats`` timed calls (after warm-up calls)."""

    min_s: float
    median_s: float
    max_s: float
    repeats: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Timing:
        if not samples:
            raise ValueError("samples must hold at least one time")
        return cls(min(samples), statistics.median(samples), max(samples), len(samples))

    def as_dict(self) -> dict[str, float | int]:
        return {
            "min_s": self.min_s,
            "median_s": self.median_s,
            "max_s": self.max_s,
            "repeats": self.repeats,
        }


def time_call(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> Timing:
    """Time ``fn()`` ``repeats`` times with :func:`time.perf_counter` after ``warmup`` calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing.of(samples)


def time_interleaved(
    fns: Mapping[str, Callable[[], object]], *, repeats: int, warmup: int = 1
) -> dict[str, Timing]:
    """Time several callables in turn (A, B, C, A, B, C, ...), ``repeats`` rounds.

    Interleaving makes a change of load on a shared machine hit every candidate alike,
    so their ratio is steadier than when each is timed in its own block.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - t0)
    return {k: Timing.of(v) for k, v in samples.items()}


def time_command(
    argv: Sequence[str], *, repeats: int, cwd: str | None = None, ok_codes: Sequence[int] = (0,)
) -> tuple[Timing, int]:
    """Wall time of a subprocess, ``repeats`` times, and its last exit status.

    Raises ``RuntimeError`` (with the end of its output) if it exits with a status not in
    ``ok_codes``.
    """
    samples = []
    rc = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - t0)
        rc = proc.returncode
        if rc not in ok_codes:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(argv)} exited {rc}: {' | '.join(tail)}")
    return Timing.of(samples), rc


def profile_top(fn: Callable[[], object], *, n: int = 8) -> list[dict[str, Any]]:
    """Run ``fn()`` once under cProfile; the ``n`` functions with the most own time."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(fn)
    st = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_, ncalls, tottime, cumtime, _) in st.stats.items():  # type: ignore[attr-defined]
        where = f"{os.path.basename(path)}:{line}({func})" if line else func
        rows.append({"function": where, "calls": ncalls, "own_s": tottime, "cumulative_s": cumtime})
    rows.sort(key=lambda r: -r["own_s"])
    return [
        {**r, "own_s": round(r["own_s"], 4), "cumulative_s": round(r["cumulative_s"], 4)} for r in rows[:n]
    ]


def require(module: str, *attrs: str) -> Any:
    """Import ``module`` and check it has ``attrs``; otherwise raise :class:`NotAvailable`."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise NotAvailable(f"{module} not available yet ({exc.name} is missing)") from exc
    missing = [a for a in attrs if not hasattr(mod, a)]
    if missing:
        raise NotAvailable(f"{module} has no {', '.join(missing)} yet")
    return mod


@dataclass
class Result:
    """One benchmark's outcome; the same keys whatever the status, so JSON stays stable.

    ``rows`` are the measured cases (each with timings); ``ratio`` is the headline number,
    a ratio of medians, compared with ``target`` (``met`` is None when it could not be
    judged); ``ratio_min`` is the same ratio of the minima, the least disturbed repeats.
    """

    name: str
    title: str
    target: str
    status: str = "ok"
    reason: str = ""
    ratio: float | None = None
    ratio_min: float | None = None
    ratio_label: str = ""
    met: bool | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, case: str, timing: Timing, **extra: Any) -> None:
        self.rows.append({"case": case, **timing.as_dict(), **extra})

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "target": self.target,
            "ratio_label": self.ratio_label,
            "ratio": self.ratio,
            "ratio_of_minima": self.ratio_min,
            "met": self.met,
            "rows": self.rows,
            "details": self.details,
            "notes": self.notes,
        }


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _blas() -> list[dict[str, Any]]:
    """BLAS/OpenMP libraries loaded in this process (threadpoolctl), else numpy's build info."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        info = threadpool_info()
        if info:
            keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
            return [{k: d.get(k) for k in keys} for d in info]
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return [{"internal_api": blas.get("name"), "version": blas.get("version")}]
    except (TypeError, KeyError):
        return [{"internal_api": "unknown"}]


def machine_info() -> dict[str, Any]:
    """Cores, CPU, versions, BLAS and thread settings: what a reader needs to compare runs."""
    import numpy as np
    import scipy

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    torch_threads: int | None = None
    if "torch" in sys.modules:
        torch_threads = int(sys.modules["torch"].get_num_threads())
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "mpmath": _version("mpmath"),
        "torch": _version("torch"),
        "torch_threads": torch_threads,
        "blas": _blas(),
        "env": {k: v for k, v in env.items() if v is not None},
    }
