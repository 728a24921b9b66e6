"""The errata of §2.1: every verdict with its witness, the table formats, the README's link."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

from biper_theory import closed_form as cf
from biper_theory import errata as er
from biper_theory.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"

# Reference values, computed independently with mpmath at 30 digits (mp.dps = 30):
#   2*(e**10 - 1)                                  -> 44050.9315896134330339158012906
#   1 - e**-10                                     -> 0.999954600070237515148464408484
#   1 - exp(-pi/2)/2                               -> 0.896060211824619045726522190083
#   (exp(pi/4) + 1)/(2*(exp(pi/4) - 1))            -> 1.33802624487145635115757010608
#   1 + exp(-pi)                                   -> 1.04321391826377224977441773717
#   coth(pi/2)/2                                   -> 0.545165705363684115015006230473
#   2/5 - coth(pi/2)/2 + 1/4   (QE at a = 1, γ = ½) -> 0.104834294636315884984993769526
#   pi/log(sys.float_info.max)                     -> 0.0044261329510031189554068579355
#   1e6/(1 + 1e12)*coth(pi/(2*1e6))                -> 0.636619772367468322078765797913
# The law of w_hat by hand (branches summed in pairs), t = asin(y):
#   pdf(y; a) = (exp(-t/a) + exp(-(pi - t)/a))/((1 - exp(-pi/a))*2*a*sqrt(1 - y**2))
#   P[|w_hat| > y] = (exp(-t/a) - exp(-(pi - t)/a))/(1 - exp(-pi/a))
#   pdf(0.3; 0.9)                                  -> 0.4538613717854459308353608728
#   pdf(0.6; 2)                                    -> 0.399109653018563032365481557736
#   P[|w_hat| > 0.9] at a = 1e4                    -> 0.287132585173977111529861192531
#   1 - 2*asin(0.9)/pi                             -> 0.28713258625741254150188376955
# QE*(a) = 2a²/(1+4a²) - (a/(1+a²)*coth(pi/(2a)))**2:
#   QE*(0.3)                                       -> 0.0565931604856747402510038250679
#   QE*(1000)                                      -> 0.0947152843334356219896647402297
#   1/2 - 4/pi**2                                  -> 0.094715265430648914224482147161
G1 = 0.545165705363684115015006230473
QE_A1 = 0.104834294636315884984993769526
QE_PEAK = 0.10283460903826280890747255127

# id -> (verdict, aspect, witness_value, expected_value, relative tolerance)
EXPECTED = {
    "codomain": ("agrees", "mathematics", 1.0, 1.0, 1e-14),
    "eq3": ("agrees", "mathematics", 0.4538613717854459308353608728, 0.4538613717854459308353608728, 1e-14),
    "fW-sign": (
        "differs",
        "mathematics",
        44050.9315896134330339158012906,
        0.999954600070237515148464408484,
        1e-14,
    ),
    "fW-scale": ("differs", "mathematics", 2.0, 1.0, 1e-14),
    "eq4-cosh": ("differs", "mathematics", 0.896060211824619045726522190083, 1.0, 1e-14),
    "slash": ("ambiguous as printed", "typesetting", 1.33802624487145635115757010608, G1, 1e-14),
    "fig2-arcsine": (
        "agrees",
        "mathematics",
        0.287132585173977111529861192531,
        0.28713258625741254150188376955,
        1e-14,
    ),
    "fig2-frequency": (
        "agrees",
        "mathematics",
        0.399109653018563032365481557736,
        0.399109653018563032365481557736,
        1e-14,
    ),
    # eq. (5)'s QE* rises from a = 0.3 to a*: the claim holds only for QE*/E w_hat²
    "fig2-qe": ("ambiguous as printed", "mathematics", QE_PEAK, 0.0565931604856747402510038250679, 1e-14),
    "eq5": ("agrees", "mathematics", QE_A1, QE_A1, 1e-14),
    "eq6": ("agrees", "mathematics", QE_A1, QE_A1, 1e-14),
    "eq7": ("agrees", "mathematics", QE_A1, QE_A1, 1e-14),
    "eq7-8-paren": ("ambiguous as printed", "typesetting", 1.04321391826377224977441773717, G1, 1e-14),
    "eq8": ("agrees", "mathematics", G1, G1, 1e-14),
    "peak-value": ("agrees", "mathematics", 0.102835, QE_PEAK, 1e-14),
    "peak-location": ("agrees", "mathematics", 0.954882, 0.95488247098754593204827155914, 1e-14),
    "qe-reduce": (
        "agrees",
        "mathematics",
        0.0947152843334356219896647402297,
        0.094715265430648914224482147161,
        1e-14,
    ),
    "eq8-overflow": (
        "differs",
        "float64",
        0.0044261329510031189554068579355,
        0.0044261329510031189554068579355,
        1e-14,
    ),
    # in IEEE double the printed ratio gives 0.636619772387874... (correct: 0.6366197723674683...)
    "eq8-cancellation": ("differs", "float64", 0.636619772387874, 0.636619772367468322078765797913, 1e-14),
    # threshold solving e^{θ/a}/(4a sqrt(1-y²)) = DBL_MAX at y = 0.999 (mpmath findroot, 30 digits)
    "eq4-overflow": ("differs", "float64", 0.0021741064684857, 0.0021741064684857, 1e-12),
}


@pytest.fixture(scope="module")
def rows() -> dict[str, er.Erratum]:
    return {r.id: r for r in er.errata()}


def test_ids_are_the_expected_ones_in_order(rows: dict[str, er.Erratum]) -> None:
    assert list(rows) == list(EXPECTED)
    assert all(r.verdict in er.VERDICTS for r in rows.values())


@pytest.mark.parametrize("rid", [pytest.param(k, id=k) for k in EXPECTED])
def test_verdict_and_witness(rid: str, rows: dict[str, er.Erratum]) -> None:
    verdict, aspect, witness, expected, rtol = EXPECTED[rid]
    r = rows[rid]
    assert r.verdict == verdict
    assert r.aspect == aspect
    assert r.witness_value == pytest.approx(witness, rel=rtol)
    assert r.expected_value == pytest.approx(expected, rel=rtol)
    assert r.witness and r.what_differs and r.statement and r.equation


def test_differs_rows_really_differ(rows: dict[str, er.Erratum]) -> None:
    for r in rows.values():
        if r.verdict == "differs" and r.aspect == "mathematics":
            assert not math.isclose(r.witness_value, r.expected_value, rel_tol=1e-3), r.id
        if r.verdict == "agrees":
            assert math.isclose(r.witness_value, r.expected_value, rel_tol=1e-5), r.id


def test_witness_text_carries_the_numbers(rows: dict[str, er.Erratum]) -> None:
    assert "0.8960602118" in rows["eq4-cosh"].witness
    assert "b = 1, ω₀ = 1" in rows["eq4-cosh"].witness
    assert "44050.93159" in rows["fW-sign"].witness
    assert "0.0044261330" in rows["eq8-overflow"].witness
    assert "3.2e-11" in rows["eq8-cancellation"].witness
    assert "0.1028346090382628" in rows["peak-value"].witness
    assert "F(1) = 1, F(-1) = 0" in rows["codomain"].witness
    assert "0.2172686040" in rows["codomain"].witness  # 1/(2 sinh(π/2))
    assert "0.4538613718" in rows["eq3"].witness and "0.4400273169" in rows["eq3"].witness
    assert "0.0891406, 0.261813, 0.286862, 0.287133" in rows["fig2-arcsine"].witness
    assert rows["fig2-frequency"].witness.count("0.3991096530") == 2
    assert "QE* = 0.05659, 0.1028, 0.09476" in rows["fig2-qe"].witness
    assert "QE*/E ŵ² = 0.4276, 0.2621, 0.1896" in rows["fig2-qe"].witness
    assert "from 1/2" in rows["fig2-qe"].what_differs and "0.1894" in rows["fig2-qe"].what_differs
    assert "(-19/24 + 8/pi**2)/a²" in rows["qe-reduce"].what_differs
    assert "0.01890" in rows["qe-reduce"].what_differs and "7.9%" in rows["qe-reduce"].what_differs
    assert "0.09476242402, 0.09471528433 at a = 20, 1000" in rows["qe-reduce"].witness
    assert "mass 1.000000000 on [0, ∞)" in rows["fW-scale"].witness


def test_eq4_missing_mass_is_exactly_half_e_to_minus_pi_over_2a() -> None:
    with mpmath.workdps(30):
        for aa in ("0.4", "1", "3"):
            av = mpmath.mpf(aa)
            mass = mpmath.quad(lambda y, av=av: er.printed_pdf(y, b=av, omega0=1), [-1, 0, 1])
            # (the 1/sqrt(1-y²) end-point singularity limits tanh-sinh to ~1e-16 here)
            assert mpmath.almosteq(1 - mass, mpmath.exp(-mpmath.pi / (2 * av)) / 2, 1e-12)


@pytest.mark.parametrize(
    ("y", "b", "w0"),
    [
        pytest.param("0.3", "0.45", "2", id="a=0.9"),
        pytest.param("-0.75", "3", "0.5", id="negative-w_hat"),
        pytest.param("0.999", "0.05", "4", id="near-edge-small-a"),
    ],
)
def test_printed_eq3_pdf_is_the_density(y: str, b: str, w0: str) -> None:
    # eq. (3) over all roots equals the pdf by hand (branches summed in pairs), t = asin|y|
    with mpmath.workdps(30):
        yy, bb, ww = mpmath.mpf(y), mpmath.mpf(b), mpmath.mpf(w0)
        aa, t = bb * ww, mpmath.asin(abs(yy))
        by_hand = (mpmath.exp(-t / aa) + mpmath.exp(-(mpmath.pi - t) / aa)) / (
            (1 - mpmath.exp(-mpmath.pi / aa)) * 2 * aa * mpmath.sqrt(1 - yy**2)
        )
        assert mpmath.almosteq(er.printed_eq3_pdf(yy, b=bb, omega0=ww), by_hand, 1e-25)
        # the roots of one period alone are not enough (unless a is small): mass is missing
        assert er.printed_eq3_pdf(yy, b=bb, omega0=ww, periods=0) < by_hand


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"w_hat": 1.0}, "w_hat", id="w_hat=1"),
        pytest.param({"w_hat": -1.5}, "w_hat", id="w_hat<-1"),
        pytest.param({"periods": -1}, "periods", id="negative-periods"),
        pytest.param({"periods": 2.0}, "periods", id="float-periods"),
        pytest.param({"b": 0.0}, "b must be positive", id="zero-b"),
        pytest.param({"omega0": float("inf")}, "omega0", id="infinite-omega0"),
    ],
)
def test_printed_eq3_pdf_rejects(kwargs: dict[str, float], match: str) -> None:
    args: dict[str, float] = {"w_hat": 0.2, "b": 1.0, "omega0": 1.0, "periods": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        er.printed_eq3_pdf(**args)  # type: ignore[arg-type]


# The claims of the text around Fig. 2 and after eq. (8), checked on a grid with closed_form
# (an independent route from the SymPy derivation the errata use).
GRID = np.geomspace(0.02, 2000.0, 400)


def test_mass_near_plus_minus_one_grows_with_a_towards_the_arcsine_law() -> None:
    for y in (0.5, 0.9, 0.99):
        tail = 2 * cf.sf(y, a=GRID)  # P[|w_hat| > y]
        assert np.all(np.diff(tail) > 0), y
        arcsine = 1 - 2 * np.arcsin(y) / np.pi
        assert np.all(tail < arcsine) and arcsine - tail[-1] < 1e-6


def test_law_depends_on_b_omega0_only_through_a() -> None:
    y = np.linspace(-0.99, 0.99, 11)
    for b, w0, k in [(2.0, 1.0, 3.0), (0.05, 20.0, 0.1)]:
        assert np.allclose(cf.pdf(y, b=b, omega0=w0), cf.pdf(y, b=b * k, omega0=w0 / k), rtol=1e-14, atol=0)


def test_qe_star_rises_below_a_star_and_stays_above_its_limit_after() -> None:
    a_star, q_star = cf.qe_peak()
    q = cf.quantization_error(a=GRID)
    below, above = GRID < a_star, GRID > a_star
    assert np.all(np.diff(q[below]) > 0)  # raising b or omega0 raises QE* up to a*
    assert np.all(np.diff(q[above]) < 0)
    assert np.all(q[above] > cf.QE_LIMIT_LARGE_A) and np.all(q <= q_star)
    # the fall from the maximum towards large a is bounded by the limit: < 8 % of the peak
    assert (q_star - cf.QE_LIMIT_LARGE_A) / q_star == pytest.approx(0.0789, abs=5e-4)


def test_normalized_qe_star_falls_from_the_laplace_value() -> None:
    nq = cf.quantization_error(a=GRID) / cf.second_moment(a=GRID)
    assert np.all(np.diff(nq) < 0)
    assert nq[0] == pytest.approx(0.5, abs=2e-3)  # Laplace: E(W - E|W| sign W)² / E W² = 1/2
    assert nq[-1] == pytest.approx(1 - 8 / np.pi**2, abs=1e-6)


def test_printed_density_grows_with_the_range() -> None:
    one = mpmath.mpf(1)
    i10, i20 = (mpmath.quad(lambda v: er.printed_laplace_density(v, b=one), [-L, 0, L]) for L in (10, 20))
    assert i20 > 1e4 * i10 > 1e8


def test_intended_readings_match_closed_form() -> None:
    for b, w0 in [(0.05, 20.0), (0.3, 1.5), (2.0, 4.0)]:
        g = er.printed_gamma_eq8(b=b, omega0=w0, lib="numpy")
        assert g == pytest.approx(float(cf.optimal_gamma(b=b, omega0=w0)), rel=1e-13)
        q = er.printed_qe_eq7(b=b, omega0=w0, gamma=0.3, lib="numpy")
        assert q == pytest.approx(float(cf.quantization_error(b=b, omega0=w0, gamma=0.3)), rel=1e-12)


def test_float64_overflow_thresholds() -> None:
    t8 = math.pi / math.log(sys.float_info.max)
    with np.errstate(all="ignore"):
        assert np.isnan(er.printed_gamma_eq8(b=t8 * 0.999, omega0=1.0, lib="numpy"))
        assert np.isfinite(er.printed_gamma_eq8(b=t8 * 1.001, omega0=1.0, lib="numpy"))
        assert np.isnan(er.printed_pdf(0.999, b=0.0021, omega0=1.0, lib="numpy"))
        assert np.isfinite(er.printed_pdf(0.999, b=0.0022, omega0=1.0, lib="numpy"))
    assert np.isfinite(cf.optimal_gamma(a=t8 * 0.999))  # the closed form has no such defect


def test_float64_cancellation_in_numpy() -> None:
    # the IEEE-emulated witness, reproduced by numpy's own exp: error far above 1e-12
    g_np = er.printed_gamma_eq8(b=1e6, omega0=1.0, lib="numpy")
    exact = 0.636619772367468322078765797913
    rel = abs(g_np - exact) / exact
    assert 1e-12 < rel < 1e-9  # (either neighbour of e^{π/a} gives ~3e-11)
    assert abs(float(cf.optimal_gamma(a=1e6)) - exact) / exact < 1e-15


def test_float64_nan_threshold_rejects_a_bad_bracket() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        er.float64_nan_threshold(lambda v: 1.0 / v, 1.0, 2.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: er.printed_gamma_eq8(b=1.0, omega0=1.0, reading="sideways"),  # type: ignore[arg-type]
            "reading",
            id="reading",
        ),
        pytest.param(lambda: er.printed_pdf(0.1, b=1.0, omega0=1.0, lib="torch"), "lib", id="lib"),
        pytest.param(lambda: er.errata_table("yaml"), "fmt", id="fmt"),
    ],
)
def test_bad_arguments(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


# ----------------------------------------------------------------------------------------
# Rendering, CLI and README
# ----------------------------------------------------------------------------------------


def test_json_round_trip(rows: dict[str, er.Erratum]) -> None:
    data = json.loads(er.errata_table("json"))
    assert [d["id"] for d in data] == list(rows)
    assert data[list(rows).index("eq4-cosh")]["witness_value"] == rows["eq4-cosh"].witness_value
    assert set(data[0]) == {
        "id", "statement", "equation", "verdict", "what_differs", "witness", "witness_value",
        "expected_value", "aspect",
    }  # fmt: skip


def test_markdown_table_shape(rows: dict[str, er.Erratum]) -> None:
    lines = er.errata_table("markdown").splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0].startswith("| id | where | as printed | verdict")
    for line in lines[2:]:
        assert line.startswith("| ") and line.endswith(" |")
        assert line.replace("\\|", "").count("|") == 7  # six cells, pipes inside cells escaped


def test_text_has_one_block_per_row(rows: dict[str, er.Erratum]) -> None:
    blocks = er.errata_table("text").split("\n\n")
    assert len(blocks) == len(rows)
    assert blocks[list(rows).index("eq4-cosh")].startswith("[eq4-cosh] eq. (4): differs")


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_cli_prints_the_table(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["errata", "--format", fmt]) == 0
    assert capsys.readouterr().out == er.errata_table(fmt) + "\n"


def test_cli_default_is_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["errata"]) == 0
    assert capsys.readouterr().out.startswith("[codomain]")


def test_cli_rejects_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["errata", "--format", "yaml"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_readme_links_the_generated_errata_page() -> None:
    # The table lives on the documentation site, computed by errata_table() when the site is
    # built (docs/_ext/biper_docs.py; tests/test_docs.py checks the built page). The README
    # keeps the summary and a link, and no copy of the table that could go stale.
    text = README.read_text(encoding="utf-8")
    assert "(docs/errata.md)" in text
    assert "<!-- errata:start -->" not in text and "| id | where | as printed |" not in text
    page = (README.parent / "docs" / "errata.md").read_text(encoding="utf-8")
    assert "```{include} _generated/include/errata.md" in page
