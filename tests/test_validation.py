"""biper_theory._validation: what every public function accepts as a number, and what not."""

from __future__ import annotations

import numpy as np
import pytest

import biper_theory as bt
from biper_theory import _validation as V
from biper_theory import closed_form as cf
from biper_theory import montecarlo as mc
from biper_theory import stats

BAD_NUMBERS = [
    pytest.param(10**400, "must fit a float64", id="int-10**400"),
    pytest.param(-(10**400), "must fit a float64", id="int-minus-10**400"),
    pytest.param(True, "got a boolean", id="True"),
    pytest.param(np.bool_(False), "got a boolean", id="np.bool_"),
    pytest.param([True, False], "got a boolean", id="list-of-bools"),
    pytest.param(np.ones(3, dtype=bool), "got a boolean", id="bool-array"),
    pytest.param(np.datetime64("2020-01-01"), "date or time", id="datetime64"),
    pytest.param(np.timedelta64(3, "D"), "date or time", id="timedelta64"),
    pytest.param(np.ma.masked_array([1.0, 2.0], [0, 1]), "masked array", id="masked-array"),
    pytest.param("abc", "must be a real number", id="string"),
]


@pytest.mark.parametrize(("value", "fragment"), BAD_NUMBERS)
def test_as_float64_and_as_real_refuse(value: object, fragment: str) -> None:
    for convert in (V.as_float64, V.as_real):
        with pytest.raises(ValueError, match=fragment):
            convert("a", value)  # type: ignore[operator]


@pytest.mark.parametrize(("value", "fragment"), BAD_NUMBERS)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda v: bt.quantization_error(a=v), id="qe-a"),
        pytest.param(lambda v: cf.optimal_gamma(b=v, omega0=20.0), id="gamma-b"),
        pytest.param(lambda v: cf.pdf(0.3, b=0.05, omega0=v), id="pdf-omega0"),
        pytest.param(lambda v: cf.quantization_error(a=1.0, gamma=v), id="qe-gamma"),
        pytest.param(lambda v: mc.estimate(a=v, n=100, rng=0), id="mc-a"),
        pytest.param(lambda v: stats.law(a=v).mean(), id="stats-a"),
    ],
)
def test_public_functions_refuse_with_value_error(call: object, value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        call(value)  # type: ignore[operator]


def test_plain_numbers_and_numeric_arrays_pass() -> None:
    assert V.as_float64("a", 3).dtype == np.float64
    assert V.as_float64("a", [1, 2.5]).tolist() == [1.0, 2.5]
    assert V.as_real("g", np.float32(0.5)) == 0.5
    V.check_numeric_kind("a", np.arange(3))
    V.check_numeric_kind("a", 1.0)


def test_gamma_domain_keeps_qe_finite() -> None:
    q = cf.quantization_error(a=1.0, gamma=cf.GAMMA_MAX)
    assert np.isfinite(q) and q == pytest.approx(cf.GAMMA_MAX**2, rel=1e-12)
    with pytest.raises(ValueError, match=r"gamma must be in \[-1e\+150, 1e\+150\]"):
        cf.quantization_error(a=1.0, gamma=1e200)
    with pytest.raises(ValueError, match="gamma must be in"):
        cf.sqnr_db(a=1.0, gamma=[0.5, -1e151])


def test_montecarlo_small_a_is_refused_or_right() -> None:
    with pytest.raises(ValueError, match=r"a = b\*omega0 must be >= 1e-60"):
        mc.estimate(a=1e-90, n=1000, rng=0)
    # at the floor the estimate is finite and right: QE*/E ŵ² → 1/2 as a → 0 (k = 5 SE)
    r = mc.estimate(a=mc.ESTIMATE_A_MIN, n=20_000, rng=1)
    nqe = r.normalized_quantization_error
    assert np.isfinite(nqe.se) and nqe.se > 0
    assert abs(nqe.value - 0.5) < 5 * nqe.se
    qe = r.quantization_error
    assert abs(qe.value - float(cf.quantization_error(a=mc.ESTIMATE_A_MIN))) < 5 * qe.se


def test_phase_range() -> None:
    V.check_phase_range(20.0, {"x": np.array([0.5, -0.5])})
    V.check_phase_range(1e300, {"nan": np.array([np.nan]), "inf": np.array([np.inf]), "empty": np.zeros(0)})
    with pytest.raises(ValueError, match=r"layer 'x' has max\|w\| = 2, so omega0 must be <= 5000"):
        V.check_phase_range(1e4, {"x": np.array([0.1, -2.0])})
