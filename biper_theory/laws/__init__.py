r"""Weight laws, one interface: what :math:`\hat w = \sin(\omega_0 W)` looks like under each.

One module per law (:mod:`.laplace`, :mod:`.gaussian`, :mod:`.gennorm`, :mod:`.student_t`,
:mod:`.empirical`) on a shared base (:class:`._base.Law`). This module is the only place that
maps names to classes; callers hold a law object and ask it.

>>> import numpy as np
>>> from biper_theory import laws
>>> w = np.random.default_rng(0).laplace(0.0, 0.05, size=20_000)
>>> fits = laws.fit_all(w, names=("laplace", "gaussian"))
>>> laws.best_by_aic(fits)
'laplace'
>>> round(float(fits["laplace"].quantization_error(omega0=20.0)), 3)
0.103
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy.typing as npt

from ._base import KS_SIZE, Law, Quantities, check_weights, subsample

__all__ = [
    "NAMES",
    "FITTED",
    "Law",
    "Quantities",
    "get",
    "fit",
    "fit_all",
    "best_by_aic",
    "Laplace",
    "Gaussian",
    "GenNorm",
    "StudentT",
    "Empirical",
]

#: law name -> (module, class)
_REGISTRY: dict[str, tuple[str, str]] = {
    "laplace": ("laplace", "Laplace"),
    "gaussian": ("gaussian", "Gaussian"),
    "gennorm": ("gennorm", "GenNorm"),
    "t": ("student_t", "StudentT"),
    "empirical": ("empirical", "Empirical"),
}
#: every law by name.
NAMES: tuple[str, ...] = tuple(_REGISTRY)
#: the parametric laws (fitted by maximum likelihood, compared by AIC).
FITTED: tuple[str, ...] = ("laplace", "gaussian", "gennorm", "t")


def get(law: str) -> type[Law]:
    """The class of law ``law`` (one of :data:`NAMES`)."""
    if not isinstance(law, str) or law not in _REGISTRY:
        raise ValueError(f"law must be one of {', '.join(NAMES)}; got {law!r}")
    module, cls = _REGISTRY[law]
    found: type[Law] = getattr(importlib.import_module(f".{module}", __name__), cls)
    return found


def fit(
    law: str,
    w: npt.ArrayLike,
    *,
    fix_loc: bool = True,
    ks_size: int | None = KS_SIZE,
    fit_size: int | None = None,
    rng: Any = 0,
) -> Law:
    """Fit law ``law`` to weights ``w`` by maximum likelihood (see each law's ``fit``).

    ``fit_size``: fit (and compute the log-likelihood and AIC) on a seeded subsample of at
    most this many weights (``None``: all); every law fitted with the same ``fit_size`` and
    ``rng`` sees the same subsample, so their AICs compare. ``ks_size``: the KS test's subsample.
    """
    cls = get(law)
    x = check_weights(w)
    if fit_size is not None:
        if isinstance(fit_size, bool) or int(fit_size) != fit_size or fit_size < 2:
            raise ValueError(f"fit_size must be an integer >= 2 or None; got {fit_size!r}")
        x = subsample(x, int(fit_size), rng)
    fitted: Law = cls.fit(x, fix_loc=fix_loc, ks_size=ks_size, rng=rng)  # type: ignore[attr-defined]
    return fitted


def fit_all(
    w: npt.ArrayLike,
    *,
    names: Iterable[str] = FITTED,
    fix_loc: bool = True,
    ks_size: int | None = KS_SIZE,
    fit_size: int | None = None,
    rng: Any = 0,
) -> dict[str, Law]:
    """:func:`fit` for every law in ``names`` on the same weights (and subsample)."""
    names = tuple(names)
    for name in names:
        get(name)
    return {
        name: fit(name, w, fix_loc=fix_loc, ks_size=ks_size, fit_size=fit_size, rng=rng) for name in names
    }


def best_by_aic(fits: Mapping[str, Law]) -> str:
    """Name of the fitted law with the lowest AIC (laws without an AIC, e.g. empirical, skipped)."""
    scored = {k: float(v.aic) for k, v in fits.items() if v.aic is not None}
    if not scored:
        raise ValueError("fits must hold at least one fitted parametric law (with an AIC)")
    return min(scored, key=lambda k: scored[k])


def __getattr__(name: str) -> Any:
    classes = {cls: law for law, (_, cls) in _REGISTRY.items()}
    if name in classes:
        return get(classes[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
