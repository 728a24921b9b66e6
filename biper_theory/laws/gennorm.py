r"""The generalized normal law :math:`W = c\,U`, :math:`U \sim` ``scipy.stats.gennorm(β)``. Not in the paper.

Density :math:`\frac{\beta}{2c\,\Gamma(1/\beta)}e^{-|w/c|^\beta}`: β = 1 is the Laplace law
(c = b), β = 2 the Gaussian (c = σ√2). No closed forms for the quantities of
:math:`\hat w = \sin(\omega_0 W)`; with :math:`X = xU`, :math:`x = c\,\omega_0`, the routes
(derived here, each checked against quadrature of the definitions, Monte Carlo, and the
Laplace and Gaussian closed forms at β = 1, 2 in ``tests/test_laws_gennorm.py``):

* :math:`E\hat w^2` and :math:`\gamma^*` for :math:`x \le 20\max(1, (\beta/3)^2)`: composite Gauss–Legendre
  (24 nodes per panel) of :math:`\int_0^{u_{max}} h(xu)\,2g(u)\,du`, :math:`h = \sin^2` or
  :math:`|\sin|`, on panels that break at every kink :math:`k\pi/x` of :math:`|\sin|`, at
  unit steps through the bulk, and geometrically towards 0 (the cusp :math:`u^\beta` of g);
  :math:`u_{max}` leaves a mass below 1e-18. Each panel's integrand is analytic, so the rule
  converges geometrically.
* for larger x: the characteristic function's asymptotic series from the cusp at 0,

  .. math:: \varphi(t) \sim 2g(0)\sum_{j\ge1}\frac{(-1)^j}{j!}\Gamma(j\beta+1)
            \cos\frac{\pi(j\beta+1)}{2}\,t^{-(j\beta+1)}

  (termwise Fourier transform of :math:`e^{-u^\beta} = \sum_j (-u^\beta)^j/j!`; convergent
  for β < 1, exact for β = 1, with exponentially small remainders
  :math:`e^{-C t^{\beta/(\beta-1)}}` for β > 1; summed to its smallest term; used above
  :math:`x = 20\max(1, (\beta/3)^2)`, where the two routes agree to 1e-14 for β ≤ 8),
  so :math:`E\hat w^2 = (1-\varphi(2x))/2`, :math:`E\cos 2X = \varphi(2x)` and
  :math:`\gamma^* = \frac2\pi - \frac4\pi\sum_k\frac{\varphi(2kx)}{4k^2-1}` with
  :math:`\sum_k k^{-p}/(4k^2-1) = \sum_{m\ge0}4^{-m-1}\zeta(p+2+2m)`.
* crest share, sign-flip probability and the pdf of ŵ: direct sums of tail masses
  (``gammaincc``) and of the density over every period holding mass
  (:mod:`biper_theory.laws._periodic`; cost and rounding grow with the number of periods
  :math:`x\,u_{max}/\pi`: 1e-12 relative up to x = 1e3, 1e-11 at x = 1e5); share past π/2
  from the survival function.

Measured (tests, β ∈ {0.7, 1, 1.5, 2, 3}, x from 1e-3 to 1e3): within 1e-10 relative of
quadrature (1e-13 absolute near 0); β = 1 and β = 2 agree with the Laplace and Gaussian
closed forms to 1e-12.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import special

from . import _periodic
from ._shape_scale import ShapeScaleLaw

__all__ = ["GenNorm"]

# above this x, the cusp series of the characteristic function: 20 for β ≤ 3, 20 (β/3)² above
# (the series' exponentially small remainder e^{-C t^{β/(β-1)}} decays more slowly as β grows;
# the panels stay cheap there, since u_max shrinks with β)
_X_SERIES = 20.0
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)
_TAIL = 1e-18


@functools.lru_cache(maxsize=64)
def _u_max(beta: float) -> float:
    """|U| beyond which the gennorm(β) law holds less than 1e-18 of its mass."""
    return float(special.gammainccinv(1.0 / beta, _TAIL) ** (1.0 / beta))


@functools.lru_cache(maxsize=64)
def _series_coefficients(beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sign_j, log|A_j|, p_j) of φ(t) ~ Σ_j A_j t^{-p_j}, j = 1..200, p_j = jβ + 1.

    Kept in log space (Γ(jβ+1)/j! overflows for large j); coefficients whose cosine is zero up
    to rounding (every even j at β = 1, every j at β = 2, 4, ...) get sign 0.
    """
    j = np.arange(1, 201, dtype=np.float64)
    p = j * beta + 1.0
    cos = np.cos(0.5 * np.pi * p)
    cos = np.where(np.abs(cos) < 1e-12, 0.0, cos)
    g0 = beta / (2.0 * special.gamma(1.0 / beta))  # g(0)
    sign = np.where(j % 2 == 0, 1.0, -1.0) * np.sign(cos)
    with np.errstate(divide="ignore"):
        logmag = np.log(2.0 * g0) + special.gammaln(p) - special.gammaln(j + 1.0) + np.log(np.abs(cos))
    return sign, np.where(sign == 0.0, 0.0, logmag), p


def _series_terms(beta: float, t: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """A_j t^{-p_j} (times extra_j) for each t (rows) and j (columns), from log space."""
    sign, logmag, p = _series_coefficients(beta)
    if extra is not None:
        logmag = logmag + np.log(extra)
    with np.errstate(under="ignore", over="ignore"):
        return sign * np.exp(logmag - np.multiply.outer(np.log(t), p))


def _cf_series(beta: float, t: np.ndarray) -> np.ndarray:
    """φ(t) for t ≥ 40 by the cusp series, summed up to its smallest term."""
    return _truncated_sum(_series_terms(beta, t))


def _truncated_sum(terms: np.ndarray) -> np.ndarray:
    """Row sums up to (excluding) the first nonzero term larger than the nonzero term before it
    (optimal truncation of an asymptotic series; zero coefficients are skipped)."""
    mag = np.abs(terms)
    out = np.zeros(mag.shape[:-1])
    prev = np.full(mag.shape[:-1], np.inf)
    live = np.ones(mag.shape[:-1], dtype=bool)
    for j in range(mag.shape[-1]):
        m = mag[..., j]
        nz = m > 0.0
        live &= ~(nz & (m > prev))
        out = np.where(live, out + terms[..., j], out)
        prev = np.where(nz & live, m, prev)
        if not live.any():
            break
    return out


def _zeta_weights(p: np.ndarray) -> np.ndarray:
    """Σ_{k≥1} k^{-p}/(4k²-1) = Σ_{m≥0} 4^{-m-1} ζ(p+2+2m) (60 terms: 4^{-60} ≈ 1e-36)."""
    m = np.arange(60, dtype=np.float64)
    return np.sum(4.0 ** (-m - 1.0) * special.zeta(np.add.outer(p, 2.0 + 2.0 * m)), axis=-1)


def _g(beta: float, u: np.ndarray) -> np.ndarray:
    """Standardised density β/(2Γ(1/β)) e^{-|u|^β}."""
    with np.errstate(under="ignore"):
        return beta / (2.0 * special.gamma(1.0 / beta)) * np.exp(-(np.abs(u) ** beta))


@functools.lru_cache(maxsize=8192)
def _panel_means(beta: float, x: float) -> tuple[float, float]:
    """(E sin²(xU), E|sin(xU)|) by composite Gauss–Legendre on panels (see the module notes);
    cached, since E ŵ² and γ* are asked for at the same x (QE*, searches over x)."""
    u_max = _u_max(beta)
    geometric = u_max * 2.0 ** -np.arange(0.0, 48.0)
    bulk = np.arange(0.0, u_max, 1.0)
    kinks = np.arange(1.0, np.floor(u_max * x / np.pi) + 1.0) * (np.pi / x)
    br = np.unique(np.concatenate([[0.0, u_max], geometric, bulk, kinks[kinks < u_max]]))
    mid, half = 0.5 * (br[1:] + br[:-1]), 0.5 * (br[1:] - br[:-1])
    u = (mid[:, None] + half[:, None] * _GL_NODES).reshape(-1)
    w = (half[:, None] * _GL_WEIGHTS).reshape(-1) * 2.0 * _g(beta, u)
    s = np.sin(x * u)
    return float(np.dot(s * s, w)), float(np.dot(np.abs(s), w))


@dataclass(frozen=True, kw_only=True)
class GenNorm(ShapeScaleLaw):
    r"""Zero-mean generalized normal law, shape ``beta`` = β > 0 and ``scale`` = c
    (``scipy.stats.gennorm(beta, 0, c)``); Laplace at β = 1 (c = b), Gaussian at β = 2
    (c = σ√2). Routes and measured accuracy in the module notes."""

    beta: float
    scale: float = 1.0  # a field here; the base class reads it as .scale
    name: ClassVar[str] = "gennorm"
    symbol: ClassVar[str] = "x"
    scale_name: ClassVar[str] = "scale"
    shape_name: ClassVar[str] = "beta"

    # ---- standardised law ------------------------------------------------------------------

    def _g(self, u: np.ndarray) -> np.ndarray:
        return _g(float(self.beta), u)

    def _sf(self, u: np.ndarray) -> np.ndarray:
        # one-sided P[U > u], u ≥ 0: ½ Q(1/β, u^β) (regularised upper incomplete gamma)
        with np.errstate(under="ignore", over="ignore"):
            return 0.5 * special.gammaincc(1.0 / self.beta, u**self.beta)

    # ---- E h(xU) for h = sin², |sin|: panels for x ≤ 20 ------------------------------------

    def _panels(self, x: np.ndarray, which: int) -> np.ndarray:
        out = np.empty(x.shape)
        flat = out.reshape(-1)
        for i, xi in enumerate(x.reshape(-1)):
            flat[i] = _panel_means(float(self.beta), float(xi))[which]
        return out

    def _split(self, x: np.ndarray, small: Any, large: Any) -> np.ndarray:
        out = np.empty(x.shape)
        lo = x <= _X_SERIES * max(1.0, (float(self.beta) / 3.0) ** 2)
        if np.any(lo):
            out[lo] = small(x[lo])
        if np.any(~lo):
            out[~lo] = large(x[~lo])
        return out

    def _second_moment(self, x: np.ndarray) -> np.ndarray:
        b = float(self.beta)
        return self._split(x, lambda v: self._panels(v, 0), lambda v: 0.5 - 0.5 * _cf_series(b, 2.0 * v))

    def _optimal_gamma(self, x: np.ndarray) -> np.ndarray:
        b = float(self.beta)

        def large(v: np.ndarray) -> np.ndarray:
            p = _series_coefficients(b)[2]
            terms = _series_terms(b, 2.0 * v, _zeta_weights(p))
            return 2.0 / np.pi - 4.0 / np.pi * _truncated_sum(terms)

        return self._split(x, lambda v: self._panels(v, 1), large)

    def _cos2(self, x: np.ndarray) -> np.ndarray:
        b = float(self.beta)
        return self._split(x, lambda v: 1.0 - 2.0 * self._panels(v, 0), lambda v: _cf_series(b, 2.0 * v))

    def _single_qe_peak(self) -> bool:
        # β ≤ 2: a Gaussian scale mixture; measured on qe_peak's grid for 21 values of β in
        # [0.45, 2]: one maximum (at β = 2, rounding-level wiggles at the limit 1/2 − 4/π²
        # besides). From β ≈ 3 on QE* oscillates: local maxima the coarse pass can miss.
        return float(self.beta) <= 2.0

    def _sign_flip(self, x: np.ndarray) -> np.ndarray:
        return _periodic.flip_direct(x.reshape(-1), self._sf, _u_max(float(self.beta))).reshape(x.shape)

    def _share_past(self, x: np.ndarray) -> np.ndarray:
        return 2.0 * self._sf(0.5 * np.pi / x)

    def _crest(self, x: np.ndarray, t: float) -> np.ndarray:
        return _periodic.crest_direct(x.reshape(-1), t, self._sf, _u_max(float(self.beta))).reshape(x.shape)

    def _pdf_hat(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return _periodic.pdf_hat_direct(y, x, self._g, _u_max(float(self.beta)))
