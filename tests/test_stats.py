"""Tests for :mod:`biper_theory.stats`, the law of ŵ as a scipy.stats distribution.

Exact checks (50-digit mpmath references, agreement with :mod:`biper_theory.closed_form`)
use float64 tolerances; Monte-Carlo checks use k standard errors or a test level, with
fixed seeds, and are kept in their own section.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from biper_theory import closed_form as cf
from biper_theory.stats import BiPerSineLaplace, biper_sine_laplace, law

EPS = float(np.finfo(np.float64).eps)
#: Relative tolerance of the quantile function against 50-digit references.
PPF_RTOL = 1e-13
#: Relative tolerance of the moments against 50-digit references.
MOMENT_RTOL = 1e-13

# ---------------------------------------------------------------------------------------
# 50-digit reference tables. Generated once with mpmath (mp.dps = 50), printed with 20
# significant digits; each q is a float64 and the reference is exact at that float.
#
# PPF, rows (a, q, y): the inverse of the upper tail P[ŵ > y] = sinh(acos(y)/a)/(2 sinh(pi/(2a))):
#   q < 1/2:  -cos(a*asinh(2*q*sinh(pi/(2*a))))
#   q ≥ 1/2:  +cos(a*asinh(2*(1 - q)*sinh(pi/(2*a))))     (the median is exactly 0)
# Checked while generating against mp.findroot of log(tail(y)) = log(q) (to 1e-35, for
# a = 0.05, 0.3, 1, 2.5 and q = 1e-20, 1e-5, 0.2, 0.3).
PPF: list[tuple[float, ...]] = [
    (1e-06, 1e-300, -6.9008232594654196148e-4),
    (1e-06, 1e-100, -2.2956536010248574564e-4),
    (1e-06, 1e-20, -4.5358554663767529446e-5),
    (1e-06, 1e-05, -1.0819778284199174956e-5),
    (1e-06, 0.2, -9.1629073187402675032e-7),
    (1e-06, 0.3, -5.1082562376596848105e-7),
    (1e-06, 0.5, 0.0),
    (1e-06, 0.500000001, 1.9999999454361368722e-15),
    (1e-06, 0.7, 5.1082562376596829601e-7),
    (1e-06, 0.99999, 1.0819778284203726064e-5),
    (1e-06, 0.999999999999, 2.6937896054075496902e-5),
    (0.0001, 1e-300, -6.8953479998592479318e-2),
    (0.0001, 1e-100, -2.2954519906142758315e-2),
    (0.0001, 1e-20, -4.5358399145111685232e-3),
    (0.0001, 1e-05, -1.0819776173334575005e-3),
    (0.0001, 0.2, -9.1629073059197613867e-5),
    (0.0001, 0.3, -5.1082562354383028186e-5),
    (0.0001, 0.5, 0.0),
    (0.0001, 0.500000001, 1.9999999454361370585e-13),
    (0.0001, 0.7, 5.1082562354383009682e-5),
    (0.0001, 0.99999, 1.0819776173339126110e-3),
    (0.0001, 0.999999999999, 2.6937863478193823861e-3),
    (0.001, 1e-300, -6.3660071586214305581e-1),
    (0.001, 1e-100, -2.2755430971600863790e-1),
    (0.001, 1e-20, -4.5343002842295134611e-2),
    (0.001, 1e-05, -1.0819567178062761565e-2),
    (0.001, 0.2, -9.1629060365626886634e-4),
    (0.001, 0.3, -5.1082560154994473421e-4),
    (0.001, 0.5, 0.0),
    (0.001, 0.500000001, 1.9999999454361370043e-12),
    (0.001, 0.7, 5.1082560154994454918e-4),
    (0.001, 0.99999, 1.0819567178067312407e-2),
    (0.001, 0.999999999999, 2.6934638260395594956e-2),
    (0.05, 1e-300, -1.0000000000000000000),
    (0.05, 1e-100, -1.0000000000000000000),
    (0.05, 1e-20, -9.9999999999999975765e-1),
    (0.05, 1e-05, -5.1498394042695313880e-1),
    (0.05, 0.2, -4.5798511039216416347e-2),
    (0.05, 0.3, -2.5538504273092283755e-2),
    (0.05, 0.5, 0.0),
    (0.05, 0.500000001, 9.9999997271806853685e-11),
    (0.05, 0.7, 2.5538504273092274506e-2),
    (0.05, 0.99999, 5.1498394042714819925e-1),
    (0.05, 0.999999999999, 9.7503716454995672000e-1),
    (0.3, 1e-300, -1.0000000000000000000),
    (0.3, 1e-100, -1.0000000000000000000),
    (0.3, 1e-20, -1.0000000000000000000),
    (0.3, 1e-05, -9.9999984110560687518e-1),
    (0.3, 0.2, -2.7139547505663949098e-1),
    (0.3, 0.3, -1.5263363287512597914e-1),
    (0.3, 0.5, 0.0),
    (0.3, 0.500000001, 5.9996600172306168675e-10),
    (0.3, 0.7, 1.5263363287512592429e-1),
    (0.3, 0.99999, 9.9999984110560687662e-1),
    (0.3, 0.999999999999, 1.0000000000000000000),
    (0.9548824709875438, 1e-300, -1.0000000000000000000),
    (0.9548824709875438, 1e-100, -1.0000000000000000000),
    (0.9548824709875438, 1e-20, -1.0000000000000000000),
    (0.9548824709875438, 1e-05, -9.9999999886567725075e-1),
    (0.9548824709875438, 0.2, -6.6746466945542473152e-1),
    (0.9548824709875438, 0.3, -4.1853675531020563933e-1),
    (0.9548824709875438, 0.5, 0.0),
    (0.9548824709875438, 0.500000001, 1.7725873081405047910e-9),
    (0.9548824709875438, 0.7, 4.1853675531020550591e-1),
    (0.9548824709875438, 0.99999, 9.9999999886567725076e-1),
    (0.9548824709875438, 0.999999999999, 1.0000000000000000000),
    (2.5, 1e-300, -1.0000000000000000000),
    (2.5, 1e-100, -1.0000000000000000000),
    (2.5, 1e-20, -1.0000000000000000000),
    (2.5, 1e-05, -9.9999999943806401020e-1),
    (2.5, 0.2, -7.8833652336342860994e-1),
    (2.5, 0.3, -5.5668809959095702126e-1),
    (2.5, 0.5, 0.0),
    (2.5, 0.500000001, 2.7844664566145082073e-9),
    (2.5, 0.7, 5.5668809959095687784e-1),
    (2.5, 0.99999, 9.9999999943806401021e-1),
    (2.5, 0.999999999999, 1.0000000000000000000),
    (40.0, 1e-300, -1.0000000000000000000),
    (40.0, 1e-100, -1.0000000000000000000),
    (40.0, 1e-20, -1.0000000000000000000),
    (40.0, 1e-05, -9.9999999950626605831e-1),
    (40.0, 0.2, -8.0893725512325132978e-1),
    (40.0, 0.3, -5.8765984387156937438e-1),
    (40.0, 0.5, 0.0),
    (40.0, 0.500000001, 3.1399786500826223275e-9),
    (40.0, 0.7, 5.8765984387156923328e-1),
    (40.0, 0.99999, 9.9999999950626605832e-1),
    (40.0, 0.999999999999, 1.0000000000000000000),
    (1000.0, 1e-300, -1.0000000000000000000),
    (1000.0, 1e-100, -1.0000000000000000000),
    (1000.0, 1e-20, -1.0000000000000000000),
    (1000.0, 1e-05, -9.9999999950651937411e-1),
    (1000.0, 0.2, -8.0901686679971014488e-1),
    (1000.0, 0.3, -5.8778505161567239810e-1),
    (1000.0, 0.5, 0.0),
    (1000.0, 0.500000001, 3.1415899808857260829e-9),
    (1000.0, 0.7, 5.8778505161567225702e-1),
    (1000.0, 0.99999, 9.9999999950651937412e-1),
    (1000.0, 0.999999999999, 1.0000000000000000000),
    (1000000.0, 1e-300, -1.0000000000000000000),
    (1000000.0, 1e-100, -1.0000000000000000000),
    (1000000.0, 1e-20, -1.0000000000000000000),
    (1000000.0, 1e-05, -9.9999999950651977999e-1),
    (1000000.0, 0.2, -8.0901699437481982838e-1),
    (1000000.0, 0.3, -5.8778525229227248055e-1),
    (1000000.0, 0.5, 0.0),
    (1000000.0, 0.500000001, 3.1415925647369012622e-9),
    (1000000.0, 0.7, 5.8778525229227233946e-1),
    (1000000.0, 0.99999, 9.9999999950651977999e-1),
    (1000000.0, 0.999999999999, 1.0000000000000000000),
]

# KURTOSIS (excess), rows (a, value): m4/m2**2 - 3 with
#   m4 = 3/8 - 1/(2*(1 + 4*a**2)) + 1/(8*(1 + 16*a**2)),   m2 = 2*a**2/(1 + 4*a**2)
# (m4 cancels to 24a⁴ at small a; 50 digits leave ≥ 26). m4 was checked against mp.quad of
# sin(x)**4*exp(-x/a)/a over [0, Nπ] and against 24*a**4/((1 + 4*a**2)*(1 + 16*a**2)).
KURTOSIS: list[tuple[float, ...]] = [
    (1e-06, 2.9999999999280000000),
    (0.0001, 2.9999992800001152000),
    (0.001, 2.9999280011519815683),
    (0.05, 2.8269230769230769046),
    (0.3, 3.4426229508196729367e-1),
    (0.9548824709875438, -1.2113313701895089094),
    (2.5, -1.4554455445544554455),
    (40.0, -1.4998242256161868677),
    (1000.0, -1.4999997187500175781),
    (1000000.0, -1.4999999999997187500),
]

# SIXTH_MOMENT, rows (a, value): 720*a**6/((1 + 4*a**2)*(1 + 16*a**2)*(1 + 36*a**2)),
# checked against mp.quad of sin(x)**6*exp(-x/a)/a over [0, Nπ].
SIXTH_MOMENT: list[tuple[float, ...]] = [
    (1e-06, 7.1999999995967980451e-34),
    (0.0001, 7.1999959680016955096e-22),
    (0.001, 7.1995968169337521168e-16),
    (0.05, 9.8258767302277189148e-6),
    (0.3, 3.7304861629155215342e-2),
    (0.9548824709875438, 2.2273683922681216979e-1),
    (2.5, 2.9618931515343501675e-1),
    (40.0, 3.1243355066215943725e-1),
    (1000.0, 3.1249989366322303300e-1),
    (1000000.0, 3.1249999999989366319e-1),
]

A_GRID = [
    pytest.param(1e-6, id="a=1e-6"),
    pytest.param(1e-3, id="a=1e-3"),
    pytest.param(0.05, id="a=0.05"),
    pytest.param(0.9548824709875438, id="a=a_star"),
    pytest.param(40.0, id="a=40"),
    pytest.param(1e6, id="a=1e6"),
]

#: a = b·ω₀, log-uniform over the documented domain [1e-6, 1e6].
a_values = st.floats(-6.0, 6.0).map(lambda e: 10.0**e)


def _y_grid() -> np.ndarray:
    k = np.arange(1, 54, dtype=np.float64)
    y = np.concatenate([np.linspace(0.0, 1.0, 1001), 1.0 - 2.0**-k, [1e-300, 1e-20, 1e-9, 1.5, np.inf]])
    return np.concatenate([y, -y])


# ---------------------------------------------------------------------------------------
# Exact: agreement with closed_form and with the 50-digit references
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("a", A_GRID)
def test_methods_match_closed_form(a: float) -> None:
    y = _y_grid()
    # The distribution calls the same cores, so the values are identical, not just close;
    # at ±1 and outside the support scipy's own masks give the same answers.
    assert_array_equal(biper_sine_laplace.pdf(y, a), cf.pdf(y, a=a))
    assert_array_equal(biper_sine_laplace.logpdf(y, a), cf.logpdf(y, a=a))
    assert_array_equal(biper_sine_laplace.cdf(y, a), cf.cdf(y, a=a))
    assert_array_equal(biper_sine_laplace.sf(y, a), cf.sf(y, a=a))


def _ppf_rows() -> list[object]:
    groups: dict[float, list[tuple[float, float]]] = {}
    for a, q, y in PPF:
        groups.setdefault(a, []).append((q, y))
    return [
        pytest.param(a, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), id=f"a={a:g}")
        for a, rows in groups.items()
    ]


@pytest.mark.parametrize(("a", "q", "ref"), _ppf_rows())
def test_ppf_and_isf_reference(a: float, q: np.ndarray, ref: np.ndarray) -> None:
    median = ref == 0.0
    for got in (biper_sine_laplace.ppf(q, a), -biper_sine_laplace.isf(q, a)):
        assert_array_equal(got[median], 0.0)
        rel = np.abs(got[~median] / ref[~median] - 1.0)
        assert rel.max() <= PPF_RTOL, f"worst relative error {rel.max():.3g}"


def _mp_ppf(q: float, a: float) -> mpmath.mpf:
    """50-digit quantile (same expression as the PPF table)."""
    with mpmath.workdps(50):
        qq, aa = mpmath.mpf(q), mpmath.mpf(a)
        p, sign = (qq, -1) if qq < 0.5 else (1 - qq, 1)
        return sign * mpmath.cos(aa * mpmath.asinh(2 * p * mpmath.sinh(mpmath.pi / (2 * aa))))


@settings(max_examples=100)
@given(a=a_values, log_q=st.floats(-300.0, math.log10(0.4999)), upper=st.booleans())
def test_ppf_matches_mpmath_at_random_points(a: float, log_q: float, upper: bool) -> None:
    q = 10.0**log_q
    q = 1.0 - q if upper else q
    got = float(biper_sine_laplace.ppf(q, a))
    ref = _mp_ppf(q, a)
    assert abs(mpmath.mpf(got) / ref - 1) <= PPF_RTOL


def test_ppf_isf_edges_and_invalid_probabilities() -> None:
    assert_array_equal(biper_sine_laplace.ppf([0.0, 0.5, 1.0], 0.3), [-1.0, 0.0, 1.0])
    assert_array_equal(biper_sine_laplace.isf([0.0, 0.5, 1.0], 0.3), [1.0, 0.0, -1.0])
    assert np.all(np.isnan(biper_sine_laplace.ppf([-0.1, 1.1, np.nan], 0.3)))  # scipy's convention


@given(a=a_values, y=st.floats(-1.0, 1.0, exclude_min=True, exclude_max=True))
def test_ppf_inverts_cdf(a: float, y: float) -> None:
    # Round trip through the smaller tail: ppf(cdf(y)) for y ≤ 0, isf(sf(y)) for y > 0.
    # Allowed error: the quantile's own 1e-13·|y| plus the rounding of the probability
    # (relative (8 + 2t/a)·eps, the cdf's accuracy) propagated through dy = dq / pdf(y).
    q = float(biper_sine_laplace.cdf(y, a) if y <= 0 else biper_sine_laplace.sf(y, a))
    f = float(biper_sine_laplace.pdf(y, a))
    assume(q > 1e-300 and f > 0.0)
    back = float(biper_sine_laplace.ppf(q, a) if y <= 0 else biper_sine_laplace.isf(q, a))
    t_over_a = math.asin(abs(y)) / a
    tol = PPF_RTOL * abs(y) + 2.0 * (8.0 + 2.0 * t_over_a) * EPS * q / f
    assert abs(back - y) <= tol


@given(a=a_values, q1=st.floats(0.0, 1.0), q2=st.floats(0.0, 1.0))
def test_ppf_monotone_and_isf_antisymmetric(a: float, q1: float, q2: float) -> None:
    lo, hi = min(q1, q2), max(q1, q2)
    assert biper_sine_laplace.ppf(lo, a) <= biper_sine_laplace.ppf(hi, a)
    assert biper_sine_laplace.isf(q1, a) == -biper_sine_laplace.ppf(q1, a)


def test_ppf_finite_and_exception_free_on_dense_grid() -> None:
    q = np.concatenate(
        [np.logspace(-320, -1, 400), np.linspace(0.0, 1.0, 2001), 1.0 - np.logspace(-16, -1, 100)]
    )
    a = np.logspace(-6, 6, 49)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            y = biper_sine_laplace.ppf(q, a)
            z = biper_sine_laplace.isf(q, a)
    assert np.all(np.isfinite(y)) and np.all(np.abs(y) <= 1.0) and np.all(z == -y)
    assert np.all(np.diff(y, axis=1)[:, 400:2400] >= 0.0)  # along the sorted linspace part


@pytest.mark.parametrize("a", A_GRID)
def test_moments_match_closed_form(a: float) -> None:
    mean, var, skew, kurt = biper_sine_laplace.stats(a, moments="mvsk")
    assert mean == 0.0 and skew == 0.0
    assert kurt == pytest.approx((3.0 - 24.0 * a * a) / (1.0 + 16.0 * a * a), rel=1e-14, abs=1e-15)
    assert var == cf.second_moment(a=a)
    assert biper_sine_laplace.var(a) == cf.second_moment(a=a)
    assert biper_sine_laplace.std(a) == pytest.approx(math.sqrt(cf.second_moment(a=a)), rel=EPS)
    assert biper_sine_laplace.mean(a) == 0.0 and biper_sine_laplace.median(a) == 0.0
    for n in (1, 3, 5, 7):
        assert biper_sine_laplace.moment(n, a) == 0.0


def _table(rows: list[tuple[float, ...]]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def test_kurtosis_reference() -> None:
    a, ref = _table(KURTOSIS)
    assert_allclose(biper_sine_laplace.stats(a, moments="k"), ref, rtol=MOMENT_RTOL)
    # E ŵ⁴ = (kurtosis + 3)·(E ŵ²)² through scipy's moment(4)
    m2 = cf.second_moment(a=a)
    assert_allclose(biper_sine_laplace.moment(4, a), (ref + 3.0) * m2 * m2, rtol=MOMENT_RTOL)


def test_sixth_moment_reference() -> None:
    a, ref = _table(SIXTH_MOMENT)
    assert_allclose([biper_sine_laplace.moment(6, ai) for ai in a], ref, rtol=MOMENT_RTOL)


@pytest.mark.parametrize(
    "a", [pytest.param(0.05, id="a=0.05"), pytest.param(0.9548824709875438, id="a=a_star")]
)
def test_expect_agrees_with_exact_moments(a: float) -> None:
    # scipy's generic expect integrates the pdf numerically: an independent route.
    d = law(a=a)
    assert d.expect(lambda x: x * x) == pytest.approx(float(cf.second_moment(a=a)), rel=1e-8)
    assert d.expect(lambda x: x**4) == pytest.approx(d.moment(4), rel=1e-8)
    assert d.expect(lambda x: np.abs(x)) == pytest.approx(float(cf.optimal_gamma(a=a)), rel=1e-8)


@given(a=a_values)
def test_moment_limits(a: float) -> None:
    # Excess kurtosis decreases from 3 (Laplace, a → 0) to -3/2 (arcsine law, a → ∞).
    k = float(biper_sine_laplace.stats(a, moments="k"))
    assert -1.5 <= k <= 3.0
    assert k == pytest.approx((3.0 - 24.0 * a * a) / (1.0 + 16.0 * a * a), rel=1e-13, abs=1e-15)


def test_invalid_shape_gives_nan_as_in_scipy() -> None:
    for bad in (0.0, -1.0, np.inf, np.nan):
        assert np.isnan(biper_sine_laplace.pdf(0.1, bad))
        assert np.isnan(biper_sine_laplace.ppf(0.3, bad))
        assert np.isnan(biper_sine_laplace.var(bad))


def test_support_and_shape_metadata() -> None:
    assert biper_sine_laplace.support(0.7) == (-1.0, 1.0)
    assert biper_sine_laplace.shapes == "a"
    assert isinstance(biper_sine_laplace, BiPerSineLaplace)
    assert isinstance(biper_sine_laplace, stats.rv_continuous)
    lo, hi = biper_sine_laplace.interval(0.9, 0.7)
    assert lo == pytest.approx(-hi, rel=1e-15)


def test_broadcasting() -> None:
    y = np.linspace(-0.9, 0.9, 5)[:, None]
    a = np.array([0.1, 1.0, 10.0])
    for method in (biper_sine_laplace.pdf, biper_sine_laplace.cdf, biper_sine_laplace.ppf):
        arg = y if method is not biper_sine_laplace.ppf else (y + 1.0) / 2.0
        assert method(arg, a).shape == (5, 3)
    assert biper_sine_laplace.stats(a, moments="v").shape == (3,)


# ---------------------------------------------------------------------------------------
# Frozen form and law(): validation
# ---------------------------------------------------------------------------------------


def test_law_freezes_at_a_equal_b_times_omega0() -> None:
    d = law(b=0.05, omega0=20.0)
    assert d.args == (1.0,) and isinstance(d.args[0], float)
    y = np.linspace(-1.0, 1.0, 101)
    assert_array_equal(d.pdf(y), cf.pdf(y, b=0.05, omega0=20.0))
    assert_array_equal(d.cdf(y), biper_sine_laplace.cdf(y, 1.0))
    assert_array_equal(d.ppf([0.1, 0.9]), biper_sine_laplace.ppf([0.1, 0.9], 1.0))
    assert d.var() == cf.second_moment(a=1.0)
    assert law(a=1.0).args == (1.0,)


def test_law_with_arrays() -> None:
    d = law(b=np.array([[0.1], [0.2]]), omega0=np.array([1.0, 2.0, 3.0]))
    assert d.var().shape == (2, 3)
    assert_allclose(d.var(), cf.second_moment(b=np.array([[0.1], [0.2]]), omega0=np.array([1.0, 2.0, 3.0])))


LAW_ERRORS = [
    pytest.param({"b": 0.0, "omega0": 1.0}, r"^b must be .*\(0, inf\)", id="b-zero"),
    pytest.param({"b": -0.1, "omega0": 1.0}, r"^b must be .*\(0, inf\)", id="b-negative"),
    pytest.param({"b": np.nan, "omega0": 1.0}, r"^b must be .*\(0, inf\)", id="b-nan"),
    pytest.param({"b": np.inf, "omega0": 1.0}, r"^b must be .*\(0, inf\)", id="b-inf"),
    pytest.param({"b": 1.0, "omega0": 0.0}, r"^omega0 must be .*\(0, inf\)", id="omega0-zero"),
    pytest.param({"b": 1.0, "omega0": -np.inf}, r"^omega0 must be .*\(0, inf\)", id="omega0-minus-inf"),
    pytest.param({"b": 1.0, "omega0": np.nan}, r"^omega0 must be .*\(0, inf\)", id="omega0-nan"),
    pytest.param({"a": -2.0}, r"^a must be .*\(0, inf\)", id="a-negative"),
    pytest.param({"b": 1.0}, r"both b .*omega0.*required", id="omega0-missing"),
    pytest.param({}, r"both b .*omega0.*required", id="nothing-given"),
    pytest.param({"a": 1.0, "omega0": 2.0}, r"either a, or both b and omega0", id="both-forms"),
    pytest.param({"b": 1e300, "omega0": 1e300}, r"b\*omega0 .*over- or underflowed", id="product-overflow"),
    pytest.param({"b": np.ones(2), "omega0": np.ones(3)}, r"do not broadcast", id="shapes"),
]


@pytest.mark.parametrize(("kwargs", "message"), LAW_ERRORS)
def test_law_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        law(**kwargs)


def test_law_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        law(0.05, 20.0)  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Monte Carlo (fixed seeds; tolerances are test levels or k standard errors, not exact)
# ---------------------------------------------------------------------------------------

MC_SAMPLES = 100_000
#: Level of the Kolmogorov–Smirnov tests (the seeds are fixed, so the outcome is too).
KS_LEVEL = 1e-3
#: Monte-Carlo tolerance in standard errors.
K_SE = 4.0


@pytest.mark.parametrize("a", A_GRID)
def test_rvs_is_sine_of_laplace_and_reproducible(a: float) -> None:
    x1 = biper_sine_laplace.rvs(a, size=1000, random_state=np.random.default_rng(7))
    x2 = biper_sine_laplace.rvs(a, size=1000, random_state=np.random.default_rng(7))
    assert_array_equal(x1, x2)
    assert_array_equal(x1, np.sin(np.random.default_rng(7).laplace(0.0, a, size=1000)))
    assert_array_equal(law(a=a).rvs(size=10, random_state=3), law(a=a).rvs(size=10, random_state=3))
    assert np.all(np.abs(x1) <= 1.0)


@pytest.mark.parametrize(
    ("a", "a_other"),
    [
        pytest.param(0.01, 0.0105, id="a=0.01"),
        pytest.param(0.9548824709875438, 1.05 * 0.9548824709875438, id="a=a_star"),
        # for a ≥ 20 every law is within 2e-4 of the arcsine law, so the alternative is a = 3
        pytest.param(100.0, 3.0, id="a=100"),
    ],
)
def test_rvs_passes_kolmogorov_smirnov(a: float, a_other: float) -> None:
    x = law(a=a).rvs(size=MC_SAMPLES, random_state=np.random.default_rng(20240401))
    assert stats.kstest(x, biper_sine_laplace.cdf, args=(a,)).pvalue > KS_LEVEL
    # ... and the test has power: the same samples reject a visibly different law.
    assert stats.kstest(x, biper_sine_laplace.cdf, args=(a_other,)).pvalue < KS_LEVEL
    # Second and fourth moments within K_SE standard errors of the exact values.
    for n in (2, 4):
        xn = x**n
        se = xn.std(ddof=1) / math.sqrt(MC_SAMPLES)
        assert abs(xn.mean() - biper_sine_laplace.moment(n, a)) < K_SE * se
