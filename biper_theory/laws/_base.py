r"""The one interface every weight law shares: what :math:`\hat w = \sin(\omega_0 W)` looks like.

A law of the latent weights :math:`W` (zero mean, scale :math:`c`) is, for every quantity
here, a function of the dimensionless scale :math:`x = c\,\omega_0` alone (the paper's
:math:`a = b\omega_0` for Laplace; :math:`s = \sigma\omega_0` for the Gaussian): with
:math:`X = \omega_0 W = x U`, :math:`U` the standardised law. Each law implements a few
hooks in :math:`x` (``_second_moment``, ``_optimal_gamma``, ``_sign_flip``, ``_share_past``,
``_crest``, ``_pdf_hat``; ``_cos2`` where a form better than :math:`1 - 2E\hat w^2` exists);
this base turns them into the public methods that take ``omega0``, checks arguments once,
and derives the rest (QE of any γ, QE*, normalised QE, SQNR, the eight
:class:`Quantities`).

The quantities use the zero-mean law with the fitted scale (the paper's model) even when the
location was fitted free: ``loc`` is kept for the record and the likelihood.

Not in the paper beyond the Laplace law; see each law's module for its formulas and accuracy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .._validation import as_positive, as_real, broadcast

__all__ = ["Law", "Quantities", "QUANTITY_NAMES", "KS_SIZE", "check_weights", "ks_test", "subsample"]

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: Default size of the seeded subsample the KS test of a large layer runs on.
KS_SIZE = 2000
#: points of the grid on x in [1e-3, 1e3] that brackets the QE* peak (25 per decade), and the
#: stride of its coarse pass (:meth:`Law.qe_peak`)
_PEAK_GRID, _PEAK_STRIDE = 151, 5

#: Names of the eight :class:`Quantities`, in report order.
QUANTITY_NAMES = (
    "second_moment",
    "optimal_gamma",
    "quantization_error",
    "normalized_quantization_error",
    "sqnr_db",
    "l1_quantization_error",
    "sign_flip_probability",
    "share_past_half_period",
)


@dataclass(frozen=True)
class Quantities:
    r"""What :math:`\hat w = \sin(\omega_0 w)` looks like, under a law or measured.

    Attributes
    ----------
    second_moment : :math:`E\hat w^2`.
    optimal_gamma : :math:`\gamma^* = E|\hat w|` (eq. 8 of the paper under Laplace).
    quantization_error : :math:`QE^* = E\hat w^2 - \gamma^{*2}` (the paper's QE, eq. 5–7, at
        optimal γ).
    normalized_quantization_error : :math:`QE^*/E\hat w^2`.
    sqnr_db : :math:`-10\log_{10}` of the normalised QE.
    l1_quantization_error : :math:`E|\hat w - \mathrm{sign}\,\hat w| = 1 - \gamma^*` (the
        official code's "QE").
    sign_flip_probability : :math:`P[\mathrm{sign}\,\hat w \ne \mathrm{sign}\,w]`.
    share_past_half_period : :math:`P[|\omega_0 w| > \pi/2]`.
    """

    second_moment: Array
    optimal_gamma: Array
    quantization_error: Array
    normalized_quantization_error: Array
    sqnr_db: Array
    l1_quantization_error: Array
    sign_flip_probability: Array
    share_past_half_period: Array

    def as_dict(self) -> dict[str, Array]:
        """The eight quantities by name."""
        return {k: getattr(self, k) for k in QUANTITY_NAMES}


def from_moments(m2: np.ndarray, g: np.ndarray, flip: np.ndarray, past: np.ndarray) -> dict[str, np.ndarray]:
    """The eight quantities from E ŵ², γ*, the flip probability and the share past π/2."""
    qe = np.maximum(m2 - g * g, 0.0)  # QE* = E ŵ² - γ*², ≥ 0 (Cauchy–Schwarz)
    with np.errstate(divide="ignore", invalid="ignore"):
        nqe = np.where(m2 > 0, qe / np.where(m2 > 0, m2, 1.0), np.nan)
        sqnr = -10.0 * np.log10(nqe)
    return {
        "second_moment": m2,
        "optimal_gamma": g,
        "quantization_error": qe,
        "normalized_quantization_error": nqe,
        "sqnr_db": sqnr,
        "l1_quantization_error": 1.0 - g,
        "sign_flip_probability": flip,
        "share_past_half_period": past,
    }


def _out(x: Any) -> Array:
    return np.asarray(x, dtype=np.float64)


def check_weights(w: ArrayLike, name: str = "w") -> np.ndarray:
    """Flat float64 copy-free view of finite, non-empty real weights (ValueError otherwise)."""
    try:
        x = np.asarray(w)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array; got {type(w).__name__}") from exc
    if x.dtype.kind not in "iuf" or x.dtype == np.bool_:
        raise ValueError(f"{name} must hold real numbers; got dtype {x.dtype}")
    if isinstance(w, np.ma.MaskedArray):
        raise ValueError(f"{name}: masked arrays are not accepted (the mask would be ignored)")
    x = x.reshape(-1).astype(np.float64, copy=False)
    if x.size == 0:
        raise ValueError(f"{name} is empty; need at least 1 value")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has {int(np.sum(~np.isfinite(x)))} non-finite values (never dropped)")
    return x


def subsample(x: np.ndarray, size: int | None, rng: Any) -> np.ndarray:
    """A seeded subsample without replacement of at most ``size`` entries (all when None)."""
    if size is None or x.size <= size:
        return x
    idx = np.random.default_rng(rng).choice(x.size, size=int(size), replace=False, shuffle=False)
    return x[np.sort(idx)]


def ks_test(sample: np.ndarray, cdf: Any) -> tuple[float, float]:
    """Two-sided one-sample KS test (``scipy.stats.kstest``; exact null law up to 1000 points,
    its asymptotic form above)."""
    from scipy import stats

    res = stats.kstest(sample, cdf, method="exact" if sample.size <= 1000 else "asymp")
    return float(res.statistic), float(res.pvalue)


def scipy_cdf(name: str, *shape: float, loc: float, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """The CDF of ``scipy.stats.<name>(*shape, loc, scale)``: the same numbers as the frozen law's
    ``cdf``, without building a frozen law (about 0.6 ms each, most of a layer's KS test)."""
    from scipy import stats

    dist = getattr(stats, name)

    def cdf(x: np.ndarray) -> np.ndarray:
        return dist.cdf(x, *shape, loc=loc, scale=scale)

    return cdf


def closed_fit(
    cls: Any,
    x: np.ndarray,
    loc: float,
    scale: float,
    loglik: float,
    *,
    fix_loc: bool,
    scipy_name: str,
    ks_size: int | None,
    rng: Any,
) -> Any:
    """The fitted law ``cls`` from a closed-form MLE (Laplace, Gaussian): AIC with k = 1 (+1 for
    a free location) and the KS test against ``scipy.stats.<scipy_name>(loc, scale)``
    (:func:`scipy_cdf`); ``ks_size=0``: no KS test (a fit only compared by AIC)."""
    d, p = (None, None)
    if ks_size != 0:
        d, p = ks_test(subsample(x, ks_size, rng), scipy_cdf(scipy_name, loc=loc, scale=scale))
    k = 1 if fix_loc else 2
    return cls(
        **{cls.scale_name: scale},
        loc=loc,
        loc_fixed=fix_loc,
        loglik=float(loglik),
        aic=float(2 * k - 2 * loglik),
        ks_statistic=d,
        ks_pvalue=p,
        n=int(x.size),
    )


@dataclass(frozen=True, kw_only=True)
class Law:
    r"""A zero-mean law of the latent weights, and what it implies for :math:`\hat w`.

    Subclasses hold their parameters (shape and scale) as fields and implement the hooks in
    the dimensionless scale :math:`x`. The fit fields are ``None`` for a law constructed
    directly and set by the law's ``fit``.

    Attributes
    ----------
    loc : float
        Fitted location (0 with ``loc_fixed``); the quantities use the zero-mean law.
    loc_fixed : bool
        Whether the location was fixed at 0 (then it is not counted in :attr:`n_params`).
    loglik, aic : float or None
        Log-likelihood at the MLE on the fitted weights, and :math:`AIC = 2k - 2\ell`,
        k = :attr:`n_params`.
    ks_statistic, ks_pvalue : float or None
        One-sample KS test against the fitted law (on a seeded subsample of at most
        ``KS_SIZE`` weights). The p-value is optimistic: the parameters were fitted to
        the same weights (Lilliefors).
    n : int or None
        Number of weights the law was fitted to.
    """

    loc: float = 0.0
    loc_fixed: bool = True
    loglik: float | None = None
    aic: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    n: int | None = None

    #: registry name
    name: ClassVar[str] = ""
    #: symbol of the dimensionless scale in reports ("a" Laplace, "s" Gaussian, "x" others)
    symbol: ClassVar[str] = "x"
    #: name of the scale parameter
    scale_name: ClassVar[str] = "scale"
    #: whether every quantity is a closed form (cheap on dense grids); numerical routes say False
    closed_form: ClassVar[bool] = False

    # ---- what a law provides ------------------------------------------------------------

    @property
    def scale(self) -> float:
        """The scale :math:`c` (Laplace ``b``, Gaussian ``σ``, scipy's ``scale`` otherwise)."""
        return float(getattr(self, self.scale_name))

    @property
    def params(self) -> dict[str, float]:
        """Shape and scale parameters by name (the location is ``loc``)."""
        return {
            f.name: float(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in _FIT_FIELDS
        }

    @property
    def n_params(self) -> int:
        """Free parameters of the fit: shape and scale, plus the location unless fixed."""
        return len(self.params) + (0 if self.loc_fixed else 1)

    def with_scale(self, scale: float) -> Law:
        """The same law (shape kept) with another scale and no fit record."""
        base = {k: v for k, v in self.params.items() if k != self.scale_name}
        ctor: Any = type(self)
        return ctor(**base, **{self.scale_name: float(scale)})

    def standardized(self) -> Law:
        """The law with scale 1: its methods at ``omega0 = x`` are functions of x."""
        return self.with_scale(1.0)

    def __post_init__(self) -> None:
        for k, v in self.params.items():
            if not (isinstance(v, float | int) and math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be finite and in (0, inf); got {v!r}")

    def _second_moment(self, x: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not implement _second_moment")

    def _optimal_gamma(self, x: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not implement _optimal_gamma")

    def _sign_flip(self, x: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not implement _sign_flip")

    def _share_past(self, x: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not implement _share_past")

    def _crest(self, x: np.ndarray, t: float) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not implement _crest")

    def _pdf_hat(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not implement _pdf_hat")

    def _cos2(self, x: np.ndarray) -> np.ndarray:
        # E cos 2X = 1 - 2 E sin²X; laws with a direct form (the characteristic function at 2)
        # override this where it keeps relative accuracy as E cos 2X → 0.
        return 1.0 - 2.0 * self._second_moment(x)

    def _qe_star(self, x: np.ndarray) -> np.ndarray:
        g = self._optimal_gamma(x)
        return np.maximum(self._second_moment(x) - g * g, 0.0)

    def _nqe(self, x: np.ndarray) -> np.ndarray:
        m2 = self._second_moment(x)
        g = self._optimal_gamma(x)
        return np.maximum(m2 - g * g, 0.0) / m2

    # ---- public methods: broadcast over omega0 -------------------------------------------

    def dimensionless(self, omega0: ArrayLike) -> Array:
        r"""The dimensionless scale :math:`x = c\,\omega_0` ("a" for Laplace, "s" for Gaussian)."""
        om = as_positive("omega0", omega0)
        with np.errstate(over="ignore", under="ignore"):
            x = self.scale * om
        if not np.all((x > 0) & (x < np.inf)):
            raise ValueError(
                f"{self.scale_name}*omega0 must be a positive finite float64 (it over- or underflowed)"
            )
        return _out(x)

    def second_moment(self, *, omega0: ArrayLike) -> Array:
        r""":math:`E\hat w^2 = E\sin^2(\omega_0 W)`."""
        return _out(self._second_moment(self.dimensionless(omega0)))

    def optimal_gamma(self, *, omega0: ArrayLike) -> Array:
        r""":math:`\gamma^* = E|\hat w|`, the γ that minimises QE (eq. 8 of the paper for Laplace)."""
        return _out(self._optimal_gamma(self.dimensionless(omega0)))

    def quantization_error(self, *, omega0: ArrayLike, gamma: ArrayLike | None = None) -> Array:
        r""":math:`QE(\gamma) = E(\hat w - \gamma\,\mathrm{sign}\,\hat w)^2
        = E\hat w^2 - 2\gamma E|\hat w| + \gamma^2` (eq. 5 of the paper); ``None``: QE* at γ*."""
        x = self.dimensionless(omega0)
        if gamma is None:
            return _out(self._qe_star(x))
        gg, xx = broadcast(gamma=as_real("gamma", gamma), omega0=x)
        if np.any(np.abs(gg) > 1e150):
            raise ValueError("gamma must be in [-1e150, 1e150] (QE would overflow)")
        m2, g = self._second_moment(xx), self._optimal_gamma(xx)
        return _out(np.maximum(m2 - 2.0 * gg * g + gg * gg, 0.0))

    def normalized_quantization_error(self, *, omega0: ArrayLike) -> Array:
        r""":math:`QE^*/E\hat w^2` (between 0 and 1/2 for these laws)."""
        return _out(self._nqe(self.dimensionless(omega0)))

    def sqnr_db(self, *, omega0: ArrayLike) -> Array:
        r""":math:`-10\log_{10}(QE^*/E\hat w^2)`."""
        return _out(-10.0 * np.log10(self._nqe(self.dimensionless(omega0))))

    def sign_flip_probability(self, *, omega0: ArrayLike) -> Array:
        r""":math:`P[\mathrm{sign}\,\hat w \ne \mathrm{sign}\,W]`."""
        return _out(self._sign_flip(self.dimensionless(omega0)))

    def share_past_half_period(self, *, omega0: ArrayLike) -> Array:
        r""":math:`P[|\omega_0 W| > \pi/2]`."""
        return _out(self._share_past(self.dimensionless(omega0)))

    def crest_share(self, *, omega0: ArrayLike, threshold: float = 0.9) -> Array:
        r""":math:`P[|\hat w| > t]`, ``t = threshold`` in [0, 1)."""
        t = float(threshold)
        if not 0.0 <= t < 1.0:
            raise ValueError(f"threshold must be in [0, 1); got {threshold!r}")
        return _out(self._crest(self.dimensionless(omega0), t))

    def cos2_mean(self, *, omega0: ArrayLike) -> Array:
        r""":math:`E\cos(2\omega_0 W) = 1 - 2E\hat w^2` (the characteristic function at 2ω₀)."""
        return _out(self._cos2(self.dimensionless(omega0)))

    def pdf_hat(self, y: ArrayLike, *, omega0: ArrayLike) -> Array:
        r"""Density of :math:`\hat w` at ``y`` (0 outside (-1, 1), :math:`+\infty` at ±1)."""
        yy = as_real("y", y, allow_inf=True)
        yy, xx = broadcast(y=yy, omega0=self.dimensionless(omega0))
        inside = np.abs(yy) < 1.0
        out = np.where(np.abs(yy) == 1.0, np.inf, 0.0)
        if np.any(inside):
            out[inside] = self._pdf_hat(yy[inside], xx[inside])
        return _out(out)

    def quantities(self, *, omega0: ArrayLike) -> Quantities:
        """The eight :class:`~biper_theory.laws.Quantities` at ``omega0``."""
        x = self.dimensionless(omega0)
        g = self._optimal_gamma(x)
        nqe = self._nqe(x)
        d = {
            "second_moment": self._second_moment(x),
            "optimal_gamma": g,
            "quantization_error": self._qe_star(x),
            "normalized_quantization_error": nqe,
            "sqnr_db": -10.0 * np.log10(nqe),
            "l1_quantization_error": 1.0 - g,
            "sign_flip_probability": self._sign_flip(x),
            "share_past_half_period": self._share_past(x),
        }
        return Quantities(**{k: _out(v) for k, v in d.items()})

    def _single_qe_peak(self) -> bool:
        """Whether QE*(x) has one maximum (then :meth:`qe_peak` may skip most of its grid)."""
        return False

    def qe_peak(self) -> tuple[float, float]:
        r"""``(x_star, qe_star)``: where :math:`QE^*` of the standardised law peaks in :math:`x`.

        Not in the paper beyond Laplace (eqs. 7–8, overridden there by
        :func:`biper_theory.closed_form.qe_peak`): the grid maximum on
        :math:`x \in [10^{-3}, 10^{3}]` (25 points per decade), refined by bounded Brent
        search. The maximum is flat (QE* moves by ~1e-16 within ~5e-8 of x*), so x* is found to
        ~1e-7 relative (4.7e-8 for the gennorm law at β = 1 against the Laplace a*) while QE* is
        as accurate as the law's QE* (1e-15 there).

        For laws whose QE* has a single maximum (:meth:`_single_qe_peak`) the grid is evaluated
        coarse to fine: every fifth point first (5 per decade), then the points between the
        neighbours of each coarse local maximum. The maximum of a one-peak profile lies there,
        so this is the maximum of the whole grid, found with about a third of the evaluations
        (tested bit for bit against the full grid). Other laws evaluate every point.
        """
        std = self.standardized()
        grid = np.geomspace(1e-3, 1e3, _PEAK_GRID)
        if not self._single_qe_peak():
            return self._refined_peak(std, grid, std.quantization_error(omega0=grid))
        q = np.full(grid.size, -np.inf)
        coarse = np.arange(0, grid.size, _PEAK_STRIDE)
        q[coarse] = std.quantization_error(omega0=grid[coarse])
        qc = q[coarse]
        higher_left = np.concatenate([[True], qc[1:] >= qc[:-1]])
        higher_right = np.concatenate([qc[:-1] >= qc[1:], [True]])
        fine = np.zeros(grid.size, dtype=bool)
        for c in coarse[higher_left & higher_right]:  # the coarse local maxima
            fine[max(c - _PEAK_STRIDE + 1, 0) : c + _PEAK_STRIDE] = True
        fine[coarse] = False
        q[fine] = std.quantization_error(omega0=grid[fine])
        return self._refined_peak(std, grid, q)

    @staticmethod
    def _refined_peak(std: Law, grid: np.ndarray, q: np.ndarray) -> tuple[float, float]:
        """The grid maximum of ``q`` refined by bounded Brent search between its neighbours."""
        from scipy import optimize

        i = int(np.argmax(q))
        res = optimize.minimize_scalar(
            lambda v: -float(std.quantization_error(omega0=v)),
            bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
            method="bounded",
            options={"xatol": 1e-12 * grid[i]},
        )
        return float(res.x), float(-res.fun)

    def x_at_flip(self, max_flip: float) -> float:
        r"""Largest :math:`x` (approximately; the caller steps to the exact float) with
        sign-flip probability :math:`\le` ``max_flip`` in (0, 1/2).

        The flip probability rises from 0 towards 1/2 with x; the bracket doubles from x = 1
        until it passes ``max_flip``, then Brent's method finds the crossing (to 1e-15 relative).
        """
        from scipy import optimize

        p = float(max_flip)
        if not 0.0 < p < 0.5:
            raise ValueError(f"max_flip must be in (0, 0.5); got {max_flip!r}")
        std = self.standardized()

        def f(v: float) -> float:
            return float(std.sign_flip_probability(omega0=v)) - p

        lo, hi = 1.0, 1.0
        while f(lo) > 0.0:
            lo *= 0.5
            if lo < 1e-300:
                raise ValueError(f"max_flip = {p!r} is below every flip probability of the {self.name} law")
        while f(hi) <= 0.0:
            hi *= 2.0
            if hi > 1e300:
                raise ValueError(f"max_flip = {p!r} is not reached by the {self.name} law")
        return float(optimize.brentq(f, lo, hi, xtol=1e-300, rtol=1e-15))

    def describe(self) -> str:
        """One line: name and parameters."""
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"{self.name}({ps})"


_FIT_FIELDS = frozenset(f.name for f in dataclasses.fields(Law))
