r"""Measured weight laws: fits, goodness of fit, and what ``sin(ω₀ w)`` does to the weights.

The paper models the latent weights as :math:`W \sim \mathrm{La}(0, b)` (Section 2.1 of
Vargas et al., 2024). This module checks that model on real weights and computes the
quantities of :mod:`biper_theory.closed_form` three ways:

* under the fitted **Laplace** law (the paper's closed forms, :mod:`biper_theory.closed_form`);
* under a fitted zero-mean **Gaussian** law :math:`N(0, \sigma^2)` (not in the paper; the
  closed forms and series are in :mod:`biper_theory.laws.gaussian`, in :math:`s = \sigma\omega_0`);
* **empirically**, from the weights themselves, with normal-approximation (default) or
  bootstrap confidence intervals, in one chunked pass per layer.

Fits are maximum likelihood, with the same estimators as ``scipy.stats.laplace.fit`` and
``scipy.stats.norm.fit`` (checked against them in the tests) but evaluated directly: for both
laws the MLE has a closed form (Laplace, location fixed at 0: :math:`\hat b = \overline{|w|}`;
location free: the median :math:`\tilde w` and :math:`\hat b = \overline{|w-\tilde w|}`;
Gaussian: :math:`\hat\sigma^2 = \overline{w^2}` or the variance), so no generic optimiser runs.

numpy/scipy only. Every weight array is checked: empty arrays and non-finite entries raise
``ValueError`` (with per-layer counts); nothing is dropped silently.

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1.
.. [2] Z. Xu et al., "ReCU: Reviving the Dead Weights in Binary Neural Networks",
   ICCV 2021 (the centred scale estimator).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from ._validation import as_positive, check_numeric_kind, check_phase_range, dimensionless_scale
from .laws import get as _law_class
from .laws._base import Quantities
from .laws._base import from_moments as _from_moments
from .laws.gaussian import (
    gaussian_optimal_gamma,
    gaussian_second_moment,
    gaussian_share_past_half_period,
    gaussian_sign_flip_probability,
)

__all__ = [
    "LAWS",
    "CI_NORMAL",
    "CI_BOOTSTRAP",
    "validate_layers",
    "as_weight_array",
    "LawFit",
    "fit_laplace",
    "fit_gaussian",
    "fitted_scale",
    "FitComparison",
    "compare_fits",
    "scale_estimators",
    "SCALE_LABELS",
    "KS_NOTE",
    "KS_SIZE",
    "gaussian_second_moment",
    "gaussian_optimal_gamma",
    "gaussian_sign_flip_probability",
    "gaussian_share_past_half_period",
    "laplace_share_past_half_period",
    "Quantities",
    "model_quantities",
    "EmpiricalQuantities",
    "empirical_quantities",
    "LayerAnalysis",
    "analyze_layer",
    "analyze_layers",
]

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: The weight laws with closed forms here.
LAWS: tuple[str, ...] = ("laplace", "gaussian")

#: How :func:`empirical_quantities` forms its intervals by default (stated in every report).
CI_NORMAL = (
    "normal approximation (delta method): estimate +- z*sqrt(Var(influence)/n); in analyze_layer "
    "the variance of a layer larger than ks_size comes from its KS subsample"
)
#: ... and with ``n_boot > 0``.
CI_BOOTSTRAP = (
    "percentile bootstrap of resamples of a seeded subsample of size m = min(n, boot_size); "
    "deviations rescaled by sqrt(m/n) (m-out-of-n bootstrap; the plain percentile bootstrap when m = n)"
)

_HALF_PI = 0.5 * np.pi


# ----------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------


def _as_real_array(name: str, w: ArrayLike) -> np.ndarray:
    """The weights as a real floating array: float16/32/64 kept as stored (in native byte order,
    which the pass's bit-pattern comparisons need), integers → float64; booleans, dates and
    masked arrays are refused (:func:`~biper_theory._validation.check_numeric_kind`)."""
    check_numeric_kind(f"weights of layer {name!r}", w, "real numbers")
    try:
        x = np.asarray(w)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"weights of layer {name!r} must be a real array; got {type(w).__name__}") from exc
    if x.dtype.kind in "iu":
        x = x.astype(np.float64)
    elif x.dtype.kind != "f":
        raise ValueError(f"weights of layer {name!r} must be real numbers; got dtype {x.dtype}")
    elif not x.dtype.isnative:  # e.g. '>f4' from a .npy written on a big-endian machine
        x = x.astype(x.dtype.newbyteorder("="))
    return x


def as_weight_array(name: str, w: ArrayLike) -> np.ndarray:
    """Return one layer's weights as a real floating array; empty or non-finite → ``ValueError``.

    Floating arrays are kept in their stored precision (no float64 copy of a large layer);
    every computation accumulates in float64.
    """
    x = _as_real_array(name, w)
    if x.size == 0:
        raise ValueError(f"weights of layer {name!r} are empty (shape {x.shape}); need at least 1 value")
    bad = _nonfinite_counts(x)
    if bad:
        raise ValueError(f"non-finite weights (never dropped silently): {name}: {bad}")
    return x


def _total(x: np.ndarray) -> float:
    """Σx in float64 (NaN or ±inf if any entry is; it doubles as the finiteness check)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(x.sum(dtype=np.float64))


def _nonfinite_counts(x: np.ndarray, total: float | None = None) -> str:
    """'' if every entry is finite, else e.g. '3 NaN, 1 +inf of 4608'."""
    if np.isfinite(_total(x) if total is None else total):  # any NaN/inf makes the sum non-finite
        return ""
    parts = []
    for label, count in (
        ("NaN", np.count_nonzero(np.isnan(x))),
        ("+inf", np.count_nonzero(x == np.inf)),
        ("-inf", np.count_nonzero(x == -np.inf)),
    ):
        if count:
            parts.append(f"{count} {label}")
    return f"{', '.join(parts)} of {x.size}" if parts else ""


def validate_layers(
    layers: Mapping[str, ArrayLike] | ArrayLike, *, name: str = "weights"
) -> dict[str, np.ndarray]:
    """Check every layer and return ``{name: real floating array}``.

    Parameters
    ----------
    layers : mapping of str to array_like, or array_like
        Per-layer weights; a single array becomes one layer called ``name``.

    Raises
    ------
    ValueError
        If there are no layers, a layer is empty or not real, or any layer holds NaN/±inf.
        All offending layers are listed in one message with their counts, e.g.
        ``non-finite weights (never dropped silently): conv1: 2 NaN of 27; fc: 1 +inf of 40``.
    """
    if not isinstance(layers, Mapping):
        layers = {name: layers}
    if not layers:
        raise ValueError("no layers given: need at least one weight array")
    out: dict[str, np.ndarray] = {}
    empty: list[str] = []
    nonfinite: list[str] = []
    for key, value in layers.items():
        x = _as_real_array(str(key), value)
        if x.size == 0:
            empty.append(f"{key} (shape {x.shape})")
            continue
        bad = _nonfinite_counts(x)
        if bad:
            nonfinite.append(f"{key}: {bad}")
        out[str(key)] = x
    if empty:
        raise ValueError(f"empty weight arrays (need at least 1 value): {', '.join(empty)}")
    if nonfinite:
        raise ValueError(f"non-finite weights (never dropped silently): {'; '.join(nonfinite)}")
    return out


def _rows(w: np.ndarray, per_channel: bool) -> np.ndarray:
    """View of the weights as (C, m) rows: one row per output channel, or a single row."""
    if per_channel:
        if w.ndim < 2:
            raise ValueError(f"per_channel needs an array with >= 2 dimensions (out, ...); got {w.shape}")
        return w.reshape(w.shape[0], -1)
    return w.reshape(1, -1)


def _squeeze(x: np.ndarray, per_channel: bool) -> Array:
    x = np.asarray(x, dtype=np.float64)
    return x if per_channel else x.reshape(())


# ----------------------------------------------------------------------------------------
# Fits
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LawFit:
    r"""Maximum-likelihood fit of one law to weights (one entry per channel, or 0-d).

    Attributes
    ----------
    law : {"laplace", "gaussian"}
    loc, scale : ndarray
        Location and scale (Laplace ``b``; Gaussian ``σ``).
    scale_se : ndarray
        Standard error of the scale: :math:`\hat b/\sqrt n` (Laplace; exact for known
        location, asymptotic otherwise, since the Fisher information of the Laplace law is
        diagonal) and :math:`\hat\sigma/\sqrt{2n}` (Gaussian, asymptotic).
    loglik, aic : ndarray
        Log-likelihood at the MLE and :math:`AIC = 2k - 2\ell` (k = 1 with the location
        fixed, 2 with it free).
    ks_statistic, ks_pvalue : ndarray
        One-sample Kolmogorov–Smirnov test against the fitted law. The p-value is
        **optimistic** (too large): the parameters were fitted to the same data, which the
        KS null distribution does not account for (Lilliefors).
    n : int
        Weights per fit (per channel with ``per_channel``).
    ks_n : int
        Weights the KS test used: all of them, or a seeded subsample of ``ks_size``.
    loc_fixed : bool
        Whether the location was fixed at 0 (the paper's zero-mean model).
    estimator : str
        The estimator, in words.
    """

    law: str
    loc: Array
    scale: Array
    scale_se: Array
    loglik: Array
    aic: Array
    ks_statistic: Array
    ks_pvalue: Array
    n: int
    ks_n: int
    loc_fixed: bool
    estimator: str


_ESTIMATORS = {
    ("laplace", True): "MLE, loc fixed at 0: b = mean|w| (scipy.stats.laplace.fit(w, floc=0))",
    ("laplace", False): "MLE, loc free: loc = median(w), b = mean|w - loc| (scipy.stats.laplace.fit(w))",
    ("gaussian", True): "MLE, mean fixed at 0: sigma^2 = mean(w^2) (scipy.stats.norm.fit(w, floc=0))",
    ("gaussian", False): "MLE, mean free: sigma^2 = var(w), ddof=0 (scipy.stats.norm.fit(w))",
}
#: Caveat printed beside every KS p-value.
KS_NOTE = (
    "KS p-values are optimistic: the law's parameters were fitted to the same weights (Lilliefors); "
    "on large layers the test uses a seeded subsample"
)


def _check_size(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or int(value) != value or value < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum} or None; got {value!r}")


def _subsample(m: int, size: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted column indices of a subsample without replacement (None: use all m columns)."""
    if size is None or m <= size:
        return None
    return np.sort(rng.choice(m, size=int(size), replace=False, shuffle=False))  # sorted anyway


#: Default size of the seeded KS subsample of a large layer (see :func:`fit_laplace`).
KS_SIZE = 2000

_KS_EXACT_MAX = 1000


def _ks(sorted_sample: np.ndarray, cdf_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided one-sample KS statistic per row of a sorted (R, m) sample, and its p-value.

    D = max_i max(i/m - F(x_(i)), F(x_(i)) - (i-1)/m); p from scipy's exact null law
    ``scipy.stats.kstwo`` (what ``scipy.stats.kstest(method="exact")`` uses) up to m = 1000,
    above it from Stephens' modified asymptotic form.
    """
    m = sorted_sample.shape[1]
    i = np.arange(1, m + 1, dtype=np.float64)
    d = np.maximum(np.max(i / m - cdf_values, axis=1), np.max(cdf_values - (i - 1.0) / m, axis=1))
    if m <= _KS_EXACT_MAX:
        return d, np.asarray(stats.kstwo.sf(d, m), dtype=np.float64)
    # Stephens (1970): Q_KS((√m + 0.12 + 0.11/√m) D), within ~5e-3 of the exact law here and
    # ~100x cheaper than kstwo at m = 5000
    r = np.sqrt(m)
    # (special.kolmogorov is scipy.stats.kstwobign.sf without the distribution machinery)
    return d, np.asarray(special.kolmogorov((r + 0.12 + 0.11 / r) * d), dtype=np.float64)


def _laplace_cdf(x: np.ndarray, loc: np.ndarray, b: np.ndarray) -> np.ndarray:
    # F = ½ e^{z} for z < 0, 1 - ½ e^{-z} for z ≥ 0, z = (x - loc)/b; the exponent is never > 0.
    z = (x - loc) / b
    half = 0.5 * np.exp(-np.abs(z))
    return np.where(z < 0.0, half, 1.0 - half)


def _make_fit(
    law: str,
    loc: np.ndarray,
    scale: np.ndarray,
    n: int | np.ndarray,
    fix_loc: bool,
    sample: np.ndarray,
    per_channel: bool,
) -> LawFit:
    """LawFit from the MLE (loc, scale) per row and a sorted KS sample (R, m)."""
    k = 1 if fix_loc else 2
    if law == "laplace":
        # ℓ = -n log 2b - Σ|w-μ|/b, and Σ|w-μ| = n b at the MLE
        loglik = -n * (np.log(2.0 * scale) + 1.0)
        se = scale / np.sqrt(n)
        cdf = _laplace_cdf(sample, loc[:, None], scale[:, None])
    else:
        # ℓ = -n/2 log 2πσ² - Σ(w-μ)²/(2σ²), and Σ(w-μ)² = n σ² at the MLE
        loglik = -0.5 * n * (np.log(2.0 * np.pi * scale * scale) + 1.0)
        se = scale / np.sqrt(2.0 * n)
        cdf = special.ndtr((sample - loc[:, None]) / scale[:, None])
    d, p = _ks(sample, cdf)
    return LawFit(
        law=law,
        loc=_squeeze(loc, per_channel),
        scale=_squeeze(scale, per_channel),
        scale_se=_squeeze(se, per_channel),
        loglik=_squeeze(loglik, per_channel),
        aic=_squeeze(2.0 * k - 2.0 * loglik, per_channel),
        ks_statistic=_squeeze(d, per_channel),
        ks_pvalue=_squeeze(p, per_channel),
        n=n if isinstance(n, int) else 0,  # layers stacked (n per row): _take sets each layer's
        ks_n=sample.shape[1],
        loc_fixed=fix_loc,
        estimator=_ESTIMATORS[(law, fix_loc)],
    )


def _check_scale(law: str, scale: np.ndarray, name: str = "w") -> None:
    if np.any(~(scale > 0.0)):
        raise ValueError(f"{name}: the {law} scale is 0 (all weights equal the location); cannot fit")


def _fit_rows(
    law: str, w: ArrayLike, fix_loc: bool, per_channel: bool, ks_size: int | None, rng: Any
) -> LawFit:
    x = _rows(as_weight_array("w", w), per_channel)
    _check_size("ks_size", ks_size, 2)
    n = x.shape[1]
    if law == "laplace":
        loc = np.zeros(x.shape[0]) if fix_loc else np.median(x.astype(np.float64, copy=False), axis=1)
        scale = np.abs(x - loc[:, None], dtype=np.float64).mean(axis=1)
    else:
        loc = np.zeros(x.shape[0]) if fix_loc else x.mean(axis=1, dtype=np.float64)
        c = x - loc[:, None] if not fix_loc else x.astype(np.float64, copy=False)
        scale = np.sqrt(np.einsum("ij,ij->i", c, c, dtype=np.float64) / n)
    _check_scale(law, scale)
    cols = _subsample(n, ks_size, np.random.default_rng(rng))
    sample = np.sort(np.asarray(x if cols is None else x[:, cols], dtype=np.float64), axis=1)
    return _make_fit(law, loc, scale, n, fix_loc, sample, per_channel)


def fit_laplace(
    w: ArrayLike,
    *,
    fix_loc: bool = True,
    per_channel: bool = False,
    ks_size: int | None = KS_SIZE,
    rng: Any = 0,
) -> LawFit:
    r"""Maximum-likelihood Laplace fit, with KS test and AIC. Not in the paper.

    The paper assumes :math:`W\sim\mathrm{La}(0, b)` (Section 2.1); this measures how well
    that holds.

    Parameters
    ----------
    w : array_like
        Weights (finite, non-empty). With ``per_channel`` the first axis is the output channel.
    fix_loc : bool, default True
        Fix the location at 0 (the paper's zero-mean model; ``scipy.stats.laplace.fit(w,
        floc=0)``) or leave it free (``scipy.stats.laplace.fit(w)``).
    per_channel : bool, default False
        One fit per output channel (first axis) instead of one for the whole array.
    ks_size : int or None, default :data:`KS_SIZE` (2000)
        The KS test runs on at most this many weights per fit (a seeded subsample without
        replacement), so a large layer is not sorted in full; ``None``: all. At 2000 the 5 %
        critical distance is 1.36/√2000 = 0.030, half the distance 0.062 between a Laplace
        law and the Gaussian of the same variance.
    rng : seed or numpy Generator, default 0
        Randomness for the KS subsample (``np.random.default_rng`` accepts it).

    Returns
    -------
    LawFit

    Notes
    -----
    The MLE in closed form (what ``scipy.stats.laplace.fit`` returns, without its optimiser):

    .. math:: \hat\mu = 0 \text{ or } \operatorname{median}(w),\qquad
              \hat b = \frac1n\sum_i |w_i - \hat\mu|,\qquad
              \ell = -n\left(\log 2\hat b + 1\right).

    :math:`|W| \sim \mathrm{Exp}(b)` for known location, so :math:`SE(\hat b) = b/\sqrt n`.
    """
    return _fit_rows("laplace", w, fix_loc, per_channel, ks_size, rng)


def fit_gaussian(
    w: ArrayLike,
    *,
    fix_loc: bool = True,
    per_channel: bool = False,
    ks_size: int | None = KS_SIZE,
    rng: Any = 0,
) -> LawFit:
    r"""Maximum-likelihood Gaussian fit, with KS test and AIC. Not in the paper.

    Parameters are as in :func:`fit_laplace`; ``fix_loc`` fixes the mean at 0
    (``scipy.stats.norm.fit(w, floc=0)``: :math:`\hat\sigma^2 = \overline{w^2}`), otherwise
    ``scipy.stats.norm.fit(w)`` (:math:`\hat\mu = \bar w`, :math:`\hat\sigma^2` the variance with
    divisor n).

    Notes
    -----
    .. math:: \ell = -\frac n2\left(\log 2\pi\hat\sigma^2 + 1\right),\qquad
              SE(\hat\sigma) \approx \hat\sigma/\sqrt{2n}.
    """
    return _fit_rows("gaussian", w, fix_loc, per_channel, ks_size, rng)


def fitted_scale(w: ArrayLike, *, law: str = "laplace", fix_loc: bool = True) -> float:
    """The maximum-likelihood scale alone (Laplace b̂ or Gaussian σ̂), without the tests.

    The same estimators as :func:`fit_laplace` / :func:`fit_gaussian` (see there).
    """
    x = as_weight_array("w", w).reshape(-1)
    if law == "laplace":
        x64 = x.astype(np.float64, copy=False)
        scale = float(np.abs(x64 if fix_loc else x64 - np.median(x64)).mean())
    elif law == "gaussian":
        c = x.astype(np.float64) if fix_loc else x - x.mean(dtype=np.float64)
        scale = float(np.sqrt(np.einsum("i,i->", c, c) / c.size))
    else:
        raise ValueError(f"law must be one of {', '.join(LAWS)}; got {law!r}")
    _check_scale(law, np.asarray(scale))
    return scale


@dataclass(frozen=True)
class FitComparison:
    """Laplace against Gaussian by AIC (same number of parameters, so AIC = likelihood).

    ``delta_aic = AIC_gaussian - AIC_laplace`` (positive favours Laplace); ``verdict`` is
    ``"laplace"`` where it exceeds 2, ``"gaussian"`` where it is below -2, else
    ``"inconclusive"`` (the usual threshold of 2 AIC units).
    """

    laplace: LawFit
    gaussian: LawFit
    delta_aic: Array
    verdict: npt.NDArray[np.str_]


def compare_fits(laplace: LawFit, gaussian: LawFit) -> FitComparison:
    """Laplace-vs-Gaussian verdict by AIC from two fits of the same weights. Not in the paper."""
    delta = np.asarray(gaussian.aic - laplace.aic, dtype=np.float64)
    verdict = np.where(delta > 2.0, "laplace", np.where(delta < -2.0, "gaussian", "inconclusive"))
    return FitComparison(laplace=laplace, gaussian=gaussian, delta_aic=delta, verdict=verdict)


#: labels of :func:`scale_estimators`.
SCALE_LABELS = ("mean|w| (official BiPer code)", "mean|w - mean w| (ReCU)")


def scale_estimators(w: ArrayLike, *, per_channel: bool = False) -> dict[str, Array]:
    r"""The scale estimators that BNN code applies to latent weights, labelled. Not in the paper.

    Returns
    -------
    dict
        ``"mean|w| (official BiPer code)"``: :math:`\overline{|w|}` (also the Laplace MLE with
        location 0), and ``"mean|w - mean w| (ReCU)"``: :math:`\overline{|w - \bar w|}`, the
        centred estimator of ReCU [2]_.
    """
    x = _rows(as_weight_array("w", w), per_channel)
    mean_abs = np.abs(x, dtype=np.float64).mean(axis=1)
    centred = np.abs(x - x.mean(axis=1, keepdims=True, dtype=np.float64)).mean(axis=1)
    return {SCALE_LABELS[0]: _squeeze(mean_abs, per_channel), SCALE_LABELS[1]: _squeeze(centred, per_channel)}


def laplace_share_past_half_period(
    *, b: ArrayLike | None = None, omega0: ArrayLike | None = None, a: ArrayLike | None = None
) -> Array:
    r""":math:`P[|\omega_0 W| > \pi/2] = e^{-\pi/(2a)}` under :math:`\mathrm{La}(0, b)`, :math:`a=b\omega_0`.

    Not in the paper: the share of latent weights past the first half-period, where
    :math:`\mathrm{sign}\sin(\omega_0 w)` can differ from :math:`\mathrm{sign}\,w`.
    """
    aa = dimensionless_scale(b, omega0, a)
    with np.errstate(under="ignore"):
        return np.asarray(np.exp(-_HALF_PI / aa), dtype=np.float64)


# ----------------------------------------------------------------------------------------
# Quantities: model (closed form) and empirical
# ----------------------------------------------------------------------------------------


def model_quantities(law: str, *, scale: ArrayLike, omega0: ArrayLike) -> Quantities:
    r"""The eight :class:`Quantities` under a zero-mean law with the given scale.

    ``law="laplace"``: closed forms of :mod:`biper_theory.closed_form` at :math:`a=b\omega_0`
    (eqs. 5–8 of Vargas et al., 2024, and the derived sign-flip probability
    :math:`1/(1+e^{\pi/a})`); ``scale`` is ``b``. ``law="gaussian"``: the closed forms and
    series of :mod:`biper_theory.laws.gaussian` at :math:`s=\sigma\omega_0` (not in the
    paper); ``scale`` is ``σ``. Both through the law objects of :mod:`biper_theory.laws`,
    vectorised over ``scale``.

    Raises
    ------
    ValueError
        For an unknown ``law`` (allowed: ``LAWS``) or a scale/ω₀ outside (0, inf).
    """
    if law not in LAWS:
        raise ValueError(f"law must be one of {', '.join(LAWS)}; got {law!r}")
    cls: Any = _law_class(law)
    x = dimensionless_scale(scale, omega0, None)  # checks scale, omega0 and their product
    return cls(**{cls.scale_name: 1.0}).quantities(omega0=x)


@dataclass(frozen=True)
class EmpiricalQuantities(Quantities):
    """:class:`Quantities` measured on the weights, with confidence intervals.

    ``ci`` maps each quantity name to ``(low, high)`` arrays; ``ci_method`` states how they
    were formed (:data:`CI_NORMAL` or :data:`CI_BOOTSTRAP`), ``confidence`` their level;
    ``sin_precision`` says in which precision :math:`\\sin` was evaluated.
    """

    ci: dict[str, tuple[Array, Array]] = field(default_factory=dict)
    confidence: float = 0.95
    n_boot: int = 0
    boot_size: int = 0
    ci_method: str = ""
    n: int = 0
    sin_precision: str = "float64"


#: Row length of the pass over a layer: row sums are BLAS dot products of at most this many
#: float32 terms (relative error ~1e-7), added up in float64.
_ROW = 8192
#: Elements per block of rows: the pass's buffers (~17 bytes per element) stay in L2.
_BLOCK = 1 << 16


def _sin_into(x: np.ndarray, omega0: float, out: np.ndarray, tmp32: np.ndarray | None) -> np.ndarray:
    """out = sin(omega0*x) (float64 out); in float32 when tmp32 is given.

    The float32 route rounds the float64 product omega0*x once to float32, exactly as the pass
    (:func:`_row_sums`) forms ŵ, so subsamples and resamples see the same ŵ values.
    """
    np.multiply(x, omega0, out=out, dtype=np.float64)  # the product in float64 whatever x's dtype
    if tmp32 is None:
        return np.sin(out, out=out)
    np.copyto(tmp32, out, casting="same_kind")
    np.sin(tmp32, out=tmp32)
    np.copyto(out, tmp32)
    return out


@dataclass
class _Moments:
    """Means over the last axis: E ŵ², E|ŵ|, E ŵ⁴, E|ŵ|³, flip share, share past π/2."""

    m2: np.ndarray
    g: np.ndarray
    m4: np.ndarray
    m3: np.ndarray
    flip: np.ndarray
    past: np.ndarray

    def quantities(self) -> dict[str, np.ndarray]:
        return _from_moments(self.m2, self.g, self.flip, self.past)


def _moments(s: np.ndarray, w: np.ndarray, thr: float) -> _Moments:
    """Row moments of ŵ = s for (..., m) arrays (vectorised; resamples and subsamples)."""
    m = s.shape[-1]
    s2 = s * s
    a = np.abs(s)
    return _Moments(
        m2=s2.sum(axis=-1) / m,
        g=a.sum(axis=-1) / m,
        m4=np.einsum("...i,...i->...", s2, s2) / m,
        m3=np.einsum("...i,...i->...", s2, a) / m,
        # a flip is ŵ·w < 0 strictly: w = 0 (then ŵ = 0) is not a flip
        flip=np.asarray(np.count_nonzero(s * w < 0.0, axis=-1) / m, dtype=np.float64),
        past=np.asarray(np.count_nonzero(np.abs(w) > thr, axis=-1) / m, dtype=np.float64),
    )


@dataclass
class _Sums:
    """Sums over the weights of each unit (one layer, or each output channel), float64.

    ``s``/``a64``/``neg`` (Σw, Σ|w| in float64, the count of set sign bits) are only formed
    when a location is needed (a free-location fit, the centred scale estimator); ``m4``/``m3``
    (Σŵ⁴, Σ|ŵ|³) only when asked for (they set interval widths).
    """

    n: int  # weights per unit
    a: np.ndarray  # Σ|w|
    q: np.ndarray  # Σw²
    m2: np.ndarray  # Σŵ²
    g: np.ndarray  # Σ|ŵ|
    flip: np.ndarray  # #{ŵ·w < 0}
    past: np.ndarray  # #{|w| > π/(2ω₀)}
    s: np.ndarray | None = None  # Σw (float64)
    a64: np.ndarray | None = None  # Σ|w| in float64 (= a unless a was summed in float32)
    neg: np.ndarray | None = None  # #{sign bit of w set} (w < 0 or w = -0)
    m4: np.ndarray | None = None
    m3: np.ndarray | None = None

    def __add__(self, other: _Sums) -> _Sums:
        """Sums of a unit split in two parts (column blocks of a channel)."""

        def add(u: np.ndarray | None, v: np.ndarray | None) -> np.ndarray | None:
            return None if u is None or v is None else u + v

        return _Sums(self.n + other.n, **{k: add(getattr(self, k), getattr(other, k)) for k in _SUM_KEYS})  # type: ignore[arg-type]

    def finite(self) -> bool:
        """False if a weight is NaN/±inf (or the float64 sums overflow)."""
        return bool(np.isfinite(self.a.sum() + self.q.sum()))

    def moments(self, m4: np.ndarray | None = None, m3: np.ndarray | None = None) -> _Moments:
        """Means; E ŵ⁴ and E|ŵ|³ (interval widths only) as given, else from the sums."""
        n = self.n
        if m4 is None or m3 is None:
            assert self.m4 is not None and self.m3 is not None
            m4, m3 = self.m4 / n, self.m3 / n
        return _Moments(self.m2 / n, self.g / n, m4, m3, self.flip / n, self.past / n)


_SUM_KEYS = ("a", "q", "m2", "g", "flip", "past", "s", "a64", "neg", "m4", "m3")


def _below(thr: float, dtype: np.dtype) -> float:
    """The largest value of ``dtype`` <= thr: for x of that dtype, x > thr iff x > _below(thr).

    (Every x > that value is at least the next value of the dtype, which is > thr.)
    """
    with np.errstate(over="ignore"):  # thr beyond the dtype's range: inf, then its largest value
        t = np.asarray(thr, dtype=dtype)
    if float(t) > thr:
        t = np.nextafter(t, np.asarray(-np.inf, dtype=dtype))
    return float(t)


def _row_sums(
    x: np.ndarray, omega0: float, exact: bool, higher: bool, row_counts: bool, signed: bool
) -> _Sums:
    """Sums over each row of a 2-D array with rows of at most ``_ROW`` weights, in one pass.

    Blocks of rows are worked on in reused buffers that stay in cache: no full-size temporary,
    each weight read from memory once; every row sum is one BLAS dot product (``np.vecdot``,
    one call per block for all its rows) and rows are added up in float64.

    Precision. With ``exact`` every sum is float64 and ŵ = sin(ω₀w) is float64. Otherwise
    ŵ is evaluated in float32 from the argument ω₀|w| rounded once to float32 (as
    :func:`_sin_into` does); float16/float32 weights are also summed (Σ|w|, Σw²) in float32
    within a row; float64 weights in float64. A float32 dot product of ≤ 8192 terms of one
    sign is off by ~1e-7 relative (measured ≤ 3e-7 per row; the rows' errors partly cancel
    in the layer total); the sampling error of any of these means is ~1/√n, orders of
    magnitude larger. Σw (with ``signed``, with the count of set sign bits: for a location)
    is float64 in every mode, and so are the counts (flips, share past π/2): exact.

    Counts are per row with ``row_counts``, else totals (in the first entry). sin is odd
    (bit-exactly in numpy's loops, which a test checks), so ŵ = sign(w)·sin(ω₀|w|): the sums
    need only sin(ω₀|w|), and a flip (ŵ·w < 0) is sin(ω₀|w|) < 0 (w = ±0 gives 0).
    """
    rows, m = x.shape
    rb = max(1, min(rows, _BLOCK // max(m, 1)))
    thr = _HALF_PI / omega0
    ws = np.dtype(np.float64 if exact else np.float32)  # precision of ŵ
    # precision of |w| and its sums: float32 for float16/32 weights unless exact
    wp = np.dtype(np.float32 if x.dtype.itemsize <= 4 and not exact else np.float64)
    # |w| and ŵ in one buffer when they share a dtype (rows [0, r) and [r, 2r) of a block), so
    # that Σ|w| with Σ|ŵ|, and Σw² with Σŵ², are one call each
    joint = wp == ws
    both = np.empty((2 * rb, m), dtype=wp) if joint else None
    aw = np.empty((rb, m), dtype=wp) if not joint else None
    sw = np.empty((rb, m), dtype=ws) if not joint else None
    d64 = np.empty((rb, m)) if signed and wp != np.float64 else None  # w in float64, for Σw
    t = np.empty((rb, m), dtype=ws) if higher else None
    mask = np.empty((rb, m), dtype=bool)
    ones_p, ones_w, ones64 = np.ones(m, dtype=wp), np.ones(m, dtype=ws), np.ones(m)
    nb = -(-rows // rb)  # blocks; the last may hold fewer rows
    # each BLAS call writes its row sums straight into a per-block slot: (block, row) for one sum,
    # or (block, [rows of the first sum, rows of the second]) for a joint call
    lin = np.empty((nb, 2 * rb if joint else rb), dtype=wp)  # Σ|w| (and Σ|ŵ| when joint)
    sq = np.empty((nb, 2 * rb if joint else rb), dtype=wp)  # Σw² (and Σŵ²)
    lin_w = np.empty((nb, rb), dtype=ws) if not joint else None  # Σ|ŵ|
    sq_w = np.empty((nb, rb), dtype=ws) if not joint else None  # Σŵ²
    hi4 = np.empty((nb, rb), dtype=ws) if higher else None  # Σŵ⁴
    hi3 = np.empty((nb, rb), dtype=ws) if higher else None  # Σ|ŵ|³
    s64 = np.zeros((2, rows)) if signed else None  # Σw and float64 Σ|w|
    flip, past, neg = (np.zeros(rows if row_counts else 1, dtype=np.int64) for _ in range(3))
    thr_p = _below(thr, wp)  # for |w| of dtype wp: |w| > thr iff |w| > thr_p
    om32 = np.float32(omega0)
    # fl32(ω₀|w|) from float32 |w|: one float32 product when ω₀ is a float32 (20, 30, 0.5, ...),
    # since the exact product then fits in float64 and is rounded once; else via float64
    fast32 = wp == ws == np.float32 and float(om32) == omega0
    t64 = np.empty((rb, m)) if ws == np.float32 and not fast32 else None
    count = np.count_nonzero

    with np.errstate(invalid="ignore", over="ignore"):  # non-finite weights are reported by the caller
        for bi, r0 in enumerate(range(0, rows, rb)):
            xv = x[r0 : r0 + rb]
            r = xv.shape[0]
            if both is not None:
                av, sv = both[:r], both[r : 2 * r]
            else:
                assert aw is not None and sw is not None
                av, sv = aw[:r], sw[:r]
            mv = mask[:r]
            if signed:  # Σw in float64 (a mean is a difference of nearly equal sums), Σ|w| too
                assert s64 is not None
                np.signbit(xv, out=mv)
                if row_counts:
                    neg[r0 : r0 + r] = count(mv, axis=1)
                else:
                    neg[0] += count(mv)
                wv = av if d64 is None else d64[:r]
                np.copyto(wv, xv)
                np.vecdot(wv, ones64, out=s64[0, r0 : r0 + r])
                np.abs(wv, out=wv)
                np.vecdot(wv, ones64, out=s64[1, r0 : r0 + r])
            if not signed or d64 is not None:
                np.abs(xv, out=av)
            np.greater(av, thr_p, out=mv)
            if row_counts:
                past[r0 : r0 + r] = count(mv, axis=1)
            else:
                past[0] += count(mv)
            if fast32:  # the float32 product is fl32 of the exact product
                np.multiply(av, om32, out=sv)
            elif exact:  # float64 throughout
                np.multiply(av, omega0, out=sv)
            else:  # ω₀|w| in float64, rounded once to float32
                assert t64 is not None
                np.copyto(sv, np.multiply(av, omega0, out=t64[:r], dtype=np.float64), casting="same_kind")
            np.sin(sv, out=sv)
            np.less(sv, 0.0, out=mv)
            if row_counts:
                flip[r0 : r0 + r] = count(mv, axis=1)
            else:
                flip[0] += count(mv)
            if hi4 is not None and t is not None:
                tv = np.multiply(sv, sv, out=t[:r])
                np.vecdot(tv, tv, out=hi4[bi, :r])
            np.abs(sv, out=sv)
            if both is not None:  # rows of |w| then of |ŵ|: one call for Σ|w|, Σ|ŵ|, one for Σw², Σŵ²
                pair = both[: 2 * r]
                np.vecdot(pair, ones_p, out=lin[bi, : 2 * r])
                np.vecdot(pair, pair, out=sq[bi, : 2 * r])
            else:
                assert lin_w is not None and sq_w is not None
                np.vecdot(av, ones_p, out=lin[bi, :r])
                np.vecdot(av, av, out=sq[bi, :r])
                np.vecdot(sv, ones_w, out=lin_w[bi, :r])
                np.vecdot(sv, sv, out=sq_w[bi, :r])
            if hi3 is not None:
                np.vecdot(tv, sv, out=hi3[bi, :r])

    tail = rows - (nb - 1) * rb  # rows in the last block

    def rows_of(slots: np.ndarray, second: bool = False) -> np.ndarray:
        """One quantity's row sums in row order, float64 (second: the joint call's second half)."""
        out = np.empty(rows)
        k = rb if second else 0
        out[: (nb - 1) * rb] = slots[:-1, k : k + rb].reshape(-1)
        k = tail if second else 0
        out[(nb - 1) * rb :] = slots[-1, k : k + tail]
        return out

    sums = {"a": rows_of(lin), "q": rows_of(sq)}
    if joint:
        sums |= {"g": rows_of(lin, True), "m2": rows_of(sq, True)}
    else:
        assert lin_w is not None and sq_w is not None
        sums |= {"g": rows_of(lin_w), "m2": rows_of(sq_w)}
    if hi4 is not None and hi3 is not None:
        sums |= {"m4": rows_of(hi4), "m3": rows_of(hi3)}
    if s64 is not None:
        sums |= {"s": s64[0], "a64": s64[1]}
    counts = {"flip": flip, "past": past} | ({"neg": neg} if signed else {})
    return _Sums(m, **sums, **counts)


def _pass(
    x: np.ndarray, omega0: float, exact: bool, per_channel: bool, higher: bool, signed: bool = False
) -> _Sums:
    """The sums of :func:`_row_sums` for a whole layer (arrays of shape (1,)) or per channel.

    A layer is viewed as rows of ``_ROW`` weights plus a shorter last row, whose sums are then
    added (pairwise); a channel longer than ``_ROW`` is split into column blocks. A channel
    alone and the same weights as a layer are summed in the same groups.
    """
    if per_channel:
        rows = _rows(x, True)
        m = rows.shape[1]
        out = _row_sums(rows[:, : min(m, _ROW)], omega0, exact, higher, True, signed)
        for c0 in range(_ROW, m, _ROW):
            out = out + _row_sums(rows[:, c0 : c0 + _ROW], omega0, exact, higher, True, signed)
        return out
    flat = x.reshape(-1)
    n = flat.size
    full = n - n % _ROW
    parts = []
    if full:
        parts.append(_row_sums(flat[:full].reshape(-1, _ROW), omega0, exact, higher, False, signed))
    if full < n:
        parts.append(_row_sums(flat[full:].reshape(1, -1), omega0, exact, higher, False, signed))

    def total(key: str) -> np.ndarray | None:
        vals = [getattr(p, key) for p in parts]
        if vals[0] is None:
            return None
        return np.array([np.concatenate(vals).sum()])

    return _Sums(n, **{k: total(k) for k in _SUM_KEYS})  # type: ignore[arg-type]


def _abs_centred_sum(flat: np.ndarray, mean: float, abs_sum: float, n_neg: int) -> float:
    r"""Σ|w - mean| from Σ|w|, the count of set sign bits and one comparison pass (no copy).

    With :math:`m = |\bar w|` and :math:`y = \mathrm{sign}(\bar w)\,w`, :math:`|y - m| - |y|` is
    :math:`m` for :math:`y \le 0`, :math:`-m` for :math:`y \ge m` and :math:`m - 2y` in
    between, so :math:`\sum|w - \bar w| = \sum|w| + m(n - 2n_+) + 2\sum_{0<y<m}(m - y)` with
    :math:`n_+ = \#\{y > 0\}`. The pass compares the bit patterns as integers (for floats of
    one sign they are ordered like the values): it finds the weights on the mean's side with
    :math:`|w| \le m` (signed zero included), few in number, which are then classified in
    float64; ``n_neg`` (weights with the sign bit set, -0 included) gives :math:`n_+`.
    """
    if mean == 0.0:
        return abs_sum
    n = flat.size
    m = abs(mean)
    lim = np.asarray(m, dtype=flat.dtype)  # the smallest value of the weights' dtype >= m
    if float(lim) < m:
        lim = np.nextafter(lim, np.asarray(np.inf, dtype=flat.dtype))
    bits = flat.dtype.itemsize * 8
    if mean > 0:  # 0 <= w <= lim  <=>  unsigned bits <= bits(lim)
        view = flat.view(f"u{flat.dtype.itemsize}")
        bound = lim.view(view.dtype)
    else:  # -lim <= w <= -0  <=>  signed bits <= INT_MIN + bits(lim)
        view = flat.view(f"i{flat.dtype.itemsize}")
        bound = np.asarray(-(1 << (bits - 1)) + int(lim.view(f"u{flat.dtype.itemsize}")), dtype=view.dtype)
    mask = np.empty(min(n, _BLOCK), dtype=bool)
    cands = []
    for i in range(0, n, _BLOCK):
        v = view[i : i + _BLOCK]
        mv = np.less_equal(v, bound, out=mask[: v.size])
        if np.count_nonzero(mv):
            cands.append(flat[i : i + _BLOCK][mv])
    y = np.abs(np.concatenate(cands).astype(np.float64)) if cands else np.zeros(0)
    zeros = int(np.count_nonzero(y == 0.0))  # signed zeros on the mean's side: y = 0, not y > 0
    n_pos = (n - n_neg if mean > 0 else n_neg) - zeros
    y = y[(y > 0.0) & (y < m)]
    return float(abs_sum + m * (n - 2 * n_pos) + 2.0 * float(np.sum(m - y)))


def _normal_ci(
    mo: _Moments, n: int | np.ndarray, confidence: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    r"""Delta-method intervals est ± z·sqrt(Var ψ / n) from the moments (influence functions ψ).

    ψ for E ŵ²: ŵ² - m₂; for γ̂ and the L1 QE: ±(|ŵ| - g); for QE = m₂ - g²:
    (ŵ² - m₂) - 2g(|ŵ| - g); for the normalised QE 1 - g²/m₂: c₁(|ŵ| - g) + c₂(ŵ² - m₂) with
    c₁ = -2g/m₂, c₂ = g²/m₂²; Bernoulli p(1-p) for the two shares. The SQNR interval is the
    image of the normalised-QE interval (a decreasing map).
    """
    z = float(special.ndtri(0.5 + 0.5 * confidence))  # = scipy.stats.norm.ppf
    m2, g, m4, m3 = mo.m2, mo.g, mo.m4, mo.m3
    var_s2 = m4 - m2 * m2  # Var ŵ²
    var_a = m2 - g * g  # Var |ŵ|
    cov = m3 - m2 * g  # Cov(ŵ², |ŵ|)
    with np.errstate(divide="ignore", invalid="ignore"):
        c1, c2 = -2.0 * g / m2, g * g / (m2 * m2)
        var = {
            "second_moment": var_s2,
            "optimal_gamma": var_a,
            "quantization_error": var_s2 - 4.0 * g * cov + 4.0 * g * g * var_a,
            "normalized_quantization_error": c1 * c1 * var_a + 2.0 * c1 * c2 * cov + c2 * c2 * var_s2,
            "l1_quantization_error": var_a,
            "sign_flip_probability": mo.flip * (1.0 - mo.flip),
            "share_past_half_period": mo.past * (1.0 - mo.past),
        }
    est = mo.quantities()
    ci = {}
    for k, v in var.items():
        half = z * np.sqrt(np.maximum(v, 0.0) / n)
        ci[k] = (est[k] - half, est[k] + half)
    lo, hi = ci["normalized_quantization_error"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ci["sqnr_db"] = (-10.0 * np.log10(hi), -10.0 * np.log10(np.maximum(lo, 0.0)))
    return ci


def _boot_deviations(
    xsub: np.ndarray, omega0: float, exact: bool, n_boot: int, confidence: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Bootstrap quantiles of θ* - θ̂_m for the (R, m) subsample rows (resamples of the columns).

    The same resample indices serve every row (each row's bootstrap is still the ordinary
    one); rows are processed in blocks so that the gathered (rows, B, m) array stays small.
    """
    m = xsub.shape[1]
    thr = _HALF_PI / omega0
    s = np.empty(xsub.shape)
    _sin_into(xsub, omega0, s, None if exact else np.empty(xsub.shape, dtype=np.float32))
    centre = _moments(s, xsub, thr).quantities()
    idx = rng.integers(0, m, size=(n_boot, m))
    alpha = 1.0 - confidence
    lo: dict[str, list[np.ndarray]] = {k: [] for k in centre}
    hi: dict[str, list[np.ndarray]] = {k: [] for k in centre}
    step = max(1, (1 << 21) // (n_boot * m))
    for r0 in range(0, xsub.shape[0], step):
        boot = _moments(s[r0 : r0 + step][:, idx], xsub[r0 : r0 + step][:, idx], thr).quantities()
        for k, v in boot.items():
            with np.errstate(invalid="ignore"):
                q = np.quantile(v - centre[k][r0 : r0 + step, None], [alpha / 2.0, 1.0 - alpha / 2.0], axis=1)
            lo[k].append(q[0])
            hi[k].append(q[1])
    return {k: np.concatenate(v) for k, v in lo.items()}, {k: np.concatenate(v) for k, v in hi.items()}


def _check_empirical_args(omega0: float, n_boot: int, boot_size: int | None, confidence: float) -> float:
    om = float(as_positive("omega0", omega0))
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    _check_size("n_boot", n_boot, 0)
    _check_size("boot_size", boot_size, 2)
    return om


def _assemble(
    est: dict[str, np.ndarray],
    ci: dict[str, tuple[np.ndarray, np.ndarray]],
    take: Callable[[np.ndarray], Array],
    *,
    n: int,
    confidence: float,
    n_boot: int,
    boot_size: int,
    method: str,
    exact: bool,
) -> EmpiricalQuantities:
    """EmpiricalQuantities from estimates and their (lo, hi) intervals, each passed through
    ``take`` (one layer's entry of stacked layers, or a layer's own array)."""
    return EmpiricalQuantities(
        **{k: take(v) for k, v in est.items()},
        ci={k: (take(lo), take(hi)) for k, (lo, hi) in ci.items()},
        confidence=float(confidence),
        n_boot=int(n_boot),
        boot_size=boot_size,
        ci_method=method,
        n=int(n),
        sin_precision="float64" if exact else "float32",
    )


def _normal_empirical(mo: _Moments, n: np.ndarray, opt: _Options) -> list[EmpiricalQuantities]:
    """Normal-interval EmpiricalQuantities of whole layers from their stacked moments (one
    entry per layer; ``n`` the layers' sizes)."""
    est = mo.quantities()
    ci = _normal_ci(mo, n, opt.confidence)
    return [
        _assemble(
            est,
            ci,
            functools.partial(_entry, i=i),
            n=int(n[i]),
            confidence=opt.confidence,
            n_boot=0,
            boot_size=0,
            method=CI_NORMAL,
            exact=opt.exact,
        )
        for i in range(n.size)
    ]


def _entry(v: np.ndarray, i: int) -> Array:
    """Entry i of an array of stacked layers, 0-d."""
    return np.asarray(v[i])


def _empirical(
    x: np.ndarray,
    mo: _Moments,
    *,
    omega0: float,
    per_channel: bool,
    n_boot: int,
    boot_size: int | None,
    confidence: float,
    rng: np.random.Generator,
    exact: bool,
) -> EmpiricalQuantities:
    """EmpiricalQuantities from (R, m) rows ``x`` and their full-sample moments ``mo``."""
    n = x.shape[1]
    est = mo.quantities()
    if n_boot > 0:
        cols = _subsample(n, boot_size, rng)
        m = n if cols is None else cols.size
        xsub = np.asarray(x if cols is None else x[:, cols], dtype=np.float64)
        lo, hi = _boot_deviations(xsub, omega0, exact, int(n_boot), confidence, rng)
        scale = np.sqrt(m / n)  # m-out-of-n: the spread of a size-m statistic, rescaled to size n
        raw = {k: (est[k] + scale * lo[k], est[k] + scale * hi[k]) for k in est}
        method = CI_BOOTSTRAP
    else:
        m = 0
        raw = _normal_ci(mo, n, confidence)
        method = CI_NORMAL
    return _assemble(
        est,
        raw,
        lambda v: _squeeze(v, per_channel),
        n=n,
        confidence=confidence,
        n_boot=n_boot,
        boot_size=m,
        method=method,
        exact=exact,
    )


def empirical_quantities(
    w: ArrayLike,
    *,
    omega0: float,
    per_channel: bool = False,
    n_boot: int = 0,
    boot_size: int | None = 2000,
    confidence: float = 0.95,
    rng: Any = 0,
    exact: bool = False,
) -> EmpiricalQuantities:
    r"""The eight :class:`Quantities` measured on the weights, with CIs. Not in the paper.

    Parameters
    ----------
    w : array_like
        Latent weights (finite, non-empty).
    omega0 : float
        The frequency in use, in (0, inf).
    per_channel : bool, default False
        One set of quantities per output channel (first axis).
    n_boot : int, default 0
        0: normal-approximation (delta-method) intervals from the full data (:data:`CI_NORMAL`);
        N > 0: bootstrap intervals from N resamples (:data:`CI_BOOTSTRAP`).
    boot_size : int or None, default 2000
        The bootstrap resamples a seeded subsample of m = min(n, boot_size) weights (None:
        all n); the spread is rescaled by :math:`\sqrt{m/n}` (see Notes). Keeps the bootstrap
        cheap on large layers.
    confidence : float, default 0.95
        Level of the two-sided intervals, in (0, 1).
    rng : seed or numpy Generator, default 0
        Randomness of the bootstrap subsample and resampling (``np.random.default_rng``
        accepts it); unused by the normal intervals.
    exact : bool, default False
        Evaluate :math:`\sin` and the sums of :math:`\hat w` in float64. By default
        :math:`\sin` is evaluated in float32 (the argument :math:`\omega_0 w` rounded once to
        float32; SIMD, about 6x faster than float64 here) and :math:`\sum\hat w^2`,
        :math:`\sum|\hat w|` are float32 dot products over rows of at most 8192 weights,
        added in float64: each :math:`\hat w_i` is off by at most ~3e-7 absolute for
        :math:`|\omega_0 w| < 4` and the row sums by ~1e-7 relative, so the means move by
        less than ~5e-7 — orders of magnitude below their sampling error
        :math:`\sim 1/\sqrt n`. Counts (sign flips, share past π/2) are exact in both
        modes.

    Notes
    -----
    With :math:`\hat w_i = \sin(\omega_0 w_i)`: :math:`\widehat{E\hat w^2} = \overline{\hat w^2}`,
    :math:`\hat\gamma = \overline{|\hat w|}`, :math:`\widehat{QE} = \overline{\hat w^2} -
    \hat\gamma^2` (the paper's QE at the empirical optimum γ), L1 QE :math:`1-\hat\gamma`, the
    share of :math:`\hat w_i w_i < 0` and of :math:`|\omega_0 w_i| > \pi/2`.

    Normal intervals: :math:`\hat\theta \pm z\sqrt{\widehat{\mathrm{Var}}\,\psi/n}` with the
    influence function ψ of each quantity (see ``_normal_ci``); they need
    :math:`\overline{\hat w^4}` and :math:`\overline{|\hat w|^3}`, accumulated in the same pass.
    Bootstrap intervals: with :math:`\hat\theta` the full-sample estimate, :math:`\hat\theta_m`
    the subsample's and :math:`\theta^*_j` resample j's, the interval is
    :math:`\hat\theta + \sqrt{m/n}\,[q_{\alpha/2}, q_{1-\alpha/2}]` of
    :math:`\theta^*_j - \hat\theta_m` (valid for these smooth functions of means).
    """
    om = _check_empirical_args(omega0, n_boot, boot_size, confidence)
    x = as_weight_array("w", w)
    rows = _rows(x, per_channel)
    return _empirical(
        rows,
        _pass(x, om, exact, per_channel, higher=True).moments(),
        omega0=om,
        per_channel=per_channel,
        n_boot=n_boot,
        boot_size=boot_size,
        confidence=confidence,
        rng=np.random.default_rng(rng),
        exact=exact,
    )


# ----------------------------------------------------------------------------------------
# One layer, everything
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerAnalysis:
    """Everything measured on one layer (or one entry per channel with ``per_channel``).

    ``model`` holds the quantities under the fitted Laplace law (the paper's model),
    ``gaussian_model`` under the fitted Gaussian, ``empirical`` those measured on the weights.
    """

    name: str
    shape: tuple[int, ...]
    omega0: float
    fits: FitComparison
    scales: dict[str, Array]
    model: Quantities
    gaussian_model: Quantities
    empirical: EmpiricalQuantities

    @property
    def b(self) -> Array:
        """Fitted Laplace scale b̂."""
        return self.fits.laplace.scale

    @property
    def a(self) -> Array:
        """a = b̂·ω₀."""
        return np.asarray(self.fits.laplace.scale * self.omega0, dtype=np.float64)


def analyze_layer(
    w: ArrayLike,
    *,
    omega0: float,
    name: str = "weights",
    fix_loc: bool = True,
    per_channel: bool = False,
    n_boot: int = 0,
    boot_size: int | None = 2000,
    ks_size: int | None = KS_SIZE,
    confidence: float = 0.95,
    rng: Any = 0,
    exact: bool = False,
    centred_scale: bool = True,
) -> LayerAnalysis:
    """Fit both laws, compare them, and compute model and empirical quantities for one layer.

    The same numbers as :func:`fit_laplace`, :func:`fit_gaussian`, :func:`scale_estimators`,
    :func:`model_quantities` and :func:`empirical_quantities` (see them for the parameters),
    but for a whole layer computed in a single chunked pass over the weights, with no
    full-size temporary array (plus a comparison pass for the centred scale estimator; the
    location-free fit adds a median). ``n_boot = 0`` (default) gives normal-approximation
    intervals, ``n_boot > 0`` bootstrap ones; for a whole layer larger than ``ks_size`` the
    normal intervals take the variances of ŵ² and |ŵ| from the KS subsample (their centres
    always come from all weights). ``rng`` seeds the KS subsample and the bootstrap
    (independent streams spawned from it). ``centred_scale=False`` leaves out the centred
    (ReCU) scale estimator and its second pass over the weights; ``scales`` then holds
    mean|w| alone.

    Precision: unless ``exact``, the pass works in float32 on float16/float32 weights (ŵ, and
    Σ|w|, Σw² within rows of ≤ 8192 weights; rows are added in float64), so b̂, σ̂ and the
    empirical means agree with a float64 computation to ~1e-7 relative or better (b̂: 1e-8 to
    4e-8 on the test layers); :func:`fit_laplace`, :func:`fit_gaussian` and ``exact=True`` work
    in float64. The location (mean, median), the centred estimator and the counts are exact in
    both modes.
    """
    x = _as_real_array(name, w)
    if x.size == 0:
        raise ValueError(f"weights of layer {name!r} are empty (shape {x.shape}); need at least 1 value")
    om = _check_empirical_args(omega0, n_boot, boot_size, confidence)
    _check_size("ks_size", ks_size, 2)
    opt = _Options(fix_loc, per_channel, n_boot, boot_size, ks_size, confidence, exact, centred_scale)
    return _analyze_all({name: x}, [np.random.default_rng(rng)], om, opt)[name]


@dataclass(frozen=True)
class _Options:
    """The arguments of :func:`analyze_layers` that shape every layer's analysis."""

    fix_loc: bool
    per_channel: bool
    n_boot: int
    boot_size: int | None
    ks_size: int | None
    confidence: float
    exact: bool
    centred_scale: bool


@dataclass
class _Partial:
    """One layer's analysis before the model quantities (computed for all layers at once)."""

    x: np.ndarray
    lap: LawFit
    gau: LawFit
    scales: dict[str, Array]
    empirical: EmpiricalQuantities


def _measure_channels(
    x: np.ndarray, sums: _Sums, om: float, opt: _Options, gen: np.random.Generator
) -> _Partial:
    """Fits, KS tests, scale estimators and empirical quantities of one layer, per channel."""
    r_ks, r_boot = gen.spawn(2)
    lap = fit_laplace(x, fix_loc=opt.fix_loc, per_channel=True, ks_size=opt.ks_size, rng=r_ks)
    gau = fit_gaussian(x, fix_loc=opt.fix_loc, per_channel=True, ks_size=opt.ks_size, rng=r_ks)
    scales = scale_estimators(x, per_channel=True)
    if not opt.centred_scale:
        del scales[SCALE_LABELS[1]]
    emp = _empirical(
        _rows(x, True),
        sums.moments(),
        omega0=om,
        per_channel=True,
        n_boot=opt.n_boot,
        boot_size=opt.boot_size,
        confidence=opt.confidence,
        rng=r_boot,
        exact=opt.exact,
    )
    return _Partial(x, lap, gau, scales, emp)


def _take(fit: LawFit, i: int, n: int) -> LawFit:
    """Entry i of a LawFit computed for several layers at once, as a whole-layer (0-d) fit."""
    return LawFit(
        law=fit.law,
        loc=np.asarray(fit.loc[i]),
        scale=np.asarray(fit.scale[i]),
        scale_se=np.asarray(fit.scale_se[i]),
        loglik=np.asarray(fit.loglik[i]),
        aic=np.asarray(fit.aic[i]),
        ks_statistic=np.asarray(fit.ks_statistic[i]),
        ks_pvalue=np.asarray(fit.ks_pvalue[i]),
        n=n,
        ks_n=fit.ks_n,
        loc_fixed=fit.loc_fixed,
        estimator=fit.estimator,
    )


def _measure_layers(
    arrays: dict[str, np.ndarray],
    sums: dict[str, _Sums],
    om: float,
    opt: _Options,
    gens: list[np.random.Generator],
) -> dict[str, _Partial]:
    """Fits, KS tests, scale estimators and empirical quantities of whole layers.

    The layers are worked on together: their KS subsamples (one size for every layer larger
    than ``ks_size``) are stacked, so sorting, both KS tests and the subsample moments are a
    few array operations for the whole model rather than per layer. Each layer keeps its own
    random streams, so a layer's result does not depend on the other layers.
    """
    names = list(arrays)
    # each layer's generator spawns its KS-subsample stream, then (with n_boot) its bootstrap
    # stream: spawn(1) twice gives the children of spawn(2), without spawning unused ones
    ks_streams = [g.spawn(1)[0] for g in gens]
    n = np.array([arrays[k].size for k in names])
    a = np.array([float(sums[k].a[0]) for k in names])
    locs: dict[str, np.ndarray] = {}
    if opt.fix_loc:
        locs["laplace"], locs["gaussian"] = np.zeros(len(names)), np.zeros(len(names))
        b = a / n  # b = mean|w|
        sigma = np.sqrt(np.array([float(sums[k].q[0]) for k in names]) / n)  # σ² = mean w²
    else:
        med, b, mean, sigma = (np.empty(len(names)) for _ in range(4))
        for i, k in enumerate(names):
            x64 = arrays[k].reshape(-1).astype(np.float64, copy=False)  # the median needs them all
            med[i] = np.median(x64)
            b[i] = float(np.abs(x64 - med[i]).sum()) / n[i]
            mean[i] = float(sums[k].s[0]) / n[i]  # type: ignore[index]
            c = x64 - mean[i]
            sigma[i] = np.sqrt(float(np.square(c, out=c).sum()) / n[i])
        locs["laplace"], locs["gaussian"] = med, mean
    for i in range(len(names)):
        _check_scale("laplace", b[i : i + 1], f"layer {names[i]!r}")
        _check_scale("gaussian", sigma[i : i + 1], f"layer {names[i]!r}")

    # KS subsamples, stacked by size: (layers, m) sorted rows
    samples = []
    for k, r_ks in zip(names, ks_streams, strict=True):
        flat = arrays[k].reshape(-1)
        cols = _subsample(flat.size, opt.ks_size, r_ks)
        samples.append(flat if cols is None else flat[cols])
    lap_fits: dict[int, LawFit] = {}
    gau_fits: dict[int, LawFit] = {}
    m4, m3 = np.empty(len(names)), np.empty(len(names))
    thr = _HALF_PI / om
    for m in sorted({s.size for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.size == m]
        stacked = np.sort(np.array([samples[i] for i in idx], dtype=np.float64), axis=1)
        lap = _make_fit("laplace", locs["laplace"][idx], b[idx], n[idx], opt.fix_loc, stacked, True)
        gau = _make_fit("gaussian", locs["gaussian"][idx], sigma[idx], n[idx], opt.fix_loc, stacked, True)
        # E ŵ⁴ and E|ŵ|³ only set the widths of the normal intervals: from the KS subsample
        # (all weights when n <= ks_size)
        s_sub = np.empty(stacked.shape)
        _sin_into(stacked, om, s_sub, None if opt.exact else np.empty(stacked.shape, dtype=np.float32))
        hm = _moments(s_sub, stacked, thr)
        for j, i in enumerate(idx):
            lap_fits[i], gau_fits[i] = _take(lap, j, int(n[i])), _take(gau, j, int(n[i]))
            m4[i], m3[i] = hm.m4[j], hm.m3[j]

    moments = [sums[k].moments(m4[i : i + 1], m3[i : i + 1]) for i, k in enumerate(names)]
    if opt.n_boot == 0:  # normal intervals of every layer at once
        stacked_mo = _Moments(
            *(np.concatenate([getattr(mo, f.name) for mo in moments]) for f in dataclasses.fields(_Moments))
        )
        emps = _normal_empirical(stacked_mo, n, opt)
    else:
        emps = [
            _empirical(
                arrays[k].reshape(1, -1),
                moments[i],
                omega0=om,
                per_channel=False,
                n_boot=opt.n_boot,
                boot_size=opt.boot_size,
                confidence=opt.confidence,
                rng=gens[i].spawn(1)[0],
                exact=opt.exact,
            )
            for i, k in enumerate(names)
        ]
    out = {}
    for i, k in enumerate(names):
        scales = {SCALE_LABELS[0]: np.asarray(a[i] / n[i])}
        if opt.centred_scale:
            s_sum, a64, neg = sums[k].s, sums[k].a64, sums[k].neg
            assert s_sum is not None and a64 is not None and neg is not None
            flat = arrays[k].reshape(-1)
            centred = _abs_centred_sum(flat, float(s_sum[0]) / n[i], float(a64[0]), int(neg[0]))
            scales[SCALE_LABELS[1]] = np.asarray(centred / n[i])
        out[k] = _Partial(arrays[k], lap_fits[i], gau_fits[i], scales, emps[i])
    return out


def _analyze_all(
    arrays: dict[str, np.ndarray], gens: list[np.random.Generator], om: float, opt: _Options
) -> dict[str, LayerAnalysis]:
    """analyze_layer for non-empty real arrays: the pass over every layer first (non-finite
    layers are reported together), then fits and intervals, then the closed forms of all
    layers in one vectorised call per law."""
    per_channel = opt.per_channel
    signed = not per_channel and (opt.centred_scale or not opt.fix_loc)
    sums = {k: _pass(x, om, opt.exact, per_channel, per_channel, signed) for k, x in arrays.items()}
    bad = {k: _nonfinite_counts(x, math.nan) for k, x in arrays.items() if not sums[k].finite()}
    listed = [f"{k}: {c}" for k, c in bad.items() if c]
    if listed:
        raise ValueError(f"non-finite weights (never dropped silently): {'; '.join(listed)}")
    if bad:  # finite weights whose float64 sums overflow
        f32 = not opt.exact and any(arrays[k].dtype.itemsize <= 4 for k in bad)
        where = "float32 (|w| ~ 1e17 or more; exact=True sums in float64)" if f32 else "float64 (|w| ~ 1e154)"
        raise ValueError(f"weights too large: their squares overflow the sums in {where}: {', '.join(bad)}")
    if per_channel:
        parts = {
            k: _measure_channels(x, sums[k], om, opt, g)
            for (k, x), g in zip(arrays.items(), gens, strict=True)
        }
    else:
        parts = _measure_layers(arrays, sums, om, opt, gens)
    # the closed forms of every layer (and channel) at once: one call per law
    sizes = [p.lap.scale.size for p in parts.values()]
    ends = np.cumsum(sizes)
    models = {
        law: model_quantities(
            law, scale=np.concatenate([getattr(p, key).scale.reshape(-1) for p in parts.values()]), omega0=om
        ).as_dict()
        for law, key in (("laplace", "lap"), ("gaussian", "gau"))
    }

    def one(law: str, i: int) -> Quantities:
        lo, hi = int(ends[i]) - sizes[i], int(ends[i])
        return Quantities(**{q: v[lo:hi] if per_channel else v[lo, ...] for q, v in models[law].items()})

    return {
        k: LayerAnalysis(
            name=k,
            shape=tuple(p.x.shape),
            omega0=om,
            fits=compare_fits(p.lap, p.gau),
            scales=p.scales,
            model=one("laplace", i),
            gaussian_model=one("gaussian", i),
            empirical=p.empirical,
        )
        for i, (k, p) in enumerate(parts.items())
    }


def analyze_layers(
    layers: Mapping[str, ArrayLike] | ArrayLike,
    *,
    omega0: float,
    fix_loc: bool = True,
    per_channel: bool = False,
    n_boot: int = 0,
    boot_size: int | None = 2000,
    ks_size: int | None = KS_SIZE,
    confidence: float = 0.95,
    rng: Any = 0,
    exact: bool = False,
    centred_scale: bool = True,
) -> dict[str, LayerAnalysis]:
    """:func:`analyze_layer` for every layer of a model, checking all layers first.

    Empty or non-finite layers are reported together in one ``ValueError`` (as by
    :func:`validate_layers`) before any fit; each layer gets its own random stream spawned
    from ``rng``. Each layer is read once by the pass (and once more by the comparison pass of
    the centred scale estimator, unless ``centred_scale=False``); the KS tests of all layers
    and the closed forms of all layers are evaluated together.
    """
    if not isinstance(layers, Mapping):
        layers = {"weights": layers}
    if not layers:
        raise ValueError("no layers given: need at least one weight array")
    om = _check_empirical_args(omega0, n_boot, boot_size, confidence)
    _check_size("ks_size", ks_size, 2)
    arrays = {str(k): _as_real_array(str(k), v) for k, v in layers.items()}
    empty = [f"{k} (shape {x.shape})" for k, x in arrays.items() if x.size == 0]
    if empty:
        raise ValueError(f"empty weight arrays (need at least 1 value): {', '.join(empty)}")
    if per_channel:
        for x in arrays.values():
            _rows(x, True)  # shape check before any pass
    check_phase_range(om, arrays)
    gens = np.random.default_rng(rng).spawn(len(arrays))
    opt = _Options(fix_loc, per_channel, n_boot, boot_size, ks_size, confidence, exact, centred_scale)
    return _analyze_all(arrays, gens, om, opt)
