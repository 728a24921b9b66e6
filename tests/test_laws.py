"""biper_theory.laws: the registry, fitting and AIC comparison."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biper_theory import laws


def test_registry_names_and_errors() -> None:
    assert laws.NAMES == ("laplace", "gaussian", "gennorm", "t", "empirical")
    assert laws.get("laplace") is laws.Laplace
    with pytest.raises(
        ValueError, match="law must be one of laplace, gaussian, gennorm, t, empirical; got 'cauchy'"
    ):
        laws.get("cauchy")


def test_best_by_aic_picks_the_generating_law(rng: np.random.Generator) -> None:
    lap = laws.fit_all(rng.laplace(0, 0.05, 20_000), names=("laplace", "gaussian", "empirical"))
    assert laws.best_by_aic(lap) == "laplace"
    gau = laws.fit_all(rng.normal(0, 0.05, 20_000), names=("laplace", "gaussian"))
    assert laws.best_by_aic(gau) == "gaussian"
    with pytest.raises(ValueError, match="at least one fitted"):
        laws.best_by_aic({"empirical": lap["empirical"]})


def test_fit_size_subsamples_the_same_weights_for_every_law(rng: np.random.Generator) -> None:
    w = rng.laplace(0, 0.05, 50_000)
    fits = laws.fit_all(w, names=("laplace", "gaussian"), fit_size=1000, rng=3)
    assert {f.n for f in fits.values()} == {1000}
    sub = np.sort(np.random.default_rng(3).choice(w.size, 1000, replace=False, shuffle=False))
    assert fits["laplace"].b == pytest.approx(np.mean(np.abs(w[sub])), rel=1e-13)
    with pytest.raises(ValueError, match="fit_size"):
        laws.fit("laplace", w, fit_size=1)


def _full_grid_peak(law: laws.Law) -> tuple[float, float]:
    """Law.qe_peak's definition with every point of its grid evaluated: the grid maximum on
    [1e-3, 1e3] (151 points), refined by the same bounded Brent search between its neighbours."""
    std = law.standardized()
    grid = np.geomspace(1e-3, 1e3, 151)
    return laws.Law._refined_peak(std, grid, std.quantization_error(omega0=grid))


@settings(max_examples=15, deadline=None)  # each example is two peak searches (~10-60 ms each)
@given(
    name=st.sampled_from(["gennorm", "t"]),
    position=st.floats(0.0, 1.0),
)
def test_qe_peak_coarse_to_fine_is_the_full_grid_search(name: str, position: float) -> None:
    # laws with one QE* maximum (t for ν in [0.6, 300]; gennorm for β in [0.6, 2]) skip most of
    # the grid and still find the maximum of the whole grid: the same answer, bit for bit
    lo, hi = (0.6, 2.0) if name == "gennorm" else (0.6, 300.0)
    shape = float(lo * (hi / lo) ** position)
    law = laws.get(name)(**{"beta" if name == "gennorm" else "df": shape})
    assert law._single_qe_peak()
    assert law.qe_peak() == _full_grid_peak(law)


def test_qe_peak_of_an_oscillating_law_is_the_highest_of_its_maxima() -> None:
    # gennorm above β = 2 evaluates the whole grid: at β = e⁵ (near uniform) the highest maximum
    # sits between two coarse points that are not local maxima, and a coarse pass alone found
    # x = 6.61 (QE* 0.1009) instead of 3.43 (0.1060)
    law = laws.get("gennorm")(beta=float(np.exp(5.0)))
    assert not law._single_qe_peak()
    assert law.qe_peak() == _full_grid_peak(law)
    x_star, q_star = law.qe_peak()
    assert x_star == pytest.approx(3.43, abs=0.01)
    assert q_star == pytest.approx(0.1060, abs=1e-4)


@pytest.mark.parametrize("name", ["laplace", "gaussian", "gennorm", "t"])
def test_ks_test_is_scipys_against_the_frozen_law(name: str, rng: np.random.Generator) -> None:
    # the KS test uses scipy's CDF without building a frozen law: the same statistic and p-value
    from scipy import stats

    w = rng.standard_t(4, 3000) * 0.05
    fit = laws.fit(name, w, ks_size=2000, rng=5)
    frozen = {
        "laplace": lambda: stats.laplace(0.0, fit.scale),
        "gaussian": lambda: stats.norm(0.0, fit.scale),
        "gennorm": lambda: stats.gennorm(fit.params["beta"], 0.0, fit.scale),
        "t": lambda: stats.t(fit.params["df"], 0.0, fit.scale),
    }[name]()
    sub = laws.subsample(w, 2000, 5)
    res = stats.kstest(sub, frozen.cdf, method="asymp")
    assert (fit.ks_statistic, fit.ks_pvalue) == (float(res.statistic), float(res.pvalue))
