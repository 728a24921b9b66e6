"""biper_theory.laws.laplace: the paper's law through the one interface."""

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
from scipy import stats

from biper_theory import closed_form as cf
from biper_theory import laws

LAW = laws.Laplace(b=1.0)
GRID = [pytest.param(x, id=f"a={x:g}") for x in (1e-3, 0.05, 0.5, 0.954882, 3.0, 30.0, 1e3)]


def _g(u: np.ndarray) -> np.ndarray:
    return 0.5 * np.exp(-np.abs(u))


def _sf(u: np.ndarray) -> np.ndarray:
    return 0.5 * np.exp(-u)


@pytest.mark.parametrize("x", GRID)
def test_quantities_against_quadrature(x: float) -> None:
    assert_matches_quadrature(LAW, x, _g, _sf, u_max=40.0)


@pytest.mark.parametrize("x", [1e-2, 0.3, 1.0, 10.0])
def test_pdf_hat_integrates_to_one_and_to_second_moment(x: float) -> None:
    assert_pdf_hat_integrates(LAW, x)


@pytest.mark.parametrize("x", [1e-3, 0.3, 1.0, 10.0, 1e3])
def test_quantities_against_monte_carlo(x: float) -> None:
    u = stats.laplace.rvs(size=200_000, random_state=np.random.default_rng(11))
    assert_matches_monte_carlo(LAW, x, u)


def test_delegates_to_closed_form() -> None:
    law = laws.Laplace(b=0.05)
    om = np.array([1.0, 20.0, 400.0])
    a = 0.05 * om
    np.testing.assert_array_equal(law.quantization_error(omega0=om), cf.quantization_error(a=a))
    np.testing.assert_array_equal(law.optimal_gamma(omega0=om), cf.optimal_gamma(a=a))
    np.testing.assert_array_equal(law.pdf_hat([0.1, -0.7], omega0=20.0), cf.pdf([0.1, -0.7], a=1.0))
    assert law.dimensionless(20.0) == pytest.approx(1.0)


@given(b=st.floats(1e-4, 1e2), omega0=st.floats(1e-2, 1e3))
def test_properties(b: float, omega0: float) -> None:
    assert_properties(laws.Laplace(b=b), omega0)


def test_limits() -> None:
    q0 = LAW.quantities(omega0=1e-6)
    assert float(q0.quantization_error) < 1e-12 and float(q0.second_moment) == pytest.approx(2e-12, rel=1e-5)
    q = LAW.quantities(omega0=1e6)
    assert float(q.second_moment) == pytest.approx(0.5, abs=1e-12)
    assert float(q.optimal_gamma) == pytest.approx(2 / np.pi, abs=1e-12)
    assert float(LAW.crest_share(omega0=1e6)) == pytest.approx(1 - 2 * np.arcsin(0.9) / np.pi, abs=1e-6)


def test_fit_is_scipy_mle_and_aic_counts_parameters(rng: np.random.Generator) -> None:
    w = rng.laplace(0.01, 0.05, size=5000)
    fixed = laws.fit("laplace", w)
    free = laws.fit("laplace", w, fix_loc=False)
    assert fixed.b == pytest.approx(stats.laplace.fit(w, floc=0)[1], rel=1e-12)
    loc, b = stats.laplace.fit(w)
    assert (free.loc, free.b) == pytest.approx((loc, b), rel=1e-9)
    assert fixed.loglik == pytest.approx(float(np.sum(stats.laplace.logpdf(w, 0, fixed.b))), rel=1e-12)
    assert fixed.n_params == 1 and free.n_params == 2
    assert free.aic == pytest.approx(2 * 2 - 2 * free.loglik)
    assert fixed.n == 5000 and 0 < fixed.ks_pvalue <= 1


def test_bad_parameters_name_the_argument() -> None:
    with pytest.raises(ValueError, match="b must be finite"):
        laws.Laplace(b=-1.0)
    with pytest.raises(ValueError, match="omega0"):
        LAW.second_moment(omega0=0.0)
    with pytest.raises(ValueError, match="threshold"):
        LAW.crest_share(omega0=1.0, threshold=1.0)
