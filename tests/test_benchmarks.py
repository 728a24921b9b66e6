"""Smoke test of ``python -m benchmarks`` on tiny sizes (no timing assertions).

Checks that the entry point runs end to end, that ``results.json`` has its fixed structure,
that a missing module is reported as "not available" instead of crashing, and the
non-timing facts the benchmarks record (accuracy of the closed form and of the paper's
printed equations against 50-digit mpmath).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NAMES = ["throughput", "accuracy", "montecarlo", "pick_omega", "conv", "reproduce", "monitor"]
STATUSES = {"ok", "not available", "not selected", "skipped", "error"}


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The ``benchmarks`` package, importable from the repository root."""
    monkeypatch.syspath_prepend(str(REPO))
    import benchmarks

    return benchmarks


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--repeats", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads(out.read_text(encoding="utf-8"))


def test_quick_run_structure(quick_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    proc, rec = quick_run
    assert list(rec) == ["schema", "started_utc", "wall_s", "config", "machine", "benchmarks", "command"]
    assert [b["name"] for b in rec["benchmarks"]] == NAMES
    assert rec["config"] == {"quick": True, "repeats": 1, "only": NAMES}
    for key in ("cpu", "usable_cores", "numpy", "scipy", "torch", "blas"):
        assert key in rec["machine"]
    keys = {"name", "title", "status", "reason", "target", "ratio_label", "ratio", "ratio_of_minima", "met"}
    keys |= {"rows", "details", "notes"}
    for b in rec["benchmarks"]:
        assert set(b) == keys
        assert b["status"] in STATUSES, b
        assert b["status"] != "error", b["reason"]
        if b["status"] != "ok":
            assert b["reason"], b["name"]
        for r in b["rows"]:
            assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"], r
        assert b["title"] in proc.stdout or b["status"] != "ok"
    by = {b["name"]: b for b in rec["benchmarks"]}
    # The closed-form benchmarks need nothing but the analytic core: they always run.
    assert by["throughput"]["status"] == by["accuracy"]["status"] == "ok"
    assert by["reproduce"]["status"] in {"skipped", "not available"}  # never run in --quick


def test_quick_run_accuracy_facts(quick_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    _, rec = quick_run
    by = {b["name"]: b for b in rec["benchmarks"]}
    acc = by["accuracy"]["details"]
    # Exact tolerances (no sampling involved): closed form vs 50-digit mpmath.
    assert max(acc["rel_err_closed_form"]) <= 1e-12
    assert acc["closed_form_max_rel_err_dense"] <= 1e-12
    assert acc["mpmath_formula_vs_mpmath_quadrature_max_rel"] <= 1e-30
    # The printed eqs. overflow at small a: pi/a > log(DBL_MAX).
    assert acc["paper_nonfinite_threshold_a"] == pytest.approx(np.pi / np.log(np.finfo(float).max))
    for a, err in zip(acc["grid"], acc["rel_err_paper"], strict=True):
        assert (err is None) == (a < acc["paper_nonfinite_threshold_a"]), a
    mc = by["montecarlo"]
    if mc["status"] == "ok":  # memory is measured, not timed: the chunk buffers, whatever n
        assert 0 < mc["details"]["peak_traced_mb"] < 300
    po = by["pick_omega"]
    if po["status"] == "ok":  # the headline ratio is of the fresh-process rows
        (load,) = [r for r in po["rows"] if r["case"].startswith("torch.load(weights_only=True), fresh")]
        (pick,) = [
            r for r in po["rows"] if r["case"].startswith("biper-theory pick-omega PATH --omega0 20, fresh")
        ]
        assert po["ratio"] == pytest.approx(pick["median_s"] / load["median_s"])


def test_cold_child_rejects_bad_usage(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import _cold

    assert _cold.main([]) == 2
    assert _cold.main(["fetch", "x"]) == 2
    assert "usage" in capsys.readouterr().err


def test_readme_section_lists_every_benchmark(
    bench: ModuleType, quick_run: tuple[subprocess.CompletedProcess[str], dict]
) -> None:
    _, rec = quick_run
    text = bench.runner.readme_section(rec)
    assert text.startswith(f"Produced by `{rec['command']}`")
    assert "| # | benchmark | measured | target | result |" in text
    for b in rec["benchmarks"]:
        assert b["target"] in text
    assert f"numpy {rec['machine']['numpy']}" in text


def test_missing_module_is_not_available(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import _harness, runner

    with pytest.raises(_harness.NotAvailable, match="not available yet"):
        _harness.require("biper_theory.no_such_module_xyz")
    with pytest.raises(_harness.NotAvailable, match="no_such_attr"):
        _harness.require("biper_theory.closed_form", "no_such_attr")

    def missing(cfg: _harness.Config) -> _harness.Result:
        _harness.require("biper_theory.no_such_module_xyz")
        raise AssertionError("unreachable")

    def broken(cfg: _harness.Config) -> _harness.Result:
        raise RuntimeError("boom")

    monkeypatch.setitem(runner.BENCHMARKS, "conv", (missing, "t", "x"))
    monkeypatch.setitem(runner.BENCHMARKS, "reproduce", (broken, "t", "x"))
    rec = runner.run(["conv", "reproduce"], _harness.Config(quick=True, repeats=1))
    status = {b["name"]: (b["status"], b["reason"]) for b in rec["benchmarks"]}
    assert status["conv"][0] == "not available" and "no_such_module_xyz" in status["conv"][1]
    assert status["reproduce"] == ("error", "RuntimeError: boom")
    assert status["throughput"][0] == "not selected"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--only", "nope"], id="unknown-benchmark"),
        pytest.param(["--only", ","], id="empty-only"),
        pytest.param(["--repeats", "0"], id="zero-repeats"),
    ],
)
def test_bad_arguments_exit_2(bench: ModuleType, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.runner._parse(argv)
    assert exc.value.code == 2


def test_timing_helpers(bench: ModuleType) -> None:
    from benchmarks import _harness

    t = _harness.Timing.of([3.0, 1.0, 2.0])
    assert (t.min_s, t.median_s, t.max_s, t.repeats) == (1.0, 2.0, 3.0, 3)
    with pytest.raises(ValueError, match="repeats"):
        _harness.time_call(lambda: None, repeats=0)
    _, rc = _harness.time_command([sys.executable, "-c", "raise SystemExit(1)"], repeats=1, ok_codes=(0, 1))
    assert rc == 1
    with pytest.raises(RuntimeError, match="exited 3"):
        _harness.time_command([sys.executable, "-c", "raise SystemExit(3)"], repeats=1)
