"""Run the benchmarks side by side in one process, print a table, write ``results.json``.

Every benchmark is always listed, in a fixed order and with the same keys: one whose
module has not landed is recorded as ``not available`` with the reason; one that fails is
recorded as ``error`` and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._harness import Config, NotAvailable, Result, machine_info
from .bench_closed_form import bench_accuracy, bench_throughput
from .bench_conv import bench_conv
from .bench_monitor import bench_monitor
from .bench_montecarlo import bench_montecarlo
from .bench_pick_omega import bench_pick_omega
from .bench_reproduce import bench_reproduce

__all__ = ["BENCHMARKS", "DEFAULT_OUT", "machine_line", "main", "readme_section", "render_table", "run"]

#: name -> (function, short title used when it cannot run); the order is the table's order.
BENCHMARKS: dict[str, tuple[Callable[[Config], Result], str, str]] = {
    "throughput": (bench_throughput, "closed-form QE* vs np.tanh", "QE* throughput >= 0.5 x np.tanh"),
    "accuracy": (
        bench_accuracy,
        "closed form vs quad vs paper eqs. 7-8",
        ">= 1e4 x faster than quad per point, closed form rel. err <= 1e-12 everywhere",
    ),
    "montecarlo": (
        bench_montecarlo,
        "streaming MC estimate vs raw rng.laplace",
        "throughput >= 0.5 x raw rng.laplace, peak memory <= 300 MB at 1e8 samples",
    ),
    "pick_omega": (bench_pick_omega, "pick-omega vs torch.load", "pick-omega time <= 2 x torch.load"),
    "conv": (
        bench_conv,
        "BiPerConv2d fwd+bwd vs sign-STE conv",
        "BiPerConv2d time <= 1.10 x sign-STE conv (stage 2, 1W1A)",
    ),
    "reproduce": (bench_reproduce, "wall time of biper-theory reproduce", "< 60 s"),
    "monitor": (
        bench_monitor,
        "train epoch + QEMonitor record vs epoch",
        "epoch with one record <= 1.03 x epoch",
    ),
}

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def _run_one(name: str, cfg: Config) -> Result:
    fn, title, target = BENCHMARKS[name]
    t0 = time.perf_counter()
    try:
        res = fn(cfg)
    except NotAvailable as exc:
        res = Result(name=name, title=title, target=target, status="not available", reason=str(exc))
    except Exception as exc:  # record and go on: one broken benchmark must not hide the others
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        res = Result(name=name, title=title, target=target, status="error", reason=tb)
    res.details["bench_wall_s"] = round(time.perf_counter() - t0, 3)
    return res


def run(
    names: Sequence[str], cfg: Config, *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the named benchmarks (others are listed as not selected); return the JSON record."""
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    load_before = machine_info()["load_average_1_5_15"]
    records = []
    for name in BENCHMARKS:
        if name in names:
            if progress:
                progress(f"running {name} ...")
            res = _run_one(name, cfg)
            if progress:
                progress(f"  {name}: {res.status} ({res.details['bench_wall_s']:.1f} s)")
        else:
            _, title, target = BENCHMARKS[name]
            res = Result(name=name, title=title, target=target, status="not selected", reason="not in --only")
            res.details["bench_wall_s"] = 0.0
        records.append(res.as_dict())
    machine = machine_info()  # after the benchmarks, so torch's thread count is known if it was used
    machine["load_average_before"] = load_before
    return {
        "schema": 1,
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - t0, 3),
        "config": {"quick": cfg.quick, "repeats": cfg.repeats, "only": list(names)},
        "machine": machine,
        "benchmarks": records,
    }


def _fmt_s(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x >= 1.0:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.1f} us"


def _met(m: bool | None) -> str:
    return "-" if m is None else ("met" if m else "MISSED")


def render_table(record: dict[str, Any], *, markdown: bool = False) -> str:
    """Summary (one line per benchmark) and detail (one line per timed case) tables."""
    summary = [("#", "benchmark", "measured", "target", "result")]
    detail = [("benchmark", "case", "median", "min", "max", "n", "notes")]
    for i, b in enumerate(record["benchmarks"], 1):
        if b["status"] != "ok":
            summary.append((str(i), b["title"], f"{b['status']}: {b['reason']}", b["target"], "-"))
            continue
        ratio = "-" if b["ratio"] is None else f"{b['ratio']:.3g}"
        if b["ratio_of_minima"] is not None:
            ratio += f" (minima: {b['ratio_of_minima']:.3g})"
        summary.append((str(i), b["title"], f"{b['ratio_label']} = {ratio}", b["target"], _met(b["met"])))
        for r in b["rows"]:
            detail.append(
                (
                    b["name"],
                    r["case"],
                    _fmt_s(r["median_s"]),
                    _fmt_s(r["min_s"]),
                    _fmt_s(r["max_s"]),
                    str(r["repeats"]),
                    str(r.get("info", "")),
                )
            )
    notes = [f"- {b['name']}: {n}" for b in record["benchmarks"] for n in b["notes"]]
    out = [_table(summary, markdown), "", _table(detail, markdown)]
    if notes:
        out += ["", *notes]
    return "\n".join(out)


def _table(rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        head, *body = rows
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine_line(m: dict[str, Any]) -> str:
    """One line describing the machine of a record (cores, load, versions, BLAS, env)."""
    blas = ", ".join(
        f"{d.get('internal_api')} {d.get('version')} ({d.get('num_threads', '?')} threads)" for d in m["blas"]
    )
    env = ", ".join(f"{k}={v}" for k, v in m["env"].items()) or "OPENBLAS_CORETYPE/OMP/MKL env not set"
    threads = "not loaded" if m["torch_threads"] is None else f"{m['torch_threads']} threads"
    return (
        f"{m['cpu']}, {m['usable_cores']} usable cores, load average (1/5/15 min) "
        f"{m['load_average_before']} before, {m['load_average_1_5_15']} after; Python {m['python']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}, torch {m['torch']} ({threads}); BLAS: {blas}; {env}"
    )


def readme_section(record: dict[str, Any]) -> str:
    """The README's Performance section for a record: command, machine, tables, notes."""
    m = record["machine"]
    when = record["started_utc"].replace("T", " ").replace("+00:00", " UTC")
    head = [
        f"Produced by `{record['command']}` (all benchmarks side by side in one process, "
        f"{record['wall_s']:.1f} s in all, {when}); the raw numbers are in `benchmarks/results.json`.",
        "",
        f"Machine: {machine_line(m)}.",
        "",
    ]
    loads = [m["load_average_before"], m["load_average_1_5_15"]]
    busy = any(x is not None and x[0] > m["usable_cores"] for x in loads)
    state = (
        "busy (1-minute load above its core count)" if busy else "not saturated (load below its core count)"
    )
    head += [
        f"This machine is shared with other jobs and was {state} during the run. Each ratio is "
        "of medians over interleaved repeats (candidate and reference alternate, so a change of "
        "load hits both), with the ratio of the minima beside it; ratios, not absolute times, are "
        "the point.",
        "",
    ]
    return "\n".join(head) + "\n" + render_table(record, markdown=True)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test); numbers are not meaningful")
    p.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)} (default: all)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per case (default 5; >= 1)")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="JSON output (default benchmarks/results.json)"
    )
    p.add_argument(
        "--markdown", action="store_true", help="print the README's Performance section (markdown) instead"
    )
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        p.error(f"--only must name some of {', '.join(BENCHMARKS)}; got {args.only!r}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1; got {args.repeats}")
    args.names = names
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; returns 0 unless a benchmark errored."""
    from biper_theory._io import write_json

    args = _parse(argv)
    cfg = Config(quick=args.quick, repeats=args.repeats)
    record = run(args.names, cfg, progress=lambda s: print(s, file=sys.stderr, flush=True))
    cmd = ["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)]
    record["command"] = " ".join(cmd)
    write_json(args.out, record)
    if args.markdown:
        print(readme_section(record))
    else:
        print(f"Machine: {machine_line(record['machine'])}")
        print(f"Command: {record['command']}   (total {record['wall_s']:.1f} s)\n")
        print(render_table(record))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 1 if any(b["status"] == "error" for b in record["benchmarks"]) else 0
