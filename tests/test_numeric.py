"""Tests for biper_theory.numeric: the quadrature route against the closed forms.

The two routes share nothing but the definitions (checked below by reading numeric's
imports), so their agreement to 1e-10 over a in [1e-3, 1e3] checks both.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biper_theory import closed_form as cf
from biper_theory import numeric as nm

#: Exact-route tolerance promised by numeric for a in [1e-3, 1e3] (observed ~1e-13).
RTOL = 1e-10
#: Values below this are (near-)subnormal in float64 and carry no relative accuracy.
TINY = 1e-300

A_GRID = [
    pytest.param(1e-3, id="a=1e-3"),
    pytest.param(3e-3, id="a=3e-3"),
    pytest.param(1e-2, id="a=1e-2"),
    pytest.param(0.1, id="a=0.1"),
    pytest.param(0.5, id="a=0.5"),
    pytest.param(cf.qe_peak()[0], id="a=peak"),
    pytest.param(1.0, id="a=1"),
    pytest.param(2.0, id="a=2"),
    pytest.param(10.0, id="a=10"),
    pytest.param(100.0, id="a=100"),
    pytest.param(1e3, id="a=1e3"),
]

SCALAR_FUNCTIONS = [
    "second_moment",
    "optimal_gamma",
    "quantization_error",
    "normalized_quantization_error",
    "l1_quantization_error",
    "sign_flip_probability",
]

W_GRID = np.array(
    [-1.5, -1.0, -(1 - 1e-12), -0.999999, -0.99, -0.7, -0.3, -1e-6, 0.0, 1e-8, 0.2, 0.5, 0.9,
     0.999, 1 - 1e-12, 1.0, 2.0]
)  # fmt: skip


def _assert_rel(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=TINY)


# ----------------------------------------------------------------------------------------
# Scalar functionals
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCALAR_FUNCTIONS)
@pytest.mark.parametrize("a", A_GRID)
def test_functional_matches_closed_form(name: str, a: float) -> None:
    _assert_rel(getattr(nm, name)(a=a), getattr(cf, name)(a=a))


@pytest.mark.parametrize(
    "gamma",
    [
        pytest.param(0.0, id="gamma=0"),
        pytest.param(0.3, id="gamma=0.3"),
        pytest.param(2 / np.pi, id="gamma=2/pi"),
        pytest.param(1.0, id="gamma=1"),
        pytest.param(-0.5, id="gamma<0"),
        pytest.param(3.0, id="gamma=3"),
    ],
)
def test_quantization_error_at_given_gamma(gamma: float) -> None:
    a = np.array([1e-3, 0.05, 0.9548824709875438, 7.0, 1e3])
    _assert_rel(nm.quantization_error(a=a, gamma=gamma), cf.quantization_error(a=a, gamma=gamma))
    _assert_rel(
        nm.normalized_quantization_error(a=a, gamma=gamma),
        cf.normalized_quantization_error(a=a, gamma=gamma),
    )


@given(log_a=st.floats(min_value=-3.0, max_value=3.0))
def test_functionals_match_closed_form_over_log_a(log_a: float) -> None:
    a = 10.0**log_a
    for name in SCALAR_FUNCTIONS:
        _assert_rel(getattr(nm, name)(a=a), getattr(cf, name)(a=a))


def test_quantization_error_optimum_is_the_minimum_over_gamma() -> None:
    # QE(γ) integrated directly at γ = E|ŵ| equals QE* = E ŵ² - (E|ŵ|)² (two routes inside numeric).
    for a in (0.01, 0.9548824709875438, 50.0):
        g = nm.optimal_gamma(a=a)
        _assert_rel(nm.quantization_error(a=a, gamma=g), nm.quantization_error(a=a), rtol=1e-12)
        assert nm.quantization_error(a=a, gamma=g * 1.01) > nm.quantization_error(a=a)


def test_b_omega0_form_equals_a_form() -> None:
    kw = {"b": np.array([0.05, 0.5]), "omega0": np.array([20.0, 2.0])}
    a = kw["b"] * kw["omega0"]
    for name in SCALAR_FUNCTIONS:
        np.testing.assert_allclose(getattr(nm, name)(**kw), getattr(nm, name)(a=a), rtol=1e-14)


# ----------------------------------------------------------------------------------------
# Distribution
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", ["pdf", "cdf", "sf"])
@pytest.mark.parametrize("a", A_GRID)
def test_distribution_matches_closed_form(func: str, a: float) -> None:
    got = getattr(nm, func)(W_GRID, a=a)
    want = getattr(cf, func)(W_GRID, a=a)
    assert got.shape == W_GRID.shape
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite], want[~finite])  # +inf of the pdf at ±1
    _assert_rel(got[finite], want[finite])


def test_distribution_edges() -> None:
    y = np.array([-np.inf, -2.0, -1.0, 1.0, 2.0, np.inf])
    np.testing.assert_array_equal(nm.pdf(y, a=0.7), [0.0, 0.0, np.inf, np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(nm.cdf(y, a=0.7), [0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(nm.sf(y, a=0.7), [1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    assert nm.cdf(0.0, a=0.7) == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize("a", [pytest.param(0.2, id="a=0.2"), pytest.param(3.0, id="a=3")])
def test_cdf_plus_sf_is_one_and_pdf_is_its_derivative(a: float) -> None:
    y = np.linspace(-0.95, 0.95, 8)  # avoids y = 0, where the pdf has a cusp
    np.testing.assert_allclose(nm.cdf(y, a=a) + nm.sf(y, a=a), 1.0, rtol=1e-14)
    # Central difference of the smaller tail (cdf below 0, sf above), so nothing cancels
    # against 1; truncation error ~h² times the third log-derivative, ≲ 1e-7 relative here.
    h = 1e-5
    lower = (nm.cdf(y + h, a=a) - nm.cdf(y - h, a=a)) / (2 * h)
    upper = (nm.sf(y - h, a=a) - nm.sf(y + h, a=a)) / (2 * h)
    slope = np.where(y < 0, lower, upper)
    np.testing.assert_allclose(slope, nm.pdf(y, a=a), rtol=1e-6)


def test_broadcasting_and_scalar_output() -> None:
    out = nm.pdf(np.array([[-0.5], [0.0], [0.5]]), a=np.array([0.1, 1.0, 10.0, 100.0]))
    assert out.shape == (3, 4) and out.dtype == np.float64
    for value in (nm.pdf(0.1, a=1.0), nm.cdf(0.1, a=1.0), nm.second_moment(a=1.0)):
        assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.float64


# ----------------------------------------------------------------------------------------
# Peak of QE*
# ----------------------------------------------------------------------------------------


def test_qe_peak_matches_closed_form() -> None:
    a_star, qe_star = nm.qe_peak()
    a_ref, qe_ref = cf.qe_peak()
    assert abs(a_star - a_ref) <= 1e-12 * a_ref  # the docstring promises ≲ 1e-12 (observed 1.5e-15)
    assert abs(qe_star - qe_ref) <= 1e-12 * qe_ref
    # and it is a maximum of the quadrature QE*
    assert nm.quantization_error(a=a_star) > nm.quantization_error(a=[a_star * 0.99, a_star * 1.01]).max()


# ----------------------------------------------------------------------------------------
# Input validation and independence
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: nm.second_moment(a=0.0), "a must be", id="a=0"),
        pytest.param(lambda: nm.optimal_gamma(a=-1.0), "a must be", id="a<0"),
        pytest.param(lambda: nm.l1_quantization_error(a=np.nan), "a must be", id="a=nan"),
        pytest.param(lambda: nm.sign_flip_probability(a=np.inf), "a must be", id="a=inf"),
        pytest.param(lambda: nm.second_moment(a=1.0, b=1.0), "either a", id="a-and-b"),
        pytest.param(lambda: nm.second_moment(b=1.0), "omega0", id="omega0-missing"),
        pytest.param(lambda: nm.pdf(np.nan, a=1.0), "w_hat", id="w_hat=nan"),
        pytest.param(lambda: nm.cdf([0.1, np.nan], a=1.0), "w_hat", id="w_hat-has-nan"),
        pytest.param(lambda: nm.quantization_error(a=1.0, gamma=np.inf), "gamma", id="gamma=inf"),
        pytest.param(lambda: nm.sf(0.1, b=[1.0, 2.0], omega0=[1.0, 2.0, 3.0]), "broadcast", id="shapes"),
    ],
)
def test_bad_input_raises(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_imports_only_the_definitions() -> None:
    # The only package module numeric may use is the argument checker _validation.
    package_imports = set()
    for node in ast.walk(ast.parse(inspect.getsource(nm))):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("biper")):
            package_imports.add(node.module)
        elif isinstance(node, ast.Import):
            package_imports.update(a.name for a in node.names if a.name.startswith("biper"))
    assert package_imports == {"_validation"}
