r"""The empirical law: the weights themselves. Every quantity is a sample mean. Not in the paper.

For weights :math:`w_1..w_n` and :math:`\hat w_i = \sin(\omega_0 w_i)` (float64):
:math:`E\hat w^2 = \overline{\hat w^2}`, :math:`\gamma^* = \overline{|\hat w|}`, the flip share
:math:`\#\{\hat w_i w_i < 0\}/n` (w = 0 is not a flip), the share past the half period
:math:`\#\{|\omega_0 w_i| > \pi/2\}/n`, the crest share :math:`\#\{|\hat w_i| > t\}/n`,
:math:`\overline{\cos 2\omega_0 w}`. These are exact sample statistics (float64 rounding
only); :mod:`biper_theory.weights` computes the same means in its one-pass float32 route, with
confidence intervals. The empirical law has no density: :meth:`Empirical.pdf_hat` is the
histogram density of ŵ (``bins`` equal bins on [-1, 1]), for figures.

Its "scale" (for :meth:`~biper_theory.laws._base.Law.dimensionless`) is :math:`\overline{|w|}`,
the Laplace MLE, so ``x`` reads like the paper's ``a``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ._base import Law, check_weights

__all__ = ["Empirical"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Empirical(Law):
    """The empirical law of weights ``w`` (any shape; flattened, float64, finite)."""

    w: np.ndarray = field(kw_only=False, repr=False)
    bins: int = 100
    name: ClassVar[str] = "empirical"
    symbol: ClassVar[str] = "x"
    scale_name: ClassVar[str] = "mean|w|"

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", check_weights(self.w))
        if not np.any(self.w != 0):
            raise ValueError("w: all weights are 0; the empirical law has no scale")
        if isinstance(self.bins, bool) or int(self.bins) != self.bins or self.bins < 1:
            raise ValueError(f"bins must be an integer >= 1; got {self.bins!r}")
        object.__setattr__(self, "n", int(self.w.size))

    @property
    def scale(self) -> float:
        """:math:`\\overline{|w|}` (the Laplace MLE with location 0)."""
        return float(np.mean(np.abs(self.w)))

    @property
    def params(self) -> dict[str, float]:
        """No parameters: the law is the weights."""
        return {}

    @property
    def n_params(self) -> int:
        """0 (nothing is fitted; the empirical law is left out of AIC comparisons)."""
        return 0

    def with_scale(self, scale: float) -> Empirical:
        """The weights rescaled so that their mean |w| is ``scale``."""
        return Empirical(self.w * (float(scale) / self.scale), bins=self.bins)

    def _each(self, x: np.ndarray, stat: Any) -> np.ndarray:
        """stat(ŵ, u) for every x (u = w / scale, ŵ = sin(x u)), one float64 pass per value."""
        u = self.w / self.scale
        out = np.empty(x.shape)
        flat, xs = out.reshape(-1), x.reshape(-1)
        for i, xi in enumerate(xs):
            flat[i] = stat(np.sin(xi * u), u, xi)
        return out

    def _second_moment(self, x: np.ndarray) -> np.ndarray:
        return self._each(x, lambda s, u, xi: np.dot(s, s) / s.size)

    def _optimal_gamma(self, x: np.ndarray) -> np.ndarray:
        return self._each(x, lambda s, u, xi: np.mean(np.abs(s)))

    def _sign_flip(self, x: np.ndarray) -> np.ndarray:
        return self._each(x, lambda s, u, xi: np.count_nonzero(s * u < 0.0) / s.size)

    def _share_past(self, x: np.ndarray) -> np.ndarray:
        return self._each(x, lambda s, u, xi: np.count_nonzero(np.abs(xi * u) > 0.5 * np.pi) / s.size)

    def _crest(self, x: np.ndarray, t: float) -> np.ndarray:
        return self._each(x, lambda s, u, xi: np.count_nonzero(np.abs(s) > t) / s.size)

    def _cos2(self, x: np.ndarray) -> np.ndarray:
        u = self.w / self.scale
        out = np.empty(x.shape)
        for i, xi in enumerate(x.reshape(-1)):
            out.reshape(-1)[i] = np.mean(np.cos(2.0 * xi * u))
        return out

    def _pdf_hat(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        u = self.w / self.scale
        edges = np.linspace(-1.0, 1.0, self.bins + 1)
        out = np.empty(y.shape)
        for xi in np.unique(x):
            dens, _ = np.histogram(np.sin(xi * u), bins=edges, density=True)
            sel = x == xi
            j = np.clip(np.searchsorted(edges, y[sel], side="right") - 1, 0, self.bins - 1)
            out[sel] = dens[j]
        return out

    @classmethod
    def fit(cls, w: npt.ArrayLike, *, fix_loc: bool = True, **_: Any) -> Empirical:
        """The empirical law of ``w`` (nothing to fit; ``fix_loc`` and the rest are ignored)."""
        return cls(check_weights(w))
