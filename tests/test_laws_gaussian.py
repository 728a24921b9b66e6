"""biper_theory.laws.gaussian: closed forms and series of the Gaussian law (moved from weights)."""

from __future__ import annotations

import numpy as np
import pytest
from _laws_checks import (
    assert_matches_monte_carlo,
    assert_matches_quadrature,
    assert_pdf_hat_integrates,
    assert_properties,
)
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from biper_theory import laws, weights
from biper_theory.laws import gaussian as g

LAW = laws.Gaussian(sigma=1.0)
GRID = [pytest.param(x, id=f"s={x:g}") for x in (1e-3, 0.05, 0.35, 0.8, 1.5, 3.0, 60.0, 1e3)]


def _g(u: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi)


def _sf(u: np.ndarray) -> np.ndarray:
    return special.ndtr(-u)


@pytest.mark.parametrize("x", GRID)
def test_quantities_against_quadrature(x: float) -> None:
    assert_matches_quadrature(LAW, x, _g, _sf, u_max=9.0)


@pytest.mark.parametrize("x", [1e-2, 0.3, 1.49, 1.5, 4.0])
def test_pdf_hat_integrates_to_one_and_to_second_moment(x: float) -> None:
    assert_pdf_hat_integrates(LAW, x)


def test_pdf_hat_branches_agree_at_switch() -> None:
    y = np.linspace(-0.99, 0.99, 41)
    s = g._PERIODIC_SWITCH
    direct = g._periodic.pdf_hat_direct(y, np.full(y.shape, s), g._pdf, g._U_MAX)
    fourier = g._periodic.pdf_hat_fourier(y, np.full(y.shape, s), g._cf, g._FOURIER_TERMS)
    np.testing.assert_allclose(direct, fourier, rtol=1e-13)
    cd = g._periodic.crest_direct(np.array([s]), 0.9, g._sf, g._U_MAX)
    cfr = g._periodic.crest_fourier(np.array([s]), 0.9, g._cf, g._FOURIER_TERMS)
    np.testing.assert_allclose(cd, cfr, rtol=1e-13)


@pytest.mark.parametrize("x", [1e-3, 0.3, 1.0, 10.0, 1e3])
def test_quantities_against_monte_carlo(x: float) -> None:
    u = np.random.default_rng(12).standard_normal(200_000)
    assert_matches_monte_carlo(LAW, x, u)


@given(sigma=st.floats(1e-4, 1e2), omega0=st.floats(1e-2, 1e3))
def test_properties(sigma: float, omega0: float) -> None:
    assert_properties(laws.Gaussian(sigma=sigma), omega0)


def test_limits() -> None:
    q = LAW.quantities(omega0=1e-6)
    assert float(q.second_moment) == pytest.approx(1e-12, rel=1e-9) and float(q.quantization_error) < 1e-12
    q = LAW.quantities(omega0=1e6)
    assert float(q.second_moment) == 0.5 and float(q.optimal_gamma) == pytest.approx(2 / np.pi, rel=1e-15)


def test_weights_reexports_the_same_functions() -> None:
    assert weights.gaussian_optimal_gamma is g.gaussian_optimal_gamma
    q = weights.model_quantities("gaussian", scale=0.05, omega0=20.0).as_dict()
    ref = laws.Gaussian(sigma=0.05).quantities(omega0=20.0).as_dict()
    assert q == ref


def test_fit_is_scipy_mle(rng: np.random.Generator) -> None:
    w = rng.normal(0.02, 0.05, size=5000)
    fixed, free = laws.fit("gaussian", w), laws.fit("gaussian", w, fix_loc=False)
    assert fixed.sigma == pytest.approx(stats.norm.fit(w, floc=0)[1], rel=1e-12)
    assert (free.loc, free.sigma) == pytest.approx(stats.norm.fit(w), rel=1e-12)
    assert free.loglik == pytest.approx(float(np.sum(stats.norm.logpdf(w, free.loc, free.sigma))), rel=1e-12)
    assert (fixed.n_params, free.n_params) == (1, 2)
