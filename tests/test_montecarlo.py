"""Tests for biper_theory.montecarlo: the sampling route against the closed forms.

Statistical checks use |estimate - exact| <= K_SE * SE with fixed seeds; exact checks
(reproducibility, stream identity) use float tolerances. The two kinds of tolerance are
kept apart below.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import tracemalloc

import numpy as np
import pytest

from biper_theory import closed_form as cf
from biper_theory import montecarlo as mc

# --- Monte-Carlo tolerance: number of standard errors -------------------------------------
#: |estimate - exact| must be within K_SE standard errors (two-sided ~6e-5 per check).
K_SE = 4.0
#: Relative band for a ratio of spreads estimated from R_REPLICATES replicates (~4 sigma).
SPREAD_BAND = 0.2
R_REPLICATES = 300
#: KS p-value thresholds: accept the true law above, reject a wrong law below.
KS_ACCEPT_P = 0.01
KS_REJECT_P = 1e-6

# --- Exact tolerances (floating point only, no randomness involved) -----------------------
#: Same draws summed in a different order (chunk size) agree to a few ulp.
SUM_ORDER_RTOL = 1e-13

A_PEAK = cf.qe_peak()[0]  # the QE* peak a*, where the quantities are hardest to tell apart
A_CASES = [
    pytest.param(0.3, id="a=0.3"),
    pytest.param(A_PEAK, id="a=peak"),
    pytest.param(3.0, id="a=3"),
    pytest.param(30.0, id="a=30"),
]
FIELDS = [
    "second_moment",
    "optimal_gamma",
    "quantization_error",
    "normalized_quantization_error",
    "l1_quantization_error",
    "sign_flip_probability",
]


def _exact(name: str, a: float, gamma: float | None = None) -> float:
    if name in ("quantization_error", "normalized_quantization_error"):
        return float(getattr(cf, name)(a=a, gamma=gamma))
    return float(getattr(cf, name)(a=a))


# ----------------------------------------------------------------------------------------
# Agreement with the closed forms (k·SE)
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [pytest.param(None, id="gamma=opt"), pytest.param(0.5, id="gamma=0.5")])
@pytest.mark.parametrize("a", A_CASES)
def test_estimates_within_k_se_of_closed_form(a: float, gamma: float | None) -> None:
    res = mc.estimate(a=a, n=1_000_000, rng=20240401, gamma=gamma)
    for name in FIELDS:
        est = getattr(res, name)
        exact = _exact(name, a, gamma)
        assert est.se > 0, name
        assert est.covers(exact, K_SE), f"{name}: z = {est.zscore(exact):.2f}"


def test_b_omega0_form() -> None:
    res = mc.estimate(b=0.05, omega0=20.0, n=200_000, rng=5)
    assert res.a == pytest.approx(1.0, rel=1e-15)
    assert res.quantization_error.covers(float(cf.quantization_error(b=0.05, omega0=20.0)), K_SE)


def test_standard_errors_match_the_spread_of_replicates() -> None:
    # The reported SE (sample sd or delta method) must equal the actual sd of the estimator.
    children = np.random.SeedSequence(11).spawn(R_REPLICATES)
    runs = [mc.estimate(a=A_PEAK, n=2_000, rng=child) for child in children]
    for name in FIELDS:
        values = np.array([getattr(r, name).value for r in runs])
        ses = np.array([getattr(r, name).se for r in runs])
        ratio = values.std(ddof=1) / ses.mean()
        assert abs(ratio - 1.0) < SPREAD_BAND, f"{name}: sd/SE = {ratio:.3f}"


def test_standard_error_scales_as_inverse_sqrt_n() -> None:
    small = mc.estimate(a=2.0, n=10_000, rng=1)
    large = mc.estimate(a=2.0, n=1_000_000, rng=2)
    for name in FIELDS:
        ratio = getattr(small, name).se / getattr(large, name).se
        # √(10⁶/10⁴) = 10; the SEs themselves are estimates (±~2 % at n = 10⁴)
        assert ratio == pytest.approx(10.0, rel=0.1), name


# ----------------------------------------------------------------------------------------
# Reproducibility and the sample stream (exact)
# ----------------------------------------------------------------------------------------


def test_same_seed_is_bitwise_identical() -> None:
    first = mc.estimate(a=0.7, n=300_000, rng=123, chunk_size=50_000, gamma=0.4)
    second = mc.estimate(a=0.7, n=300_000, rng=np.random.default_rng(123), chunk_size=50_000, gamma=0.4)
    assert first == second  # dataclass equality: every float identical
    assert first.to_dict() == second.to_dict()
    assert first.seed_entropy == 123
    assert first.rng_state == second.rng_state


def test_rng_state_reproduces_the_run() -> None:
    gen = np.random.default_rng(9)
    gen.standard_normal(17)  # a generator already in use
    first = mc.estimate(a=1.5, n=100_000, rng=gen)
    replay = np.random.default_rng()
    replay.bit_generator.state = first.rng_state
    again = mc.estimate(a=1.5, n=100_000, rng=replay)
    assert dataclasses.replace(again, seed_entropy=None) == dataclasses.replace(first, seed_entropy=None)


def test_different_seeds_differ() -> None:
    one = mc.estimate(a=1.0, n=10_000, rng=1)
    two = mc.estimate(a=1.0, n=10_000, rng=2)
    assert one.second_moment.value != two.second_moment.value


@pytest.mark.parametrize(
    "chunk",
    [pytest.param(1, id="chunk=1"), pytest.param(999, id="chunk=999"), pytest.param(4096, id="chunk=4096")],
)
def test_sample_stream_does_not_depend_on_chunk_size(chunk: int) -> None:
    n, a = 10_000, 0.8
    buf = np.empty(chunk)
    streamed = np.concatenate([x.copy() for x in mc._abs_x_chunks(np.random.default_rng(4), a, n, buf)])
    whole = np.random.default_rng(4).standard_exponential(n) * a
    np.testing.assert_array_equal(streamed, whole)


def test_estimate_does_not_depend_on_chunk_size_beyond_rounding() -> None:
    n = 200_000
    results, states = [], []
    for chunk in (1_000, 65_536, 77_777, n):
        gen = np.random.default_rng(31)
        results.append(mc.estimate(a=0.6, n=n, rng=gen, chunk_size=chunk, gamma=0.3))
        states.append(gen.bit_generator.state)
    assert all(s == states[0] for s in states)  # same number of draws consumed
    assert [r.n_chunks for r in results] == [200, 4, 3, 1]
    for r in results[1:]:
        for name in FIELDS:
            np.testing.assert_allclose(
                getattr(r, name).value, getattr(results[0], name).value, rtol=SUM_ORDER_RTOL
            )
            np.testing.assert_allclose(getattr(r, name).se, getattr(results[0], name).se, rtol=1e-9)
        assert r.sign_flip_probability == results[0].sign_flip_probability  # an integer count


def test_sample_and_estimate_share_the_stream() -> None:
    # |sample| is, draw for draw, the stream estimate() averages (same seed).
    n = 50_000
    w = mc.sample(n, a=1.3, rng=77)
    res = mc.estimate(a=1.3, n=n, rng=77, chunk_size=n)
    np.testing.assert_allclose(res.second_moment.value, np.mean(w * w), rtol=SUM_ORDER_RTOL)
    np.testing.assert_allclose(res.optimal_gamma.value, np.mean(np.abs(w)), rtol=SUM_ORDER_RTOL)


def test_sample_is_symmetric_and_bounded() -> None:
    w = mc.sample(400_000, a=2.0, rng=3)
    assert w.shape == (400_000,) and w.dtype == np.float64
    assert np.all(np.abs(w) <= 1.0)
    share_negative = np.mean(w < 0)
    assert abs(share_negative - 0.5) <= K_SE * np.sqrt(0.25 / w.size)


def test_progress_callback_sees_every_chunk() -> None:
    seen: list[int] = []
    res = mc.estimate(a=1.0, n=10_000, rng=0, chunk_size=3_000, progress=seen.append)
    assert seen == [3_000, 6_000, 9_000, 10_000]
    assert res.n == 10_000 and res.n_chunks == 4 and res.chunk_size == 3_000


def test_memory_is_bounded_by_the_chunk() -> None:
    chunk = 2**18
    # Five float64 buffers and one boolean buffer of `chunk` (41 bytes per element):
    # 10.25 MiB; allow 16 MiB for interpreter noise. n = 10⁷ would need 80 MB per array.
    bound = 16 * 2**20
    tracemalloc.start()
    try:
        mc.estimate(a=1.0, n=10_000_000, rng=0, chunk_size=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= bound, f"peak {peak / 2**20:.1f} MiB"


def test_result_is_frozen_and_flattens() -> None:
    res = mc.estimate(a=1.0, n=1_000, rng=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n = 5  # type: ignore[misc]
    d = res.to_dict()
    assert d["n"] == 1_000 and d["gamma"] is None
    assert d["second_moment_se"] == res.second_moment.se
    assert set(FIELDS) <= set(d)


def test_fresh_entropy_when_rng_is_none() -> None:
    res = mc.estimate(a=1.0, n=1_000)  # documented: not reproducible
    assert isinstance(res.seed_entropy, int)


# ----------------------------------------------------------------------------------------
# Kolmogorov-Smirnov: accepts the derived law, rejects wrong ones
# ----------------------------------------------------------------------------------------


def _printed_eq4_cdf(y: np.ndarray, *, a: float) -> np.ndarray:
    r"""Integral from -1 of eq. (4) *as printed* (cosh coefficient 1), at a = b·ω₀.

    In θ = arcsin y the printed density is [e^{-|θ|/a} + cosh(θ/a)/(e^{π/a} - 1)]/(2a) on
    (-π/2, π/2); its integral from -π/2 to θ is the expression below. It tends to
    0.896060... (not 1) as y → 1 at a = 1, so it is not a distribution function.
    """
    theta = np.arcsin(np.clip(y, -1.0, 1.0))
    c = np.exp(-np.pi / (2 * a))
    laplace_part = np.where(
        theta < 0, 0.5 * (np.exp(theta / a) - c), 0.5 * (1 - c) + 0.5 * -np.expm1(-theta / a)
    )
    cosh_part = (np.sinh(theta / a) + np.sinh(np.pi / (2 * a))) / (2 * np.expm1(np.pi / a))
    return laplace_part + cosh_part


def test_printed_cdf_helper_total_mass() -> None:
    assert _printed_eq4_cdf(np.array(1.0), a=1.0) == pytest.approx(0.896060211824619, rel=1e-12)


@pytest.mark.parametrize(
    "params",
    [pytest.param({"a": 1.0}, id="a=1"), pytest.param({"b": 0.01, "omega0": 30.0}, id="b=0.01,omega0=30")],
)
def test_ks_accepts_the_closed_form_law(params: dict[str, float]) -> None:
    result = mc.ks_test(cf.cdf, n=1_000_000, rng=2024, **params)
    assert result.pvalue > KS_ACCEPT_P, result


def test_ks_rejects_the_printed_equation_4() -> None:
    result = mc.ks_test(_printed_eq4_cdf, a=1.0, n=1_000_000, rng=2024)
    assert result.pvalue < KS_REJECT_P
    assert result.statistic > 0.1  # the printed density misses ~10 % of the mass


def test_ks_rejects_a_three_percent_shift_in_a() -> None:
    def shifted(y: np.ndarray, *, a: float) -> np.ndarray:
        return cf.cdf(y, a=1.03 * a)

    result = mc.ks_test(shifted, a=1.0, n=1_000_000, rng=2024)
    assert result.pvalue < KS_REJECT_P, result


# ----------------------------------------------------------------------------------------
# Input validation and independence
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"a": 0.0}, "a must be", id="a=0"),
        pytest.param({"a": [1.0, 2.0]}, "one value of a", id="a-array"),
        pytest.param({"a": 1.0, "n": 1}, "n must be", id="n=1"),
        pytest.param({"a": 1.0, "n": 10.5}, "n must be", id="n-float"),
        pytest.param({"a": 1.0, "chunk_size": 0}, "chunk_size", id="chunk=0"),
        pytest.param({"a": 1.0, "gamma": np.nan}, "gamma", id="gamma=nan"),
        pytest.param({"a": 1.0, "gamma": [0.1, 0.2]}, "gamma", id="gamma-array"),
        pytest.param({"b": 1.0}, "omega0", id="omega0-missing"),
    ],
)
def test_bad_input_raises(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mc.estimate(**kwargs)  # type: ignore[arg-type]


def test_sample_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="n must be"):
        mc.sample(0, a=1.0, rng=0)
    with pytest.raises(ValueError, match="a must be"):
        mc.ks_test(cf.cdf, a=-1.0, n=10, rng=0)


def test_imports_only_the_definitions() -> None:
    # The only package module montecarlo may use is the argument checker _validation.
    package_imports = set()
    for node in ast.walk(ast.parse(inspect.getsource(mc))):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("biper")):
            package_imports.add(node.module)
        elif isinstance(node, ast.Import):
            package_imports.update(a.name for a in node.names if a.name.startswith("biper"))
    assert package_imports == {"_validation"}
