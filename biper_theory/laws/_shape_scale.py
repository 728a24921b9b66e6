"""What the generalized normal and the Student-t law share: a shape and a scale, fitted by MLE.

Both laws have a scipy.stats distribution of the same name (``scipy.stats.gennorm``,
``scipy.stats.t``) and, with the location fixed at 0, a profile-likelihood MLE over the shape
vectorised over many samples (:mod:`biper_theory.laws._profile`, ``<name>_mle``). With a free
location the fit is scipy's generic ``fit``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from . import _profile
from ._base import KS_SIZE, Law, check_weights, ks_test, scipy_cdf, subsample

__all__ = ["ShapeScaleLaw"]

_L = TypeVar("_L", bound="ShapeScaleLaw")


@dataclass(frozen=True, kw_only=True)
class ShapeScaleLaw(Law):
    """A zero-mean law ``scipy.stats.<name>(shape, loc, scale)`` with one shape parameter."""

    #: field name of the shape parameter ("beta", "df")
    shape_name: ClassVar[str] = ""

    @classmethod
    def _make(cls: type[_L], shape: Any, scale: Any, loglik: Any, n: int, **fit: Any) -> _L:
        """The law with these parameters and fit fields (the shape under its own field name)."""
        kw: dict[str, Any] = {cls.shape_name: float(shape), "scale": float(scale), **fit}
        return cls(loglik=float(loglik), n=int(n), **kw)

    @classmethod
    def fit(
        cls: type[_L], w: npt.ArrayLike, *, fix_loc: bool = True, ks_size: int | None = KS_SIZE, rng: Any = 0
    ) -> _L:
        r"""Maximum likelihood: with ``fix_loc`` the profile likelihood over the shape (equal
        to ``scipy.stats.<name>.fit(w, floc=0)`` to its optimiser's tolerance, tested), else
        ``scipy.stats.<name>.fit``.

        :math:`\ell = \sum_i \log f(w_i; \hat\theta, \hat\mu, \hat c)`; k = 2 (shape θ, scale c)
        + 1 if the location is free. ``ks_size=0`` skips the KS test (``with_ks`` adds it).
        """
        from scipy import stats

        x = check_weights(w)
        if not np.any(x != x[0]):
            raise ValueError(f"w: all weights are equal; cannot fit a {cls.name} law")
        if fix_loc:
            return cls.fit_rows([x], ks_size=ks_size, rng=rng)[0]
        dist = getattr(stats, cls.name)
        shape, loc, scale = dist.fit(x)
        loglik = float(np.sum(dist.logpdf(x, shape, loc, scale)))
        fitted = cls._make(
            shape, scale, loglik, x.size, loc=float(loc), loc_fixed=False, aic=6.0 - 2.0 * loglik
        )
        return fitted.with_ks(x, ks_size, rng) if ks_size != 0 else fitted

    @classmethod
    def fit_rows(
        cls: type[_L], samples: Sequence[np.ndarray], *, ks_size: int | None = 0, rng: Any = 0
    ) -> list[_L]:
        """Location-0 MLE of each sample (finite float64, not all equal), vectorised over them."""
        mle = getattr(_profile, f"{cls.name}_mle")
        shape, scale, loglik = mle(*_profile.pad_rows(samples))
        out = [
            cls._make(v, c, ll, x.size, aic=4.0 - 2.0 * float(ll))
            for v, c, ll, x in zip(shape, scale, loglik, samples, strict=True)
        ]
        return (
            out if ks_size == 0 else [f.with_ks(x, ks_size, rng) for f, x in zip(out, samples, strict=True)]
        )

    def with_ks(self: _L, x: np.ndarray, ks_size: int | None = KS_SIZE, rng: Any = 0) -> _L:
        """This law with the KS test against the weights ``x`` it was fitted to."""
        cdf = scipy_cdf(self.name, getattr(self, self.shape_name), loc=self.loc, scale=self.scale)
        d, p = ks_test(subsample(x, ks_size, rng), cdf)
        return dataclasses.replace(self, ks_statistic=d, ks_pvalue=p)
