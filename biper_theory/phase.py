r"""Where the weights sit within the period of :math:`\sin`: phase diagnostics. Not in the paper.

The QE of :math:`\hat w = \sin(\omega_0 w)` depends on the weights only through the phase

.. math:: \theta = \big((\omega_0 w + \pi/2) \bmod \pi\big) - \pi/2 \in [-\pi/2, \pi/2),

since :math:`\hat w^2 = \sin^2\theta` and :math:`|\hat w| = |\sin\theta|` (a shift of ω₀w by
π flips only the sign of ŵ). θ = 0 is a zero crossing of ŵ, θ = ±π/2 a crest. A smooth law of
w spreads θ smoothly (density :math:`p_\pi(\theta) = \sum_k f_X(\theta + k\pi)
= f_{\hat w}(\sin\theta)\cos\theta`, the law's wrapped density); trained weights can pile up
at the crests or away from them, which no smooth law of the same spread predicts.

The concentration statistic is :math:`\overline{\cos 2\omega_0 w} = \overline{\cos 2\theta}`:
:math:`E\hat w^2 = (1 - E\cos 2\omega_0 W)/2`, so it is exactly the quantity that sets the
second moment (and with γ* the QE); it is the first trigonometric moment of 2θ, the
natural measure of concentration of an angle mod π (Mardia & Jupp, 2000, §3.4). Its model
value is the law's characteristic function at 2ω₀. The crest share
:math:`P[|\hat w| > 0.9]` says how many weights binarize with almost no error.

Test (``test = "z"``): two-sided z-test of the measured mean of :math:`\cos 2\omega_0 w`
against the law's :math:`E\cos 2\omega_0 W`, with the sample variance,
:math:`z = (\bar c - \mu)/\sqrt{s_c^2/n}`, :math:`p = 2\,Q(|z|)`. Chosen over a chi-square on
the phase histogram because it targets the one moment that moves E ŵ² (a histogram test
spreads its power over every bin and depends on the binning), and because
:math:`\cos 2\omega_0 w \in [-1, 1]` is bounded, so the CLT holds well from small n (the
calibration is tested: p is uniform on samples drawn from the law). For a law *fitted to the
same weights* the fitted scale's own error is neglected; it moves the model value in the same
direction as the sample mean, so the test is then conservative (p too large), never too bold.

References
----------
.. [1] K. V. Mardia, P. E. Jupp, *Directional Statistics*, Wiley, 2000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from ._validation import as_positive
from .laws._base import Law, check_weights

__all__ = [
    "PhaseStatistics",
    "phase_statistics",
    "phase_from_moments",
    "phase",
    "phase_histogram",
    "phase_density",
    "CREST_THRESHOLD",
    "TEST",
]

Array = npt.NDArray[np.float64]

#: |ŵ| above this is a "crest" weight.
CREST_THRESHOLD = 0.9
#: the test, in words (reported beside every p-value).
TEST = "two-sided z-test of mean cos(2 omega0 w) against the law's E cos(2 omega0 W), sample variance"


@dataclass(frozen=True)
class PhaseStatistics:
    """Measured phase statistics of one weight tensor against a law.

    ``crest_share``: share with :math:`|\\hat w| > 0.9` (measured), ``crest_share_model``
    (the law's prediction), ``cos2_mean`` / ``cos2_mean_model``: mean of
    :math:`\\cos 2\\omega_0 w` measured and :math:`E\\cos 2\\omega_0 W` under the law,
    ``p_value`` of :data:`TEST`, ``n`` weights, ``test`` the test in words.
    """

    crest_share: float
    crest_share_model: float
    cos2_mean: float
    cos2_mean_model: float
    p_value: float
    n: int
    test: str = TEST

    def as_dict(self) -> dict[str, Any]:
        """The JSON block: crest_share, crest_share_model, cos2_mean, cos2_mean_model, p_value, n, test."""
        return {
            "crest_share": self.crest_share,
            "crest_share_model": self.crest_share_model,
            "cos2_mean": self.cos2_mean,
            "cos2_mean_model": self.cos2_mean_model,
            "p_value": self.p_value,
            "n": self.n,
            "test": self.test,
        }


def _omega(omega0: float) -> float:
    return float(as_positive("omega0", omega0))


def phase(w: npt.ArrayLike, *, omega0: float) -> Array:
    r"""The phase :math:`\theta = ((\omega_0 w + \pi/2) \bmod \pi) - \pi/2` of each weight, flat float64."""
    x = check_weights(w)
    return np.mod(_omega(omega0) * x + 0.5 * np.pi, np.pi) - 0.5 * np.pi


def phase_from_moments(
    *,
    n: int,
    cos2_mean: float,
    cos2_var: float,
    crest_share: float,
    law: Law,
    omega0: float,
    threshold: float = CREST_THRESHOLD,
) -> PhaseStatistics:
    """:class:`PhaseStatistics` from sums already formed (n, mean and variance of cos 2ω₀w,
    crest share) — what :func:`phase_statistics` computes after its pass over the weights."""
    om = _omega(omega0)
    mu = float(law.cos2_mean(omega0=om))
    se = np.sqrt(max(cos2_var, 0.0) / n) if n > 1 else 0.0
    diff = cos2_mean - mu
    if se > 0:
        p = float(2.0 * special.ndtr(-abs(diff) / se))
    else:  # no spread in the sample: only an exact match is consistent with the law
        p = 1.0 if abs(diff) <= 1e-12 else 0.0
    return PhaseStatistics(
        crest_share=float(crest_share),
        crest_share_model=float(law.crest_share(omega0=om, threshold=threshold)),
        cos2_mean=float(cos2_mean),
        cos2_mean_model=mu,
        p_value=p,
        n=int(n),
    )


def phase_statistics(
    w: npt.ArrayLike, *, omega0: float, law: Law, threshold: float = CREST_THRESHOLD
) -> PhaseStatistics:
    r"""Phase statistics of weights ``w`` at ``omega0`` against ``law`` (see the module notes).

    Parameters
    ----------
    w : array_like
        Weights (any shape, finite, non-empty).
    omega0 : float
        Frequency in (0, inf).
    law : Law
        Any law of :mod:`biper_theory.laws` (fitted to ``w`` or not).
    threshold : float, default 0.9
        Crest threshold on :math:`|\hat w|`.

    Returns
    -------
    PhaseStatistics

    Notes
    -----
    In float64: :math:`c_i = \cos 2\omega_0 w_i`, formed as :math:`1 - 2\sin^2\omega_0 w_i` (one
    sine per weight; equal to the cosine to a few ulp), :math:`\bar c`, :math:`s_c^2` (divisor n-1),
    crest share :math:`\#\{|\sin\omega_0 w_i| > t\}/n`;
    :math:`z = (\bar c - E_{law}\cos 2\omega_0 W)/(s_c/\sqrt n)`, :math:`p = 2Q(|z|)`.
    """
    om = _omega(omega0)
    if not 0.0 <= float(threshold) < 1.0:
        raise ValueError(f"threshold must be in [0, 1); got {threshold!r}")
    x = check_weights(w)
    s = np.sin(om * x)
    crest = np.count_nonzero(np.abs(s) > threshold) / x.size
    c = np.multiply(s, s, out=s)
    c = np.subtract(1.0, np.multiply(c, 2.0, out=c), out=c)  # cos 2x = 1 - 2 sin²x: one sin per weight
    var = float(np.var(c, ddof=1)) if x.size > 1 else 0.0
    return phase_from_moments(
        n=x.size,
        cos2_mean=float(np.mean(c)),
        cos2_var=var,
        crest_share=crest,
        law=law,
        omega0=om,
        threshold=threshold,
    )


def phase_histogram(w: npt.ArrayLike, *, omega0: float, bins: int = 60) -> tuple[Array, Array]:
    """``(edges, density)`` of the phase θ on [-π/2, π/2] (``bins`` equal bins; integrates to 1)."""
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}")
    edges = np.linspace(-0.5 * np.pi, 0.5 * np.pi, int(bins) + 1)
    dens, _ = np.histogram(phase(w, omega0=omega0), bins=edges, density=True)
    return edges, np.asarray(dens, dtype=np.float64)


def phase_density(law: Law, theta: npt.ArrayLike, *, omega0: float) -> Array:
    r"""The law's density of θ: :math:`p_\pi(\theta) = f_{\hat w}(\sin\theta)\cos\theta` on (-π/2, π/2).

    The wrapped density :math:`\sum_k f_X(\theta + k\pi)` of :math:`X = \omega_0 W` mod π (the
    two arcsin branches of :math:`\hat w` in every period, times the Jacobian
    :math:`d\hat w/d\theta = \cos\theta`); 0 outside. Uniform (1/π) when the law spreads over
    many periods.
    """
    th = np.asarray(theta, dtype=np.float64)
    inside = np.abs(th) < 0.5 * np.pi
    out = np.zeros(th.shape)
    if np.any(inside):
        out[inside] = law.pdf_hat(np.sin(th[inside]), omega0=omega0) * np.cos(th[inside])
    return out
