r"""Periodic sums over the half periods of :math:`\sin`, shared by the laws without closed forms.

For a symmetric law :math:`X = xU` (standardised density :math:`g`, one-sided survival
function :math:`S(u) = P[U > u]`, characteristic function :math:`\varphi`), every quantity of
:math:`\hat w = \sin X` that depends on where :math:`X` sits within the period is a sum over
periods (not in the paper; derived here):

.. math::

    P[|\sin X| > t] &= 2\sum_{k\ge0}\Big[S\big(\tfrac{k\pi+\alpha}{x}\big)
                       - S\big(\tfrac{k\pi+\pi-\alpha}{x}\big)\Big]
      = \frac{\pi - 2\alpha}{\pi} - \frac2\pi\sum_{m\ge1}\frac{\sin 2m\alpha}{m}\varphi(2mx),\\
    f_{\hat w}(y) &= \frac{1}{x\sqrt{1-y^2}}\sum_{k\in\mathbb Z}
                   \Big[g\big(\tfrac{\theta+2\pi k}{x}\big) + g\big(\tfrac{\pi-\theta+2\pi k}{x}\big)\Big]
      = \frac{1 + 2\sum_{j\ge1}\varphi(2jx)\cos 2j\theta}{\pi\sqrt{1-y^2}},\\
    P[\mathrm{sign}\sin X \ne \mathrm{sign} X] &= 2\sum_{j\ge1}(-1)^{j+1} S(j\pi/x),

with :math:`\alpha = \arcsin t`, :math:`\theta = \arcsin y`. The left forms (direct sums over
the periods that hold mass) converge fast for small :math:`x`; the right forms (Poisson
summation: Fourier series of the indicator and of the wrapped density) for large :math:`x`.
Each law says where it switches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["crest_direct", "crest_fourier", "pdf_hat_direct", "pdf_hat_fourier", "flip_direct"]

Fn = Callable[[np.ndarray], np.ndarray]
_CHUNK = 1 << 20  # entries of one (points x terms) block


def _blocks(n_terms: np.ndarray) -> list[np.ndarray]:
    """Indices grouped so that each group's (size x max terms) block stays below _CHUNK."""
    order = np.argsort(n_terms, kind="stable")
    groups, start = [], 0
    while start < order.size:
        # widest group whose largest term count times its size fits the chunk
        stop = start + 1
        while stop < order.size and (stop - start + 1) * int(n_terms[order[stop]]) <= _CHUNK:
            stop += 1
        groups.append(order[start:stop])
        start = stop
    return groups


def _terms(x: np.ndarray, u_max: float, period: float) -> np.ndarray:
    return np.ceil(u_max * x / period).astype(np.int64) + 2


def crest_direct(x: np.ndarray, t: float, sf: Fn, u_max: float) -> np.ndarray:
    """P[|sin X| > t] by the direct sum of tail masses over half periods (k π/x ≤ u_max)."""
    alpha = float(np.arcsin(t))
    out = np.empty(x.shape)
    n_terms = _terms(x, u_max, np.pi)
    for idx in _blocks(n_terms):
        k = np.arange(int(n_terms[idx].max()), dtype=np.float64)
        xx = x[idx][:, None]
        with np.errstate(under="ignore", divide="ignore"):
            out[idx] = 2.0 * np.sum(
                sf((k * np.pi + alpha) / xx) - sf((k * np.pi + np.pi - alpha) / xx), axis=1
            )
    return out


def crest_fourier(x: np.ndarray, t: float, cf: Fn, n_terms: int) -> np.ndarray:
    """P[|sin X| > t] by the Fourier series of the indicator, ``n_terms`` terms."""
    alpha = float(np.arcsin(t))
    m = np.arange(1, n_terms + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        s = np.sum(np.sin(2.0 * m * alpha) / m * cf(2.0 * m * x[:, None]), axis=1)
    return (np.pi - 2.0 * alpha) / np.pi - 2.0 / np.pi * s


def pdf_hat_direct(y: np.ndarray, x: np.ndarray, pdf: Fn, u_max: float) -> np.ndarray:
    """Density of sin X at y: the density of X summed over the arcsin branches of every period."""
    theta = np.arcsin(y)
    out = np.empty(y.shape)
    n_terms = _terms(x, u_max, 2.0 * np.pi)
    for idx in _blocks(2 * n_terms + 1):
        kmax = int(n_terms[idx].max())
        k = np.arange(-kmax, kmax + 1, dtype=np.float64) * 2.0 * np.pi
        xx, th = x[idx][:, None], theta[idx][:, None]
        with np.errstate(under="ignore"):
            s = np.sum(pdf((th + k) / xx) + pdf((np.pi - th + k) / xx), axis=1)
        out[idx] = s / x[idx] / np.sqrt((1.0 - y[idx]) * (1.0 + y[idx]))
    return out


def pdf_hat_fourier(y: np.ndarray, x: np.ndarray, cf: Fn, n_terms: int) -> np.ndarray:
    """Density of sin X at y from the Fourier series of the wrapped density (period π)."""
    theta = np.arcsin(y)
    j = np.arange(1, n_terms + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        s = np.sum(cf(2.0 * j * x[:, None]) * np.cos(2.0 * j * theta[:, None]), axis=1)
    return (1.0 + 2.0 * s) / (np.pi * np.sqrt((1.0 - y) * (1.0 + y)))


def flip_direct(x: np.ndarray, sf: Fn, u_max: float) -> np.ndarray:
    """2 Σ_j (-1)^{j+1} S(jπ/x), summed in pairs [S((2k-1)π/x) - S(2kπ/x)] (no cancellation
    between large terms: each pair is a tail mass of one negative half period)."""
    out = np.empty(x.shape)
    n_terms = _terms(x, u_max, 2.0 * np.pi)
    for idx in _blocks(n_terms):
        k = np.arange(1, int(n_terms[idx].max()) + 1, dtype=np.float64)
        xx = x[idx][:, None]
        with np.errstate(under="ignore", divide="ignore"):
            out[idx] = 2.0 * np.sum(sf((2.0 * k - 1.0) * np.pi / xx) - sf(2.0 * k * np.pi / xx), axis=1)
    return out
