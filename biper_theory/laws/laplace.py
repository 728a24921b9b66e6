r"""The Laplace law :math:`W \sim \mathrm{La}(0, b)`: the paper's model (Section 2.1 of [1]_).

Every quantity delegates to :mod:`biper_theory.closed_form` (the Laplace core, eqs. 4–8 of
[1]_, corrected eq. 4) in the paper's dimensionless scale :math:`a = b\,\omega_0`. What the
core does not hold (not in the paper) is derived here in closed form:

* share past the half period :math:`P[|X| > \pi/2] = e^{-\pi/(2a)}` (:math:`|X| \sim \mathrm{Exp}(a)`);
* crest share :math:`P[|\sin X| > t]`: :math:`|X|` lands in :math:`(k\pi+\alpha, k\pi+\pi-\alpha)`,
  :math:`\alpha = \arcsin t`, so the geometric sum over half periods gives
  :math:`e^{-\alpha/a}\,(1 - e^{-(\pi-2\alpha)/a})/(1 - e^{-\pi/a})` (``expm1`` keeps both
  factors exact; relative accuracy a few ulp times :math:`\alpha/a`);
* :math:`E\cos 2X = 1/(1+4a^2)`, the Laplace characteristic function at 2 (a few ulp).

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .. import closed_form as cf
from ._base import KS_SIZE, Law, check_weights, closed_fit

__all__ = ["Laplace"]


@dataclass(frozen=True, kw_only=True)
class Laplace(Law):
    r"""Zero-mean Laplace law with scale ``b`` (density :math:`e^{-|w|/b}/(2b)`).

    Quantities are the closed forms of :mod:`biper_theory.closed_form` at :math:`a = b\omega_0`
    (accuracy stated there: a few ulp for E ŵ², γ*, QE* over :math:`a \in [10^{-6}, 10^6]`);
    crest share, share past π/2 and E cos 2X are the closed forms of this module.
    """

    b: float
    name: ClassVar[str] = "laplace"
    symbol: ClassVar[str] = "a"
    scale_name: ClassVar[str] = "b"
    closed_form: ClassVar[bool] = True

    def qe_peak(self) -> tuple[float, float]:
        """:func:`biper_theory.closed_form.qe_peak` (eqs. 7–8; correctly rounded)."""
        return cf.qe_peak()

    def x_at_flip(self, max_flip: float) -> float:
        r"""Largest a with :math:`1/(1+e^{\pi/a}) \le p`: :math:`a = \pi/\log(1/p - 1)`."""
        p = float(max_flip)
        if not 0.0 < p < 0.5:
            raise ValueError(f"max_flip must be in (0, 0.5); got {max_flip!r}")
        return float(np.pi / np.log1p((1.0 - 2.0 * p) / p))

    def _second_moment(self, x: np.ndarray) -> np.ndarray:
        return cf.second_moment(a=x)  # eq. (6)

    def _optimal_gamma(self, x: np.ndarray) -> np.ndarray:
        return cf.optimal_gamma(a=x)  # eq. (8)

    def _qe_star(self, x: np.ndarray) -> np.ndarray:
        return cf.quantization_error(a=x)  # eq. (7) at eq. (8)

    def _nqe(self, x: np.ndarray) -> np.ndarray:
        return cf.normalized_quantization_error(a=x)

    def _sign_flip(self, x: np.ndarray) -> np.ndarray:
        return cf.sign_flip_probability(a=x)  # 1/(1 + e^{π/a})

    def _share_past(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(under="ignore"):
            return np.exp(-0.5 * np.pi / x)  # P[|X| > π/2] = e^{-π/(2a)}

    def _crest(self, x: np.ndarray, t: float) -> np.ndarray:
        # P[|sin X| > t] = e^{-α/a} (1 - e^{-(π-2α)/a}) / (1 - e^{-π/a}),  α = arcsin t
        alpha = float(np.arcsin(t))
        with np.errstate(under="ignore", over="ignore"):
            return np.exp(-alpha / x) * np.expm1(-(np.pi - 2.0 * alpha) / x) / np.expm1(-np.pi / x)

    def _cos2(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + 4.0 * x * x)  # E cos 2X = 1/(1 + 4a²)

    def _pdf_hat(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return cf.pdf(y, a=x)  # corrected eq. (4)

    @classmethod
    def fit(
        cls, w: npt.ArrayLike, *, fix_loc: bool = True, ks_size: int | None = KS_SIZE, rng: Any = 0
    ) -> Laplace:
        r"""Maximum likelihood, in closed form (what ``scipy.stats.laplace.fit`` returns).

        :math:`\hat\mu = 0` (``fix_loc``, as ``floc=0``) or the median; :math:`\hat b =
        \overline{|w - \hat\mu|}`; :math:`\ell = -n(\log 2\hat b + 1)`.
        """
        x = check_weights(w)
        loc = 0.0 if fix_loc else float(np.median(x))
        b = float(np.mean(np.abs(x - loc)))
        if not b > 0:
            raise ValueError("w: the Laplace scale is 0 (all weights equal the location); cannot fit")
        loglik = -x.size * (np.log(2.0 * b) + 1.0)
        return closed_fit(
            cls, x, loc, b, loglik, fix_loc=fix_loc, scipy_name="laplace", ks_size=ks_size, rng=rng
        )
