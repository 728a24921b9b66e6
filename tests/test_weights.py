"""Weight laws: fits, goodness of fit, Gaussian closed forms, empirical quantities and CIs.

Exact comparisons (against scipy's own fitters and tests, closed forms, quadrature, mpmath)
use float tolerances; Monte-Carlo comparisons use k standard errors, k stated, seeds fixed.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from biper_theory import closed_form as cf
from biper_theory import weights as wt

K_SE = 4.0  # Monte-Carlo tolerance: |estimate - exact| < K_SE * SE (two-sided p ≈ 6e-5 per check)


# ------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------


def test_nonfinite_layers_reported_with_counts() -> None:
    good = np.ones((2, 3))
    nan2 = np.array([1.0, np.nan, np.nan, 0.5])
    inf1 = np.array([[np.inf, 1.0], [2.0, -np.inf]])
    with pytest.raises(ValueError) as err:
        wt.validate_layers({"ok": good, "conv_a": nan2, "conv_b": inf1})
    msg = str(err.value)
    assert "conv_a: 2 NaN of 4" in msg
    assert "conv_b: 1 +inf, 1 -inf of 4" in msg
    assert "ok" not in msg.replace("(never", "")  # only the bad layers are named
    assert "\n" not in msg


@pytest.mark.parametrize(
    "layers",
    [
        pytest.param({"empty": np.zeros((0, 3))}, id="empty-array"),
        pytest.param({}, id="no-layers"),
        pytest.param({"text": np.array(["a", "b"])}, id="strings"),
    ],
)
def test_bad_layers_raise(layers: dict) -> None:
    with pytest.raises(ValueError):
        wt.validate_layers(layers)


def test_single_array_and_float32_kept() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = wt.validate_layers(x, name="w")
    assert list(out) == ["w"] and out["w"].dtype == np.float32
    assert wt.validate_layers({"i": np.arange(3)})["i"].dtype == np.float64


def test_empirical_rejects_nonfinite() -> None:
    with pytest.raises(ValueError, match="1 NaN"):
        wt.empirical_quantities(np.array([0.1, np.nan]), omega0=20.0)


# ------------------------------------------------------------------------------------------
# Fits
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "b", [pytest.param(0.01, id="b=0.01"), pytest.param(0.05, id="b=0.05"), pytest.param(2.0, id="b=2")]
)
def test_laplace_fit_recovers_b_within_se(b: float, rng: np.random.Generator) -> None:
    n = 50_000
    w = rng.laplace(0.0, b, size=n)
    fit = wt.fit_laplace(w)
    assert float(fit.scale_se) == pytest.approx(float(fit.scale) / np.sqrt(n), rel=1e-15)
    assert abs(float(fit.scale) - b) < K_SE * b / np.sqrt(n)  # SE of b̂ = b/√n (|W| ~ Exp(b))


@pytest.mark.parametrize("fix_loc", [pytest.param(True, id="loc0"), pytest.param(False, id="loc-free")])
def test_fits_equal_scipy_fitters_and_loglik(fix_loc: bool, rng: np.random.Generator) -> None:
    w = rng.laplace(0.003, 0.04, size=3001)
    kw = {"floc": 0.0} if fix_loc else {}
    lap = wt.fit_laplace(w, fix_loc=fix_loc)
    loc, scale = stats.laplace.fit(w, **kw)
    assert float(lap.loc) == pytest.approx(loc, abs=1e-15)
    assert float(lap.scale) == pytest.approx(scale, rel=1e-13)
    assert float(lap.loglik) == pytest.approx(stats.laplace.logpdf(w, loc, scale).sum(), rel=1e-12)
    gau = wt.fit_gaussian(w, fix_loc=fix_loc)
    loc, scale = stats.norm.fit(w, **kw)
    assert float(gau.loc) == pytest.approx(loc, abs=1e-15)
    assert float(gau.scale) == pytest.approx(scale, rel=1e-13)
    assert float(gau.loglik) == pytest.approx(stats.norm.logpdf(w, loc, scale).sum(), rel=1e-12)
    k = 1 if fix_loc else 2
    assert float(lap.aic) == pytest.approx(2 * k - 2 * float(lap.loglik), rel=1e-15)
    assert wt.fitted_scale(w, fix_loc=fix_loc) == pytest.approx(float(lap.scale), rel=1e-13)
    assert wt.fitted_scale(w, law="gaussian", fix_loc=fix_loc) == pytest.approx(float(gau.scale), rel=1e-13)


def test_ks_equals_scipy_kstest(rng: np.random.Generator) -> None:
    w = rng.laplace(0.0, 0.1, size=700)
    lap = wt.fit_laplace(w, ks_size=None)
    ref = stats.kstest(w, "laplace", args=(0.0, float(lap.scale)), method="exact")
    assert float(lap.ks_statistic) == pytest.approx(ref.statistic, rel=1e-12)
    assert float(lap.ks_pvalue) == pytest.approx(ref.pvalue, rel=1e-8)
    gau = wt.fit_gaussian(w, ks_size=None)
    ref = stats.kstest(w, "norm", args=(0.0, float(gau.scale)), method="exact")
    assert float(gau.ks_statistic) == pytest.approx(ref.statistic, rel=1e-12)
    assert lap.ks_n == 700 and wt.fit_laplace(w, ks_size=100).ks_n == 100
    # above 1000 weights the p-value is Stephens' approximation of the exact law
    big = rng.laplace(0.0, 0.1, size=4000)
    fit = wt.fit_laplace(big, ks_size=None)
    ref = stats.kstest(big, "laplace", args=(0.0, float(fit.scale)), method="exact")
    assert float(fit.ks_statistic) == pytest.approx(ref.statistic, rel=1e-12)
    assert float(fit.ks_pvalue) == pytest.approx(ref.pvalue, abs=5e-3)


@pytest.mark.parametrize(
    ("draw", "verdict"),
    [
        pytest.param(lambda g: g.laplace(0, 0.05, 5000), "laplace", id="laplace-samples"),
        pytest.param(lambda g: g.normal(0, 0.05, 5000), "gaussian", id="gaussian-samples"),
    ],
)
def test_verdict_by_aic(draw, verdict: str, rng: np.random.Generator) -> None:
    w = draw(rng)
    cmp = wt.compare_fits(wt.fit_laplace(w), wt.fit_gaussian(w))
    assert str(cmp.verdict) == verdict
    assert float(cmp.delta_aic) == pytest.approx(float(cmp.laplace.aic - cmp.gaussian.aic) * -1, rel=1e-15)


def test_scale_estimators_labelled(rng: np.random.Generator) -> None:
    w = rng.normal(0.01, 0.05, size=(4, 50))
    est = wt.scale_estimators(w)
    assert est["mean|w| (official BiPer code)"] == pytest.approx(np.abs(w).mean(), rel=1e-14)
    assert est["mean|w - mean w| (ReCU)"] == pytest.approx(np.abs(w - w.mean()).mean(), rel=1e-14)
    per = wt.scale_estimators(w, per_channel=True)["mean|w| (official BiPer code)"]
    np.testing.assert_allclose(per, np.abs(w).mean(axis=1), rtol=1e-14)


# ------------------------------------------------------------------------------------------
# Gaussian closed forms: quadrature, mpmath and Monte Carlo
# ------------------------------------------------------------------------------------------

S_VALUES = [1e-4, 0.02, 0.2, 0.35 * (1 - 1e-12), 0.35, 0.5, 1.0, 2.5, 7.0]


def _quad_half_periods(f, s: float) -> float:
    """2∫_0^∞ f(x) φ_s(x) dx by adaptive quadrature on smooth pieces, up to 12 s."""
    top = max(12.0 * s, np.pi)
    # split at every kπ and, for narrow laws, at s, 3s and 8s so quad sees the peak
    extra = [c * s for c in (1.0, 3.0, 8.0) if c * s < top]
    edges = np.unique(np.concatenate([np.arange(0.0, top, np.pi), extra, [top]]))
    dens = stats.norm(0.0, s).pdf
    return 2.0 * sum(
        integrate.quad(lambda x: f(x) * dens(x), lo, hi, epsabs=1e-15, epsrel=1e-13, limit=200)[0]
        for lo, hi in itertools.pairwise(edges)
    )


@pytest.mark.parametrize("s", [pytest.param(s, id=f"s={s:.6g}") for s in S_VALUES])
def test_gaussian_forms_against_quadrature(s: float) -> None:
    assert float(wt.gaussian_second_moment(s=s)) == pytest.approx(
        _quad_half_periods(lambda x: np.sin(x) ** 2, s), abs=1e-12, rel=1e-10
    )
    assert float(wt.gaussian_optimal_gamma(s=s)) == pytest.approx(
        _quad_half_periods(lambda x: np.abs(np.sin(x)), s), abs=1e-12, rel=1e-10
    )
    # sign flip: X > 0 inside a negative half-period, doubled by symmetry
    flip = _quad_half_periods(lambda x: (np.sin(x) < 0).astype(float), s)
    assert float(wt.gaussian_sign_flip_probability(s=s)) == pytest.approx(flip, abs=1e-12)


@pytest.mark.parametrize(
    "s", [pytest.param(s, id=f"s={s}") for s in [0.3, 3.0, 20.0, 49.999, 50.0, 80.0, 300.0]]
)
def test_gaussian_flip_against_mpmath(s: float) -> None:
    # mp.nsum of P = 2 Σ_j (-1)^{j+1} Q(jπ/s) at 30 digits (Q by mp.ncdf of the negative)
    mp.mp.dps = 30
    ref = 2 * mp.nsum(lambda j: (-1) ** (j + 1) * mp.ncdf(-j * mp.pi / s), [1, mp.inf])
    assert float(wt.gaussian_sign_flip_probability(s=s)) == pytest.approx(float(ref), abs=1e-13)


def test_gaussian_gamma_continuous_at_switch_and_limits() -> None:
    lo, hi = wt.gaussian_optimal_gamma(s=[0.35 * (1 - 1e-13), 0.35])
    assert lo == pytest.approx(hi, rel=1e-13)
    assert float(wt.gaussian_optimal_gamma(s=1e-8)) == pytest.approx(1e-8 * np.sqrt(2 / np.pi), rel=1e-12)
    assert float(wt.gaussian_optimal_gamma(s=1e4)) == pytest.approx(2 / np.pi, rel=1e-15)
    assert float(wt.gaussian_sign_flip_probability(s=0.01)) == 0.0
    assert float(wt.gaussian_share_past_half_period(s=1.0)) == pytest.approx(
        2 * stats.norm.sf(np.pi / 2), rel=1e-14
    )


@pytest.mark.parametrize("s", [pytest.param(0.9, id="s=0.9"), pytest.param(1.5, id="s=1.5")])
def test_gaussian_forms_against_monte_carlo(s: float) -> None:
    x = np.random.default_rng(7).normal(0.0, s, size=400_000)
    sx = np.sin(x)
    checks = {
        "second_moment": sx**2,
        "optimal_gamma": np.abs(sx),
        "sign_flip_probability": (sx * x < 0).astype(float),
        "share_past_half_period": (np.abs(x) > np.pi / 2).astype(float),
    }
    model = wt.model_quantities("gaussian", scale=s, omega0=1.0).as_dict()
    for name, v in checks.items():
        se = v.std() / np.sqrt(v.size)
        assert abs(v.mean() - float(model[name])) < K_SE * se, name


def test_laplace_model_quantities_are_closed_form() -> None:
    q = wt.model_quantities("laplace", scale=0.05, omega0=20.0)
    assert q.quantization_error == cf.quantization_error(b=0.05, omega0=20.0)
    assert q.optimal_gamma == cf.optimal_gamma(b=0.05, omega0=20.0)
    assert q.sign_flip_probability == cf.sign_flip_probability(b=0.05, omega0=20.0)
    assert q.l1_quantization_error == cf.l1_quantization_error(b=0.05, omega0=20.0)
    assert float(q.share_past_half_period) == pytest.approx(np.exp(-np.pi / 2), rel=1e-15)
    with pytest.raises(ValueError, match="law must be one of laplace, gaussian"):
        wt.model_quantities("cauchy", scale=1.0, omega0=1.0)


# ------------------------------------------------------------------------------------------
# Empirical quantities
# ------------------------------------------------------------------------------------------


def test_empirical_equals_direct_computation(rng: np.random.Generator) -> None:
    w = rng.laplace(0.0, 0.06, size=(16, 8, 3, 3))
    s = np.sin(20.0 * w)
    direct = {
        "second_moment": np.mean(s**2),
        "optimal_gamma": np.mean(np.abs(s)),
        "quantization_error": np.mean(s**2) - np.mean(np.abs(s)) ** 2,
        "l1_quantization_error": 1 - np.mean(np.abs(s)),
        "sign_flip_probability": np.mean(np.sign(s) != np.sign(w)),
        "share_past_half_period": np.mean(np.abs(20.0 * w) > np.pi / 2),
    }
    exact = wt.empirical_quantities(w, omega0=20.0, exact=True, n_boot=0).as_dict()
    fast = wt.empirical_quantities(w, omega0=20.0, n_boot=0).as_dict()
    for k, v in direct.items():
        assert float(exact[k]) == pytest.approx(v, rel=1e-12, abs=1e-15), k
        assert float(fast[k]) == pytest.approx(v, abs=1e-6), k  # float32 sin: ~1e-7 per weight


def test_analyze_layer_single_pass_equals_the_parts(rng: np.random.Generator) -> None:
    w = rng.laplace(0.0, 0.05, size=(70_001,)).astype(np.float32)  # > one chunk, odd length
    for exact, rel in ((True, 1e-12), (False, 2e-7)):  # float32 weights: float32 row sums by default
        one = wt.analyze_layer(w, omega0=20.0, ks_size=None, exact=exact)
        assert float(one.b) == pytest.approx(float(wt.fit_laplace(w).scale), rel=rel)
        assert float(one.fits.gaussian.scale) == pytest.approx(float(wt.fit_gaussian(w).scale), rel=rel)
    an = wt.analyze_layer(w, omega0=20.0, n_boot=0, ks_size=None)
    assert float(an.fits.laplace.ks_statistic) == pytest.approx(
        float(wt.fit_laplace(w, ks_size=None).ks_statistic)
    )
    for k, v in wt.scale_estimators(w).items():  # mean|w| is b̂ (float32 rows), the centred one float64
        assert float(an.scales[k]) == pytest.approx(float(v), rel=2e-7 if k == wt.SCALE_LABELS[0] else 1e-12)
    ref = wt.empirical_quantities(w, omega0=20.0, n_boot=0).as_dict()
    for k, v in an.empirical.as_dict().items():
        assert float(v) == pytest.approx(float(ref[k]), rel=1e-12), k
    free = wt.analyze_layer(w, omega0=20.0, n_boot=0, fix_loc=False)
    _, scale = stats.laplace.fit(w.astype(np.float64))
    assert float(free.fits.laplace.scale) == pytest.approx(scale, rel=1e-12)
    assert float(free.fits.gaussian.scale) == pytest.approx(np.std(w.astype(np.float64)), rel=1e-12)
    assert float(an.a) == pytest.approx(20.0 * float(an.b), rel=1e-15)


def test_per_channel_rows_equal_layer_of_each_channel(rng: np.random.Generator) -> None:
    w = rng.laplace(0.0, 0.05, size=(5, 4, 3, 3)) * np.arange(1, 6)[:, None, None, None]
    an = wt.analyze_layer(w, omega0=20.0, per_channel=True, n_boot=50)
    normal = wt.analyze_layer(w, omega0=20.0, per_channel=True)
    assert normal.empirical.ci["quantization_error"][0].shape == (5,)
    assert an.b.shape == (5,) and an.empirical.ci["quantization_error"][0].shape == (5,)
    for c in range(5):
        one = wt.analyze_layer(w[c], omega0=20.0, n_boot=0)
        assert an.b[c] == pytest.approx(float(one.b), rel=1e-13)
        assert an.empirical.quantization_error[c] == pytest.approx(
            float(one.empirical.quantization_error), rel=1e-9
        )
        assert an.fits.verdict[c] == str(one.fits.verdict)


@pytest.mark.parametrize("n_boot", [pytest.param(0, id="normal-ci"), pytest.param(400, id="bootstrap-ci")])
def test_empirical_qe_of_fitted_laplace_samples_within_ci(n_boot: int, rng: np.random.Generator) -> None:
    b = float(wt.fit_laplace(rng.laplace(0.0, 0.048, size=9 * 64 * 64)).scale)
    w = np.random.default_rng(11).laplace(0.0, b, size=300_000)
    emp = wt.empirical_quantities(w, omega0=20.0, n_boot=n_boot, boot_size=4000, confidence=0.99, rng=3)
    assert emp.ci_method == (wt.CI_BOOTSTRAP if n_boot else wt.CI_NORMAL)
    model = wt.model_quantities("laplace", scale=b, omega0=20.0).as_dict()
    for k in model:
        lo, hi = emp.ci[k]
        assert lo <= model[k] <= hi, k


def test_normal_and_bootstrap_intervals_agree(rng: np.random.Generator) -> None:
    w = rng.laplace(0.0, 0.05, size=4000)
    normal = wt.empirical_quantities(w, omega0=20.0)
    boot = wt.empirical_quantities(w, omega0=20.0, n_boot=1500, boot_size=None, rng=1)
    for k in (
        "quantization_error",
        "normalized_quantization_error",
        "optimal_gamma",
        "sign_flip_probability",
    ):
        width_n = float(normal.ci[k][1] - normal.ci[k][0])
        width_b = float(boot.ci[k][1] - boot.ci[k][0])
        assert width_b == pytest.approx(width_n, rel=0.15), k  # bootstrap quantiles: ~5% noise


@pytest.mark.parametrize("n_boot", [pytest.param(0, id="normal-ci"), pytest.param(300, id="bootstrap-ci")])
def test_ci_covers_at_nominal_rate(n_boot: int) -> None:
    # 60 independent data sets of n = 3000 from La(0, 0.05), ω₀ = 20: the 95% interval of the
    # QE should cover the exact QE about 57 times; fewer than 50 has probability ≈ 1e-3.
    exact = float(cf.quantization_error(b=0.05, omega0=20.0))
    gen = np.random.default_rng(2024)
    hits = 0
    for _ in range(60):
        w = gen.laplace(0.0, 0.05, size=3000)
        emp = wt.empirical_quantities(w, omega0=20.0, n_boot=n_boot, boot_size=1000, rng=gen)
        lo, hi = emp.ci["quantization_error"]
        hits += bool(lo <= exact <= hi)
    assert hits >= 50


def test_empirical_argument_checks() -> None:
    w = np.ones(10)
    with pytest.raises(ValueError, match="omega0"):
        wt.empirical_quantities(w, omega0=0.0)
    with pytest.raises(ValueError, match="confidence"):
        wt.empirical_quantities(w, omega0=1.0, confidence=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        wt.empirical_quantities(w, omega0=1.0, n_boot=-1)
    with pytest.raises(ValueError, match="per_channel"):
        wt.empirical_quantities(w, omega0=1.0, per_channel=True)
    with pytest.raises(ValueError, match="scale is 0"):
        wt.fit_laplace(np.zeros(5))


def test_analyze_layers_checks_all_layers_first(rng: np.random.Generator) -> None:
    layers = {"a": rng.laplace(0, 0.05, (4, 3, 3, 3)), "b": rng.normal(0, 0.05, 300).astype(np.float32)}
    out = wt.analyze_layers(layers, omega0=20.0, rng=5)
    assert list(out) == ["a", "b"]
    for k, w in layers.items():
        one = wt.analyze_layer(w, omega0=20.0)
        assert float(out[k].b) == pytest.approx(float(one.b), rel=1e-13)
        assert float(out[k].empirical.quantization_error) == pytest.approx(
            float(one.empirical.quantization_error), rel=1e-12
        )
    bad = {**layers, "c": np.array([np.nan, 0.1]), "d": np.array([0.1, -np.inf, np.nan])}
    with pytest.raises(ValueError, match=r"c: 1 NaN of 2; d: 1 NaN, 1 -inf of 3"):
        wt.analyze_layers(bad, omega0=20.0)
    with pytest.raises(ValueError, match="empty"):
        wt.analyze_layers({"e": np.zeros(0)}, omega0=20.0)
    with pytest.raises(ValueError, match="too large"):  # ω₀ small enough for the phase range
        wt.analyze_layers({"big": np.full(3, 1e308)}, omega0=1e-310)
    with pytest.raises(ValueError, match="layer 'zero': the laplace scale is 0"):
        wt.analyze_layers({**layers, "zero": np.zeros(7, dtype=np.float32)}, omega0=20.0)


def _flat(an: wt.LayerAnalysis) -> dict[str, float]:
    """Every number of a whole-layer analysis, by name."""
    out = {f"emp.{k}": float(v) for k, v in an.empirical.as_dict().items()}
    out |= {f"ci.{k}.{j}": float(v[j]) for k, v in an.empirical.ci.items() for j in (0, 1)}
    for law in ("laplace", "gaussian"):
        fit = getattr(an.fits, law)
        for f in ("loc", "scale", "scale_se", "loglik", "aic", "ks_statistic", "ks_pvalue"):
            out[f"{law}.{f}"] = float(getattr(fit, f))
    out |= {f"model.{k}": float(v) for k, v in an.model.as_dict().items()}
    out |= {f"gmodel.{k}": float(v) for k, v in an.gaussian_model.as_dict().items()}
    return out | {f"scale.{k}": float(v) for k, v in an.scales.items()}


def test_each_layer_as_if_analysed_alone(rng: np.random.Generator) -> None:
    # layers are fitted together (KS subsamples stacked by size); each keeps its own stream
    layers = {
        "big": rng.laplace(0.0, 0.03, (64, 16, 3, 3)).astype(np.float32),  # > ks_size: subsampled
        "small": rng.laplace(0.0, 0.05, 700).astype(np.float32),  # <= ks_size: all, exact KS law
        "big2": rng.normal(0.0, 0.02, (40, 160)),  # float64, also subsampled
    }
    together = wt.analyze_layers(layers, omega0=20.0, rng=9)
    streams = np.random.default_rng(9).spawn(len(layers))
    for (k, w), gen in zip(layers.items(), streams, strict=True):
        alone = wt.analyze_layer(w, omega0=20.0, name=k, rng=gen)
        assert _flat(together[k]) == _flat(alone), k
        fit = together[k].fits.laplace
        assert fit.n == w.size and fit.ks_n == min(w.size, wt.KS_SIZE)


def test_centred_scale_is_optional_and_changes_nothing_else(rng: np.random.Generator) -> None:
    w = {"a": (0.01 + rng.laplace(0.0, 0.05, 20_000)).astype(np.float32), "b": rng.laplace(0.0, 1.0, 99)}
    full = wt.analyze_layers(w, omega0=20.0, rng=2)
    lean = wt.analyze_layers(w, omega0=20.0, rng=2, centred_scale=False)
    for k in w:
        assert list(lean[k].scales) == [wt.SCALE_LABELS[0]]
        assert list(full[k].scales) == list(wt.SCALE_LABELS)
        both = _flat(full[k])
        del both[f"scale.{wt.SCALE_LABELS[1]}"]
        assert _flat(lean[k]) == both
    per = wt.analyze_layer(w["a"].reshape(20, -1), omega0=20.0, per_channel=True, centred_scale=False)
    assert list(per.scales) == [wt.SCALE_LABELS[0]]


# ------------------------------------------------------------------------------------------
# The chunked pass: exact float64 fits, float32 ŵ, centred estimator, sign bits
# ------------------------------------------------------------------------------------------


def _direct(w: np.ndarray, omega0: float, fast: bool) -> dict[str, float]:
    """The definitions, evaluated on whole float64 arrays (ŵ as the fast mode forms it)."""
    x = w.astype(np.float64).reshape(-1)
    if fast:  # the argument ω₀w rounded once to float32, sin in float32
        s = np.sin((omega0 * x).astype(np.float32)).astype(np.float64)
    else:
        s = np.sin(omega0 * x)
    return {
        "b": np.abs(x).mean(),
        "sigma": np.sqrt(np.mean(x * x)),
        "recu": np.abs(x - x.mean()).mean(),
        "m2": np.mean(s * s),
        "g": np.mean(np.abs(s)),
        "flip": np.mean(s * x < 0),
        "past": np.mean(np.abs(x) > np.pi / (2 * omega0)),
    }


@pytest.mark.parametrize(
    ("dtype", "n", "loc"),
    [
        pytest.param(np.float32, 8192 * 9 + 77, 0.004, id="f32-rows-blocks-tail-positive-mean"),
        pytest.param(np.float32, 8192 * 2, -0.003, id="f32-whole-rows-negative-mean"),
        pytest.param(np.float64, 70_001, 0.3, id="f64-large-mean"),
        pytest.param(np.float16, 5000, -0.02, id="f16-one-short-row"),
    ],
)
def test_pass_equals_direct_definitions(dtype: type, n: int, loc: float, rng: np.random.Generator) -> None:
    w = (loc + rng.laplace(0.0, 0.06, size=n)).astype(dtype)
    w[:7] = [0.0, -0.0, 0.0, np.pi / 20, -np.pi / 20, 0.2, -0.2]  # zeros of both signs, flips
    w[7:40] = w[7]  # ties
    for exact in (False, True):
        an = wt.analyze_layer(w, omega0=20.0, exact=exact, ks_size=None)
        ref = _direct(w, 20.0, fast=not exact)
        # Σ|w|, Σw² of float16/32 weights: float32 rows unless exact (stated: ~1e-7 relative);
        # the location and the centred estimator: float64 in every mode
        rel_fit = 1e-13 if exact or dtype == np.float64 else 2e-7
        assert float(an.b) == pytest.approx(ref["b"], rel=rel_fit)
        assert float(an.fits.gaussian.scale) == pytest.approx(ref["sigma"], rel=rel_fit)
        assert float(an.scales[wt.SCALE_LABELS[0]]) == pytest.approx(ref["b"], rel=rel_fit)
        assert float(an.scales[wt.SCALE_LABELS[1]]) == pytest.approx(ref["recu"], rel=1e-13)
        emp = an.empirical
        assert float(emp.sign_flip_probability) == ref["flip"]
        assert float(emp.share_past_half_period) == ref["past"]
        # ŵ sums: float64 (exact) or float32 rows of <= 8192 terms (stated: ~1e-7 relative)
        rel = 1e-13 if exact else 2e-7
        assert float(emp.second_moment) == pytest.approx(ref["m2"], rel=rel)
        assert float(emp.optimal_gamma) == pytest.approx(ref["g"], rel=rel)


@given(
    thr=st.floats(1e-30, 1e30) | st.floats(1e-6, 1e4),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    k=st.integers(-3, 3),
)
def test_threshold_in_the_weights_dtype_is_the_same_test(thr: float, dtype: type, k: int) -> None:
    # the pass compares |w| with π/(2ω₀) in the weights' own precision: x > thr (a float64) holds
    # exactly when x > _below(thr) for every x of that dtype; checked at the values next to thr
    t = wt._below(thr, np.dtype(dtype))
    assert float(np.asarray(t, dtype=dtype)) == t <= thr
    with np.errstate(over="ignore"):  # thr beyond float16's range: its largest value and inf
        near = np.asarray(thr, dtype=dtype)
        for _ in range(abs(k)):
            near = np.nextafter(near, np.asarray(np.inf if k > 0 else -np.inf, dtype=dtype))
        x = np.array([near, np.nextafter(near, np.asarray(np.inf, dtype=dtype)), t], dtype=dtype)
        np.testing.assert_array_equal(x.astype(np.float64) > thr, x > np.asarray(t, dtype=dtype))


def test_flip_counts_sign_bits_not_products() -> None:
    # sin(ω₀w) < 0 for ω₀w in (π, 2π): flips; ω₀w = 0 and -0 are not flips; tiny w keep their sign
    w = np.array([0.0, -0.0, 1e-40, -1e-40, 0.16, -0.16, 0.3, -0.3, 0.05], dtype=np.float32)
    emp = wt.empirical_quantities(w, omega0=20.0)
    s = np.sin(20.0 * w.astype(np.float64))
    assert float(emp.sign_flip_probability) == np.mean(s * w < 0) == 4 / 9


def test_centred_estimator_on_the_mean_and_zeros() -> None:
    # weights exactly at the mean, at 0 and between 0 and the mean: every branch of the identity
    for sign in (1.0, -1.0):
        w = sign * np.array([0.0, 0.0, 0.25, 0.25, 0.5, 1.0, 2.0, -0.5, 0.1, 0.125], dtype=np.float32)
        x = w.astype(np.float64)
        got = wt.analyze_layer(w, omega0=1.0).scales[wt.SCALE_LABELS[1]]
        assert float(got) == pytest.approx(np.abs(x - x.mean()).mean(), rel=1e-15)
    w = np.zeros(10, dtype=np.float32)
    w[3] = 0.5
    assert float(wt.analyze_layer(w, omega0=1.0).scales[wt.SCALE_LABELS[1]]) == pytest.approx(0.09)


def test_per_channel_longer_than_a_row(rng: np.random.Generator) -> None:
    w = rng.laplace(0.0, 0.05, size=(3, 9000)).astype(np.float32)  # column blocks of 8192 + 808
    per = wt.empirical_quantities(w, omega0=20.0, per_channel=True)
    for c in range(3):
        one = wt.empirical_quantities(w[c], omega0=20.0)
        for k, v in one.as_dict().items():
            assert per.as_dict()[k][c] == pytest.approx(float(v), rel=1e-13, abs=1e-15), k


def test_sums_that_overflow_are_an_error() -> None:
    with pytest.raises(ValueError, match=r"too large: their squares overflow the sums in float64"):
        wt.analyze_layers({"big": np.full(4, 1e200)}, omega0=1e-250)
    with pytest.raises(ValueError, match=r"overflow the sums in float32 \(\|w\| ~ 1e17"):
        wt.analyze_layers({"big": np.full(4, 1e19, dtype=np.float32)}, omega0=1e-20)
    wt.analyze_layers({"big": np.full(4, 1e19, dtype=np.float32)}, omega0=1e-20, exact=True)


@pytest.mark.parametrize(
    ("weights", "omega0", "fragment"),
    [
        pytest.param(np.full(4, 0.1), 1e300, r"omega0 \* max\|w\| must be <= 10000", id="huge-omega0"),
        pytest.param(np.ones(4, dtype=bool), 20.0, "got a boolean", id="bool"),
        pytest.param(np.ma.masked_array([0.1, 0.2], [0, 1]), 20.0, "masked array", id="masked"),
        pytest.param(np.array(["2020-01-01"], dtype="datetime64[D]"), 20.0, "date or time", id="datetime"),
    ],
)
def test_analyze_layers_refuses_outside_its_domain(weights: np.ndarray, omega0: float, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        wt.analyze_layers({"x": weights}, omega0=omega0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_sin_is_odd_bit_for_bit(dtype: type, rng: np.random.Generator) -> None:
    # the pass evaluates sin(ω₀|w|) and restores the sign: exact only if sin(-x) == -sin(x)
    x = np.concatenate([rng.laplace(0.0, 3.0, 200_000), np.arange(-64, 65) * np.pi / 8]).astype(dtype)
    np.testing.assert_array_equal(np.sin(-x), -np.sin(x))


def test_big_endian_weights_equal_native(rng: np.random.Generator) -> None:
    w = (0.01 + rng.laplace(0.0, 0.05, size=3000)).astype(np.float32)
    big = w.astype(">f4")
    a, b = wt.analyze_layer(w, omega0=20.0), wt.analyze_layer(big, omega0=20.0)
    for k in wt.SCALE_LABELS:
        assert float(b.scales[k]) == float(a.scales[k])
    assert b.empirical.as_dict() == a.empirical.as_dict()
