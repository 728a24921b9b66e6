"""biper_theory.laws.student_t: the Gaussian scale mixture against quadrature, the closed
characteristic functions of ν = 1, 3, Monte Carlo, and the Gaussian limit."""

from __future__ import annotations

import numpy as np
import pytest
from _laws_checks import (
    assert_matches_monte_carlo,
    assert_matches_quadrature,
    assert_pdf_hat_integrates,
    assert_properties,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from biper_theory import laws

# x = 1e3 is checked against the closed characteristic functions below (the quadrature
# reference would sum ~1e7 periods there)
CASES = [
    pytest.param(df, x, id=f"df={df:g}-x={x:g}")
    for df, xs in ((1.0, (1e-3, 0.5, 3.0)), (3.0, (1e-3, 0.05, 0.5, 3.0, 30.0)), (30.0, (1e-3, 0.5, 30.0)))
    for x in xs
]
# φ of t_1 (Cauchy) and t_3, closed forms
CF = {
    1.0: lambda t: np.exp(-np.abs(t)),
    3.0: lambda t: (1 + np.sqrt(3) * np.abs(t)) * np.exp(-np.sqrt(3) * np.abs(t)),
}


@pytest.mark.parametrize(("df", "x"), CASES)
def test_quantities_against_quadrature(df: float, x: float) -> None:
    assert_matches_quadrature(
        laws.StudentT(df=df),
        x,
        lambda u: stats.t.pdf(u, df),
        lambda u: stats.t.sf(u, df),
        u_max=1e7 if df == 1.0 else 1e5,  # the polynomial tail left beyond is below 1e-14
    )


@pytest.mark.parametrize("df", [1.0, 3.0])
@pytest.mark.parametrize("x", [1e-3, 0.05, 0.5, 3.0, 30.0, 1e3])
def test_against_closed_characteristic_function(df: float, x: float) -> None:
    law, phi = laws.StudentT(df=df), CF[df]
    # E ŵ² = (1 - φ(2x))/2 and γ* = 2/π - (4/π) Σ φ(2kx)/(4k²-1); -expm1 form for ν = 1
    m2 = -0.5 * np.expm1(-2 * x) if df == 1.0 else 0.5 * (1 - phi(2 * x))
    assert float(law.second_moment(omega0=x)) == pytest.approx(m2, rel=1e-10)
    assert float(law.cos2_mean(omega0=x)) == pytest.approx(phi(2 * x), rel=1e-10, abs=1e-15)
    if x >= 0.5:  # the series converges geometrically there
        k = np.arange(1, 2000)
        g = 2 / np.pi - 4 / np.pi * np.sum(phi(2 * k * x) / (4 * k * k - 1))
        assert float(law.optimal_gamma(omega0=x)) == pytest.approx(g, rel=1e-10)


@pytest.mark.parametrize("x", [0.1, 1.0])
def test_pdf_hat_integrates_to_one_and_to_second_moment(x: float) -> None:
    assert_pdf_hat_integrates(laws.StudentT(df=3.0), x)


@pytest.mark.parametrize("x", [1e-3, 0.5, 3.0, 1e3])
def test_quantities_against_monte_carlo(x: float) -> None:
    u = stats.t.rvs(3.0, size=200_000, random_state=np.random.default_rng(14))
    assert_matches_monte_carlo(laws.StudentT(df=3.0), x, u)


@settings(max_examples=25)  # each example evaluates the numerical route ~10 times
@given(df=st.floats(0.5, 1e3), scale=st.floats(1e-3, 1e1), omega0=st.floats(1e-2, 1e2))
def test_properties(df: float, scale: float, omega0: float) -> None:
    assert_properties(laws.StudentT(df=df, scale=scale), omega0)


def test_large_df_approaches_gaussian() -> None:
    x = np.array([0.1, 1.0, 3.0])
    gauss = laws.Gaussian(sigma=1.0).quantities(omega0=x).as_dict()
    errors = []
    for df in (1e2, 1e4, 1e6):
        q = laws.StudentT(df=df).quantities(omega0=x).as_dict()
        errors.append(max(float(np.max(np.abs(q[k] - gauss[k]))) for k in ("second_moment", "optimal_gamma")))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-5  # O(1/ν)


def test_fit_is_scipy_mle(rng: np.random.Generator) -> None:
    w = stats.t.rvs(4.0, scale=0.05, size=4000, random_state=rng)
    law = laws.fit("t", w)
    df, _, scale = stats.t.fit(w, floc=0)
    assert (law.df, law.scale) == pytest.approx((df, scale), rel=1e-12)
    assert law.n_params == 2 and law.aic == pytest.approx(4 - 2 * np.sum(stats.t.logpdf(w, df, 0, scale)))
