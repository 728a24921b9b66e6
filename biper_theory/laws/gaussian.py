r"""The Gaussian law :math:`W \sim N(0, \sigma^2)`: everything about it in one place. Not in the paper.

With :math:`X = \omega_0 W \sim N(0, s^2)`, :math:`s = \sigma\omega_0`, the characteristic
function :math:`E e^{itX} = e^{-t^2s^2/2}` gives the closed forms and series below (derived
here, not in the paper; each checked against adaptive quadrature, mpmath and Monte Carlo in
``tests/test_laws_gaussian.py``):

* :math:`E\hat w^2 = (1 - e^{-2s^2})/2` (``expm1``: a few ulp for every positive s);
* :math:`\gamma^* = E|\sin X|`: Dawson form for s < 0.35, Fourier series above (~1e-15
  relative over :math:`s \in [10^{-6}, 10^{6}]`);
* sign-flip probability: alternating normal-tail sum for s < 50, Euler–Boole expansion above
  (~1e-14 absolute);
* share past the half period :math:`\mathrm{erfc}(\pi/(2\sqrt2 s))`;
* crest share and pdf of ŵ: direct sums over the periods for s < 1.5, Fourier series of
  the indicator / wrapped density (terms :math:`e^{-2m^2s^2}`) above
  (:mod:`biper_theory.laws._periodic`; ~1e-15 absolute, tested against quadrature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy import special

from .._validation import as_positive, broadcast
from . import _periodic
from ._base import KS_SIZE, Law, check_weights, closed_fit

__all__ = [
    "Gaussian",
    "gaussian_second_moment",
    "gaussian_optimal_gamma",
    "gaussian_sign_flip_probability",
    "gaussian_share_past_half_period",
]

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

_HALF_PI = 0.5 * np.pi
_SQRT2 = float(np.sqrt(2.0))
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))
# Below this s = σω₀ the Dawson form of E|sin X| is used, above it the Fourier series; both
# are accurate to ~1e-15 relative across the switch (the Dawson form neglects the mass past
# |X| = π, at most 2 erfc(π/(s√2)) < 1e-18 at s = 0.35; the series' first omitted term is
# e^{-2·17²·s²} ≈ 1e-31 there).
_GAMMA_SWITCH = 0.35
_GAMMA_TERMS = 16
# Above this s the alternating normal-tail sum for the sign-flip probability is replaced by
# its Euler–Boole expansion to O(h⁷), h = π/s; its first omitted term is ~1e-14 at s = 50.
_FLIP_SWITCH = 50.0
# Crest share and pdf of ŵ: direct sums below, Fourier series above. At s = 1.5 the Fourier
# terms are e^{-2m²s²} = e^{-4.5 m²}: 8 terms leave < 1e-120; the direct sums run to
# |U| = 39 (normal tail 1e-333, below float64).
_PERIODIC_SWITCH = 1.5
_FOURIER_TERMS = 8
_U_MAX = 39.0


def _sf(u: np.ndarray) -> np.ndarray:
    return special.ndtr(-u)


def _pdf(u: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * u * u)


def _cf(t: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * t * t)


def _gaussian_scale(sigma: ArrayLike | None, omega0: ArrayLike | None, s: ArrayLike | None) -> Array:
    if s is not None:
        if sigma is not None or omega0 is not None:
            raise ValueError("give either s, or both sigma and omega0, not both forms")
        return as_positive("s", s)
    if sigma is None or omega0 is None:
        raise ValueError("both sigma (Gaussian scale, > 0) and omega0 (frequency, > 0) are required")
    ss, ww = broadcast(sigma=as_positive("sigma", sigma), omega0=as_positive("omega0", omega0))
    with np.errstate(over="ignore", under="ignore"):
        prod = ss * ww
    if not np.all((prod > 0) & (prod < np.inf)):
        raise ValueError("sigma*omega0 must be a positive finite float64 (it over- or underflowed)")
    return np.asarray(prod, dtype=np.float64)


def _g_second_moment(s: np.ndarray) -> np.ndarray:
    # E sin²X = (1 - E cos 2X)/2 = (1 - e^{-2s²})/2; -expm1 keeps it exact for small s.
    with np.errstate(under="ignore", over="ignore"):
        return -0.5 * np.expm1(-2.0 * s * s)


def _g_gamma(s: np.ndarray) -> np.ndarray:
    # Small s: E|sin X| = E sin|X| (+ mass past |X| = π, < 1e-18 here) = (2/√π) D(s/√2),
    #   D the Dawson function, from E e^{it|X|} = e^{-t²s²/2}(1 + i erfi(ts/√2)).
    # Large s: |sin x| = 2/π - (4/π) Σ_k cos(2kx)/(4k²-1) and E cos(2kX) = e^{-2k²s²}.
    small = 2.0 / np.sqrt(np.pi) * special.dawsn(s / _SQRT2)
    k = np.arange(1, _GAMMA_TERMS + 1, dtype=np.float64)
    ss = np.maximum(s, _GAMMA_SWITCH)[..., None]
    with np.errstate(under="ignore"):
        series = np.sum(np.exp(-2.0 * k * k * ss * ss) / (4.0 * k * k - 1.0), axis=-1)
    large = 2.0 / np.pi - 4.0 / np.pi * series
    return np.where(s < _GAMMA_SWITCH, small, large)


def _g_flip_large(s: np.ndarray) -> np.ndarray:
    # Euler–Boole summation of the alternating sum with f(j) = Q(jh), h = π/s, using
    # 1/(1+e^t) = 1/2 - t/4 + t³/48 - t⁵/480 + 17t⁷/80640 and φ⁽²ᵏ⁾(0) = (-1)^k (2k-1)!! φ(0):
    # P = 1/2 - φ(0) (h/2 + h³/24 + h⁵/80 + 17 h⁷/2688). Omitted term ≈ 1e-14 at s = 50.
    h = np.pi / s
    h2 = h * h
    return 0.5 - _INV_SQRT_2PI * h * (0.5 + h2 * (1.0 / 24.0 + h2 * (1.0 / 80.0 + h2 * 17.0 / 2688.0)))


def _g_flip(s: np.ndarray) -> np.ndarray:
    # P = 2 Σ_{j≥1} (-1)^{j+1} Q(jπ/s): X > 0 lands in a negative half-period ((2k+1)π, (2k+2)π)
    # with probability Q((2k+1)π/s) - Q((2k+2)π/s), Q = normal sf; doubled by symmetry. Terms
    # past jπ/s = 39 are below float64.
    out = np.empty(s.shape, dtype=np.float64)
    flat_s, flat = s.reshape(-1), out.reshape(-1)
    large = flat_s >= _FLIP_SWITCH
    flat[large] = _g_flip_large(flat_s[large])
    flat[~large] = _periodic.flip_direct(flat_s[~large], _sf, 9.0)
    return out


def _g_share_past(s: np.ndarray) -> np.ndarray:
    # P[|X| > π/2] = erfc(π / (2√2 s)).
    with np.errstate(under="ignore"):
        return special.erfc(_HALF_PI / (_SQRT2 * s))


def _switch(x: np.ndarray, small: Any, large: Any) -> np.ndarray:
    """small(x) below _PERIODIC_SWITCH, large(x) at or above, elementwise."""
    out = np.empty(x.shape)
    lo = x < _PERIODIC_SWITCH
    if np.any(lo):
        out[lo] = small(lo)
    if np.any(~lo):
        out[~lo] = large(~lo)
    return out


@dataclass(frozen=True, kw_only=True)
class Gaussian(Law):
    r"""Zero-mean Gaussian law with standard deviation ``sigma``; :math:`s = \sigma\omega_0`.

    Closed forms and series of this module (see the module notes for each formula and its
    measured accuracy).
    """

    sigma: float
    name: ClassVar[str] = "gaussian"
    symbol: ClassVar[str] = "s"
    scale_name: ClassVar[str] = "sigma"
    closed_form: ClassVar[bool] = True

    def _second_moment(self, x: np.ndarray) -> np.ndarray:
        return _g_second_moment(x)

    def _optimal_gamma(self, x: np.ndarray) -> np.ndarray:
        return _g_gamma(x)

    def _single_qe_peak(self) -> bool:
        return True  # QE* has one maximum, at s* (measured on qe_peak's grid)

    def _sign_flip(self, x: np.ndarray) -> np.ndarray:
        return _g_flip(x)

    def _share_past(self, x: np.ndarray) -> np.ndarray:
        return _g_share_past(x)

    def _cos2(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(under="ignore"):
            return np.exp(-2.0 * x * x)  # E cos 2X = e^{-2s²}

    def _crest(self, x: np.ndarray, t: float) -> np.ndarray:
        return _switch(
            x,
            lambda m: _periodic.crest_direct(x[m], t, _sf, _U_MAX),
            lambda m: _periodic.crest_fourier(x[m], t, _cf, _FOURIER_TERMS),
        )

    def _pdf_hat(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return _switch(
            x,
            lambda m: _periodic.pdf_hat_direct(y[m], x[m], _pdf, _U_MAX),
            lambda m: _periodic.pdf_hat_fourier(y[m], x[m], _cf, _FOURIER_TERMS),
        )

    @classmethod
    def fit(
        cls, w: npt.ArrayLike, *, fix_loc: bool = True, ks_size: int | None = KS_SIZE, rng: Any = 0
    ) -> Gaussian:
        r"""Maximum likelihood in closed form (what ``scipy.stats.norm.fit`` returns).

        :math:`\hat\mu = 0` (``fix_loc``, as ``floc=0``: :math:`\hat\sigma^2 = \overline{w^2}`)
        or :math:`\bar w` (:math:`\hat\sigma^2` the variance, divisor n);
        :math:`\ell = -\frac n2(\log 2\pi\hat\sigma^2 + 1)`.
        """
        x = check_weights(w)
        loc = 0.0 if fix_loc else float(np.mean(x))
        c = x - loc
        sigma = float(np.sqrt(np.dot(c, c) / x.size))
        if not sigma > 0:
            raise ValueError("w: the Gaussian scale is 0 (all weights equal the location); cannot fit")
        loglik = -0.5 * x.size * (np.log(2.0 * np.pi * sigma * sigma) + 1.0)
        return closed_fit(
            cls, x, loc, sigma, loglik, fix_loc=fix_loc, scipy_name="norm", ks_size=ks_size, rng=rng
        )


# ---- the module-level functions weights.py exported (kept for compatibility) ----------------


def gaussian_second_moment(
    *, sigma: ArrayLike | None = None, omega0: ArrayLike | None = None, s: ArrayLike | None = None
) -> Array:
    r""":math:`E\sin^2(\omega_0 W) = (1 - e^{-2s^2})/2` under :math:`N(0,\sigma^2)`, :math:`s=\sigma\omega_0`.

    Not in the paper (derived here: :math:`E\cos 2X = e^{-2s^2}`). Evaluated with ``expm1``:
    a few ulp relative for every positive ``s``.
    """
    return np.asarray(_g_second_moment(_gaussian_scale(sigma, omega0, s)), dtype=np.float64)


def gaussian_optimal_gamma(
    *, sigma: ArrayLike | None = None, omega0: ArrayLike | None = None, s: ArrayLike | None = None
) -> Array:
    r""":math:`\gamma^* = E|\sin X|`, :math:`X\sim N(0, s^2)`. Not in the paper; derived here.

    Notes
    -----
    Two exact representations, each used where it converges fastest:

    .. math::

        E|\sin X| = \frac{2}{\sqrt\pi} D\!\left(\frac{s}{\sqrt2}\right) + \epsilon
                  \quad (s < 0.35),\qquad
        E|\sin X| = \frac2\pi - \frac4\pi\sum_{k\ge1}\frac{e^{-2k^2s^2}}{4k^2-1}
                  \quad (s \ge 0.35),

    with :math:`D` the Dawson function (the first is :math:`E\sin|X|`; the neglected
    :math:`\epsilon \le 2\,\mathrm{erfc}(\pi/(s\sqrt2))` is below 1e-18 there) and 16 series
    terms. Relative accuracy ~1e-15 for :math:`s \in [10^{-6}, 10^{6}]` (tested against
    adaptive quadrature and Monte Carlo).
    """
    return np.asarray(_g_gamma(_gaussian_scale(sigma, omega0, s)), dtype=np.float64)


def gaussian_sign_flip_probability(
    *, sigma: ArrayLike | None = None, omega0: ArrayLike | None = None, s: ArrayLike | None = None
) -> Array:
    r""":math:`P[\mathrm{sign}\sin X \ne \mathrm{sign}X]`, :math:`X\sim N(0,s^2)`. Not in the paper.

    Notes
    -----
    .. math:: P = 2\sum_{j\ge1}(-1)^{j+1} Q\!\left(\frac{j\pi}{s}\right),\qquad Q = 1-\Phi,

    summed directly in pairs (about :math:`9s/\pi` terms) for :math:`s < 50`, and for
    :math:`s\ge50` by its Euler–Boole expansion in :math:`h=\pi/s`,
    :math:`P = \tfrac12 - \varphi(0)\,(h/2 + h^3/24 + h^5/80 + 17h^7/2688) + O(h^9)`.
    Absolute accuracy ~1e-14 for every positive ``s``.
    """
    return np.asarray(_g_flip(_gaussian_scale(sigma, omega0, s)), dtype=np.float64)


def gaussian_share_past_half_period(
    *, sigma: ArrayLike | None = None, omega0: ArrayLike | None = None, s: ArrayLike | None = None
) -> Array:
    r""":math:`P[|\omega_0 W| > \pi/2] = \mathrm{erfc}(\pi/(2\sqrt2\,s))` under :math:`N(0,\sigma^2)`.

    Not in the paper.
    """
    return np.asarray(_g_share_past(_gaussian_scale(sigma, omega0, s)), dtype=np.float64)
