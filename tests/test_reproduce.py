"""The main job: it passes on the real closed forms, fails (exit 1) on a wrong one, and its
``reproduce.json`` is deterministic."""

from __future__ import annotations

import contextlib
import io
import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from biper_theory import closed_form as cf
from biper_theory import figures as F
from biper_theory import reproduce as R
from biper_theory.cli import main

REPO = Path(__file__).resolve().parents[1]

#: Few samples for the runs that only need to show a failure (SE-based tolerances adapt).
FAST_MC = 20_000


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One complete ``biper-theory reproduce`` (defaults, figures included), via the CLI."""
    out = tmp_path_factory.mktemp("reproduce")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["reproduce", "--out", str(out)])
    return {"rc": rc, "out": out, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def test_full_run_passes_and_prints_the_table(full_run: dict[str, Any]) -> None:
    assert full_run["rc"] == 0, full_run["stdout"]
    text = full_run["stdout"]
    assert "all passed" in text and "FAIL" not in text
    for route in ("SymPy", "mpmath", "quadrature", "Monte Carlo", "paper"):
        assert route in text
    assert "reproduce [" in full_run["stderr"]  # progress goes to stderr


def test_full_run_writes_json_and_all_figures(full_run: dict[str, Any]) -> None:
    out: Path = full_run["out"]
    data = json.loads((out / "reproduce.json").read_text(encoding="utf-8"))
    assert data["passed"] is True and data["n_failed"] == 0
    assert data["n_checks"] == len(data["checks"]) >= 40
    assert {c["verdict"] for c in data["checks"]} == {"pass"}
    quantities = {c["quantity"] for c in data["checks"]}
    assert {"E ŵ²", "γ* = E|ŵ|", "QE*", "QE(γ)", "pdf", "cdf", "peak a*", "peak QE*"} <= quantities
    # every quantity of the brief is checked by each exact route
    for route in ("mpmath", "quadrature", "SymPy"):
        covered = {c["quantity"] for c in data["checks"] if route in c["routes"]}
        assert {"E ŵ²", "γ* = E|ŵ|", "QE*", "pdf", "cdf", "peak a*"} <= covered, route
    assert len(data["errata"]) >= 10 and {"id", "verdict", "witness"} <= set(data["errata"][0])
    # no timestamps or timings in the committed file
    assert set(data) == {
        "passed", "n_checks", "n_failed", "settings", "checks", "errata", "trained_weights", "files"
    }  # fmt: skip
    assert set(data["settings"]) == {"seed", "mc_samples", "mc_k", "mp_dps"}
    for name in [*F.FIGURES, "fig8_trained_weights"]:
        for ext in ("pdf", "png", "csv"):
            assert (out / f"{name}.{ext}").exists()
            assert f"{name}.{ext}" in data["files"]


def test_full_run_trains_the_default_model_and_reports_its_layers(full_run: dict[str, Any]) -> None:
    # the trained-weights route of the default run (its numbers: tests/test_trained.py)
    data = json.loads((full_run["out"] / "reproduce.json").read_text(encoding="utf-8"))
    tw = data["trained_weights"]
    assert tw["status"] == "done" and list(tw["sources"]) == ["stage1", "stage2"]
    assert {(r["source"], r["layer"]) for r in tw["layers"]} == {
        (s, layer) for s in ("stage1", "stage2") for layer in {r["layer"] for r in tw["layers"]}
    }
    assert "Trained weights (findings, not checks)" in full_run["stdout"]
    assert "trained weights: training the default digits model" in full_run["stderr"]


def test_full_run_figures_equal_the_figures_command(full_run: dict[str, Any]) -> None:
    # reproduce writes exactly what `biper-theory figures` writes (same seed, same samples)
    out: Path = full_run["out"]
    for name in ("fig2_pdf", "fig7_analysis_vs_montecarlo"):
        for fname, table in F.build(name).tables().items():
            assert (out / fname).read_text() == F.FigureData("t", table).to_csv(), fname


def _with(**overrides: Any) -> types.SimpleNamespace:
    """The closed-form module with some functions replaced."""
    return types.SimpleNamespace(**{**{n: getattr(cf, n) for n in cf.__all__}, **overrides})


def _printed_pdf(w_hat: Any, *, a: Any) -> np.ndarray:
    # eq. (4) exactly as printed: coefficient 1 (not 2) on the cosh term
    t = np.arcsin(np.abs(w_hat))
    return (np.exp(-t / a) + np.cosh(t / a) / np.expm1(np.pi / a)) / (2 * a * np.sqrt(1 - np.square(w_hat)))


def test_wrong_pdf_is_caught_by_every_pdf_route(tmp_path: Path) -> None:
    report = R.run(tmp_path, mc_samples=FAST_MC, figures=False, closed_form=_with(pdf=_printed_pdf))
    assert not report.passed
    failed = {(c.quantity, c.routes) for c in report.failed}
    assert failed == {
        ("pdf", "closed form vs mpmath"),
        ("pdf", "closed form vs quadrature"),
        ("pdf", f"closed form vs Monte Carlo (histogram, {R.PDF_HIST_BINS} bins)"),
    }  # every pdf route, and nothing else
    data = json.loads((tmp_path / "reproduce.json").read_text(encoding="utf-8"))
    assert data["passed"] is False and data["n_failed"] == len(failed)


def test_wrong_gamma_makes_the_command_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # γ* off by 5 %: caught by SymPy, mpmath, quadrature and (at 20 000 samples) Monte Carlo alike
    true_gamma = cf.optimal_gamma
    monkeypatch.setattr(cf, "optimal_gamma", lambda **kw: 1.05 * true_gamma(**kw))
    rc = main(["reproduce", "--out", str(tmp_path), "--no-figures", "--quiet", "--mc-samples", str(FAST_MC)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL" in out and "FAILED" in out
    gamma_rows = [line for line in out.splitlines() if line.startswith("γ* = E|ŵ|")]
    assert gamma_rows and all(line.rstrip().endswith("FAIL") for line in gamma_rows)


def test_json_format_reports_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["reproduce", "--out", str(tmp_path), "--no-figures", "--quiet", "--format", "json",
               "--mc-samples", str(FAST_MC)])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["passed"] is True
    assert data["settings"]["mc_samples"] == FAST_MC
    assert set(data["timings_s"]) >= {"Monte Carlo", "errata"}  # timings on stdout only
    written = json.loads((tmp_path / "reproduce.json").read_text(encoding="utf-8"))
    assert "timings_s" not in written
    assert written["checks"] == data["checks"]


def test_nan_from_the_closed_form_fails_every_route(tmp_path: Path) -> None:
    # NaN at a single grid point (a > 20, the last points of each grid): builtin max() would
    # skip it when it is not the first value; every route must count it as a failure
    def second_moment(**kw: Any) -> np.ndarray:
        a = np.asarray(kw["a"], dtype=np.float64)
        return np.where(a > 20.0, np.nan, cf.second_moment(a=a))

    report = R.run(
        tmp_path, mc_samples=FAST_MC, figures=False, closed_form=_with(second_moment=second_moment)
    )
    failed = {(c.quantity, c.routes) for c in report.failed}
    assert failed == {
        ("E ŵ²", "closed form vs mpmath"),
        ("E ŵ²", "closed form vs quadrature"),
        ("E ŵ²", "closed form vs Monte Carlo"),
    }
    assert all(c.worst == np.inf for c in report.failed)


def test_max_rel_counts_nan_anywhere_as_infinite() -> None:
    import mpmath

    one = [mpmath.mpf(1), mpmath.mpf(1)]
    assert R._max_rel([1.0, float("nan")], one) == np.inf
    assert R._max_rel([float("nan"), 1.0], one) == np.inf
    assert R._max_rel([1.0, 1.0 + 2**-52], one) == 2**-52


def test_pdf_histogram_check_is_calibrated() -> None:
    # the exact bin probabilities sum to one and agree with cdf differences (exact route),
    # and a correct pdf stays within MC_K standard errors (MC route)
    rng = np.random.default_rng(5)
    for a in R.PDF_HIST_A:
        est, exact = R._pdf_histogram(cf, a, n=100_000, rng=rng)
        theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, R.PDF_HIST_BINS + 1)
        edges = np.clip(np.sin(theta), -1.0, 1.0)
        np.testing.assert_allclose(exact, np.diff(cf.cdf(edges, a=a)), rtol=1e-11, atol=0)
        assert abs(exact.sum() - 1.0) < 1e-12
        assert np.all(np.abs(est.value - exact) <= R.MC_K * est.se)


@pytest.mark.parametrize(
    ("worst", "tol", "measure", "passed"),
    [
        pytest.param(1e-16, 1e-13, "rel", True, id="rel-pass"),
        pytest.param(1e-12, 1e-13, "rel", False, id="rel-fail"),
        pytest.param(float("nan"), 1e-13, "rel", False, id="nan-fails"),
        pytest.param(float("inf"), 5.0, "SE", False, id="inf-fails"),
        pytest.param(4.9, 5.0, "SE", True, id="se-pass"),
        pytest.param(0.5, 1e-3, "p-value", True, id="p-large-passes"),
        pytest.param(1e-5, 1e-3, "p-value", False, id="p-small-fails"),
    ],
)
def test_check_verdicts(worst: float, tol: float, measure: str, passed: bool) -> None:
    assert R._check("q", "closed form vs x", worst, tol, measure, 1).passed is passed


def test_mpmath_route_is_independent_and_accurate() -> None:
    # spot values of the 50-digit route against the closed form and known constants
    import mpmath

    with mpmath.workdps(50):
        a = mpmath.mpf(1)
        assert abs(R._mp_second_moment(a) - mpmath.mpf(2) / 5) < mpmath.mpf(10) ** -45
        assert abs(R._mp_optimal_gamma(a) - mpmath.coth(mpmath.pi / 2) / 2) < mpmath.mpf(10) ** -45
        # the cdf keeps full relative accuracy in the deep lower tail (extra digits)
        tail = R._mp_cdf(mpmath.mpf("-0.999"), mpmath.mpf("0.01"))
        assert 0 < tail < mpmath.mpf(10) ** -60
        assert abs(tail / mpmath.mpf(float(cf.cdf(-0.999, a=0.01))) - 1) < 1e-12
        a_star, q_star = R._mp_peak()
    assert abs(float(q_star) - cf.qe_peak()[1]) < 1e-15
    assert abs(float(a_star) - cf.qe_peak()[0]) < 1e-14


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["reproduce", "--mc-samples", "10"], id="too-few-samples"),
        pytest.param(["reproduce", "--seed", "-1"], id="negative-seed"),
        pytest.param(["reproduce", "--format", "yaml"], id="unknown-format"),
        pytest.param(["reproduce", "--mc-samples", "many"], id="not-an-integer"),
        pytest.param(["reproduce", "--out", __file__, "--no-figures"], id="out-is-a-file"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    assert rc == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_committed_reproduce_json_is_current(full_run: dict[str, Any]) -> None:
    """figures/reproduce.json holds what the code produces now.

    Settings, errata, files, checks and verdicts must be equal; so must the Monte-Carlo
    z-scores and p-values (fixed seeds) and the distance to the paper's printed digits.
    The exact routes' worst disagreements are a few ulp and may change in their last
    digit with the CPU's libm, so for them only the verdict is compared.
    """
    committed = json.loads((REPO / "figures" / "reproduce.json").read_text(encoding="utf-8"))
    fresh = json.loads((full_run["out"] / "reproduce.json").read_text(encoding="utf-8"))
    # The trained weights are bitwise reproducible on one machine, not across CPUs (other
    # float kernels): where the training gave the same weights (same state_dict hash) every
    # finding must be equal, elsewhere the same sources, layers and laws.
    old_tw, new_tw = committed.pop("trained_weights"), fresh.pop("trained_weights")
    assert old_tw["status"] == new_tw["status"] == "done"
    same_weights = {s: i["state_dict_sha256"] for s, i in old_tw["sources"].items()} == {
        s: i["state_dict_sha256"] for s, i in new_tw["sources"].items()
    }
    if same_weights:
        assert old_tw == new_tw
    else:
        assert [(r["source"], r["layer"], sorted(r["laws"])) for r in old_tw["layers"]] == [
            (r["source"], r["layer"], sorted(r["laws"])) for r in new_tw["layers"]
        ]
    assert {k: v for k, v in committed.items() if k != "checks"} == {
        k: v for k, v in fresh.items() if k != "checks"
    }
    assert len(committed["checks"]) == len(fresh["checks"])
    for old, new in zip(committed["checks"], fresh["checks"], strict=True):
        keys = set(old) - ({"worst"} if old["measure"] == "rel" else set())
        assert {k: old[k] for k in keys} == {k: new[k] for k in keys}, old


def test_help_lines_fit_one_line() -> None:
    # `biper-theory --help` gives each command one line when HELP fits beside the name
    from biper_theory.cli import figures as cli_figures
    from biper_theory.cli import reproduce as cli_reproduce

    for mod in (cli_reproduce, cli_figures):
        assert "\n" not in mod.HELP and len(mod.HELP) <= 62, mod.HELP
