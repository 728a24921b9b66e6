r"""Closed forms for the law of :math:`\hat w = \sin(\omega_0 W)`, :math:`W \sim \mathrm{La}(0, b)`.

Everything here depends on the two parameters only through the dimensionless product
:math:`a = b\,\omega_0` (write :math:`X = \omega_0 W \sim \mathrm{Laplace}(0, a)`, so
:math:`\hat w = \sin X`). Public functions take ``b`` and ``omega0`` as keywords (or ``a``
alone), broadcast them, reduce to ``a`` once and call a core written in ``a``.

numpy/scipy only. Every result is float64 (a 0-d array for scalar input). Each formula is
written so that no exponential can overflow: only :math:`e^{-x/a}` with :math:`x \ge 0`
appears, together with ``expm1`` and ``tanh``; the docstrings state the tested domain.

:func:`second_moment`, :func:`optimal_gamma`, :func:`quantization_error` (at optimal
:math:`\gamma`) and :func:`l1_quantization_error` run block by block in cache-sized work
rows, checking ``a`` as they read it, with results bit-identical to the one-line formulas
written beside each kernel. :math:`QE^*` is one fused kernel sharing :math:`r = 1/a`
(:math:`E\hat w^2 = 2/(4 + r^2)`, no branch): on :math:`10^7` values of ``a`` logspaced
over :math:`[10^{-6}, 10^{6}]` it runs at 0.52-0.62x the throughput of a bare ``np.tanh``
over the same array (medians of 9, shared 2-core x86-64 machine; 0.13x with whole-array
expressions). Blocks of :func:`second_moment` that mix :math:`a \le 1/2` and
:math:`a > 1/2` (e.g. shuffled input) evaluate both of its branches.

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal, localcontext

import numpy as np
import numpy.typing as npt
from scipy import special

from ._validation import as_real, broadcast, dimensionless_scale, positive_error

__all__ = [
    "pdf",
    "logpdf",
    "cdf",
    "sf",
    "second_moment",
    "optimal_gamma",
    "quantization_error",
    "normalized_quantization_error",
    "sqnr_db",
    "l1_quantization_error",
    "sign_flip_probability",
    "qe_peak",
    "QE_LIMIT_LARGE_A",
    "GAMMA_LIMIT_LARGE_A",
    "GAMMA_MAX",
]

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

_HALF_PI = 0.5 * np.pi

#: :math:`\lim_{a\to\infty} QE^* = 1/2 - 4/\pi^2` (uniform phase: ŵ ~ arcsine law).
QE_LIMIT_LARGE_A: float = 0.5 - 4.0 / np.pi**2
#: :math:`\lim_{a\to\infty} \gamma^* = E|\sin U| = 2/\pi` for a uniform phase U.
GAMMA_LIMIT_LARGE_A: float = 2.0 / np.pi


def _out(x: np.ndarray) -> Array:
    """float64 array; 0-d for scalar input (never a numpy scalar)."""
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------
# Cores in the single variable a = b * omega0.  Inputs are validated float64 arrays.
# ----------------------------------------------------------------------------------------


def _angles(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t = arcsin|y| and u = arccos|y| = pi/2 - t, each computed directly.

    Computing u with ``arccos`` (not as pi/2 - t) keeps its relative accuracy near |y| = 1,
    where the branch distances pi -/+ t and the cdf tail depend on it.
    """
    ay = np.minimum(np.abs(y), 1.0)
    return np.arcsin(ay), np.arccos(ay)


def _branch_ratio(t: np.ndarray, u: np.ndarray, a: np.ndarray) -> np.ndarray:
    r"""r = (e^{-(π-2t)/a} + e^{-π/a}) / (1 - e^{-π/a}), all branches past the principal one.

    Relative to the principal branch e^{-t/a}, the branches x = π - t + 2πk and
    x = -(π + t) - 2πk (k ≥ 0) and their mirror images sum to this geometric series.
    π - 2t is evaluated as 2u to keep it exact near |y| = 1; ``-expm1`` keeps the
    denominator accurate at large a where π/a → 0.
    """
    return (np.exp(-2.0 * u / a) + np.exp(-np.pi / a)) / -np.expm1(-np.pi / a)


def _pdf_core(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    # f(y) = [e^{-t/a} + (e^{-(π-t)/a} + e^{-(π+t)/a}) / (1 - e^{-π/a})] / (2a sqrt(1-y²)),
    # t = arcsin|y|.  Same as e^{-t/a}(1 + r) / (2a sqrt(1-y²)).
    inside = np.abs(y) < 1.0
    ys = np.where(inside, y, 0.0)
    t, u = _angles(ys)
    root = np.sqrt((1.0 - np.abs(ys)) * (1.0 + np.abs(ys)))  # sqrt(1-y²) without cancellation
    with np.errstate(under="ignore"):  # a density below the float64 range rounds to 0
        bracket = np.exp(-t / a) * (1.0 + _branch_ratio(t, u, a))
        # two divisions, not one by 2a·sqrt(1-y²): for subnormal a that product underflows
        # to 0 and a bracket that underflowed gave 0/0.
        val = bracket / (2.0 * a) / root
    val = np.where(inside, val, 0.0)
    return np.where(np.abs(y) == 1.0, np.inf, val)


def _logpdf_core(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    # log f = -log(2a) - (log1p(-|y|) + log1p(|y|))/2 - t/a + log1p(r): no exp of anything
    # large, so it stays accurate where the pdf itself underflows (small a, |y| near 1).
    inside = np.abs(y) < 1.0
    ys = np.where(inside, y, 0.0)
    ay = np.abs(ys)
    t, u = _angles(ys)
    with np.errstate(under="ignore"):
        val = (
            -np.log(2.0 * a) - 0.5 * (np.log1p(-ay) + np.log1p(ay)) - t / a + np.log1p(_branch_ratio(t, u, a))
        )
    val = np.where(inside, val, -np.inf)
    return np.where(np.abs(y) == 1.0, np.inf, val)


def _upper_tail_core(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    r"""P[ŵ > |y|] for y in [-1, 1]: the smaller tail, never formed as 1 - cdf.

    With t = arcsin|y| and φ = arccos|y| = π/2 - t,

    S = ½ (1 - e^{-φ/a}) [e^{-t/a} + (e^{-π/(2a)} + e^{-(π+t)/a}) / (1 - e^{-π/a})],

    obtained by integrating the pdf from t to π/2 in θ = arcsin ŵ; the factor
    -expm1(-φ/a) carries the whole cancellation near |y| = 1.
    """
    ay = np.minimum(np.abs(y), 1.0)
    t, phi = _angles(ay)
    with np.errstate(under="ignore"):
        tail = (np.exp(-_HALF_PI / a) + np.exp(-(np.pi + t) / a)) / -np.expm1(-np.pi / a)
        # the tail is ≤ 1/2; rounding can exceed it by 1 ulp as y → 0, so clip
        return np.minimum(0.5 * -np.expm1(-phi / a) * (np.exp(-t / a) + tail), 0.5)


def _central_core(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    r"""P[0 < ŵ ≤ |y|] = ½ [1 - e^{-t/a} + e^{-(π-t)/a}(1 - e^{-2t/a}) / (1 - e^{-π/a})].

    Integral of the pdf from 0 to t = arcsin|y| in θ; ``expm1`` keeps it accurate at small t.
    """
    ay = np.minimum(np.abs(y), 1.0)
    t, u = _angles(ay)
    with np.errstate(under="ignore"):
        side = np.exp(-(_HALF_PI + u) / a) * -np.expm1(-2.0 * t / a) / -np.expm1(-np.pi / a)
        return 0.5 * (-np.expm1(-t / a) + side)


def _cdf_core(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    # cdf(y) = ½ + P[0 < ŵ ≤ y] for y ≥ 0, and P[ŵ > |y|] (by symmetry) for y < 0.
    yc = np.clip(y, -1.0, 1.0)
    val = np.where(yc >= 0.0, 0.5 + _central_core(yc, a), _upper_tail_core(yc, a))
    val = np.where(y <= -1.0, 0.0, val)
    return np.where(y >= 1.0, 1.0, val)


# The three cores below run block by block: a few work rows of _BLOCK float64 stay in the
# L2 cache, each result is written once into the output, and no full-size temporary is
# allocated (whole-array expressions, each into a fresh 80 MB buffer, took 0.31 s for QE*
# on 10⁷ values; blockwise 0.065 s). Each block's min and max, read anyway to check a ∈ (0, ∞),
# also pick the branches the block needs. The operations and their order are those of the
# one-line formulas in the comments, so results do not depend on the blocking.

#: Elements per block: 32768 float64 = 256 KiB per row; up to four work rows and the
#: block's input and output (1.5 MiB) fit a 2 MiB L2 cache. 16384 measured ~10 % slower.
_BLOCK = 32768
#: For a ≤ π/44, π/(2a) ≥ 22 and 0 < 1 - tanh(π/(2a)) < 2e^{-44} ≈ 1.6e-19, far below half
#: an ulp of 1 (1.1e-16): tanh rounds to exactly 1.0 and is skipped (blocks with max a below).
_A_TANH_IS_ONE = _HALF_PI / 22.0

_Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray, float, float], None]


def _blockwise(kernel: _Kernel, a: np.ndarray, nwork: int) -> np.ndarray:
    """Apply ``kernel(a_block, out_block, work, min, max)`` over ``a``; same shape as ``a``.

    Raises the ``ValueError`` of :func:`positive_error` (naming ``a``) if any entry is not
    in (0, inf): the check rides on the per-block min and max (NaN propagates through both).
    """
    arr = np.asarray(a, dtype=np.float64)
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    work = np.empty((nwork, min(flat.size, _BLOCK)), dtype=np.float64)
    # 1/a overflows for subnormal a, x² overflows or underflows at the ends of the float64
    # range, and tiny results underflow: all by design, each branch stays finite.
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        for start in range(0, flat.size, _BLOCK):
            blk = flat[start : start + _BLOCK]
            lo, hi = float(blk.min()), float(blk.max())
            if not (lo > 0.0 and hi < np.inf):
                raise positive_error("a", arr)
            kernel(blk, out[start : start + blk.size], work[:, : blk.size], lo, hi)
    return out.reshape(arr.shape)


def _second_moment_block(a: np.ndarray, out: np.ndarray, work: np.ndarray, lo: float, hi: float) -> None:
    # E ŵ² = (1 - E cos 2X)/2 = 2a²/(1+4a²), since E cos(sX) = 1/(1+a²s²) for Laplace(0, a).
    # Written as ½ x²/(1+x²) with x = 2a, and as ½/(1+1/x²) for x > 1 so x² cannot overflow.
    # x > 1 ⇔ a > ½ (2a is exact); ½x·x is formed as a·x (½·2a = a exactly).
    x2 = work[0]
    np.multiply(a, 2.0, out=x2)  # x = 2a
    if lo > 0.5:  # the whole block has x > 1
        np.multiply(x2, x2, out=x2)
        np.divide(1.0, x2, out=x2)
        x2 += 1.0
        np.divide(0.5, x2, out=out)  # ½/(1 + 1/x²)
        return
    if hi <= 0.5:  # the whole block has x ≤ 1
        num = work[1]
        np.multiply(a, x2, out=num)  # ½x²
        np.multiply(x2, x2, out=x2)
        np.add(x2, 1.0, out=out)
        np.divide(num, out, out=out)  # ½x²/(1 + x²)
        return
    # Mixed block: both branches, merged as small·(1 - m) + large·m with m = [a > ½], which is
    # exact (products with 0 or 1, a sum with +0) and ~4x cheaper than a masked copy of
    # unsorted data. The small branch is evaluated at xs = min(x, 1), which changes it only
    # where it is discarded and keeps it finite (x² overflows for a > 6.7e153).
    xs, m = work[1], work[2]
    np.minimum(x2, 1.0, out=xs)
    np.multiply(xs, 0.5, out=out)
    out *= xs  # ½xs², bit-identical to a·x where a ≤ ½
    np.multiply(xs, xs, out=xs)
    xs += 1.0
    out /= xs  # small branch: ½xs²/(1 + xs²)
    np.multiply(x2, x2, out=x2)
    np.divide(1.0, x2, out=x2)
    x2 += 1.0
    np.divide(0.5, x2, out=x2)  # large branch: ½/(1 + 1/x²)
    np.greater(a, 0.5, out=m)  # m = 1.0 where a > ½, else 0.0
    x2 *= m
    np.subtract(1.0, m, out=m)
    out *= m
    out += x2


def _optimal_gamma_block(a: np.ndarray, out: np.ndarray, work: np.ndarray, lo: float, hi: float) -> None:
    # γ* = E|sin X| = a/(1+a²) · coth(π/(2a)) = 1/((a + 1/a) tanh(π/(2a))).
    # tanh, not (e^{π/a}+1)/(e^{π/a}-1): the printed form overflows for a ≤ π/ln(DBL_MAX) ≈ 4.426e-3.
    np.divide(1.0, a, out=out)
    out += a
    if hi > _A_TANH_IS_ONE:  # otherwise tanh(π/(2a)) is exactly 1.0 on the whole block
        t = work[0]
        np.divide(_HALF_PI, a, out=t)
        np.tanh(t, out=t)
        out *= t
    np.divide(1.0, out, out=out)


def _qe_star_block(a: np.ndarray, out: np.ndarray, work: np.ndarray, lo: float, hi: float) -> None:
    # QE* = E ŵ² - γ*² = 2/(4 + r²) - [1/((a + r) tanh(π r/2))]², r = 1/a: one fused kernel
    # sharing the reciprocal r (3 divisions instead of 5). E ŵ² = 2a²/(1+4a²) = 2/(4+r²) has
    # no branch: r² overflowing (a < 1.5e-154) gives 0 ≈ 2a² and underflowing (a > 6.7e153)
    # gives exactly ½. The terms differ by a factor ≥ 2 at small a and tend to ½ and 4/π²
    # at large a, so the subtraction loses at most ~2.4 bits (½ - 4/π² ≈ 0.095).
    r, g = work[0], work[1]
    np.divide(1.0, a, out=r)
    np.add(a, r, out=g)  # a + 1/a
    if hi > _A_TANH_IS_ONE:  # otherwise tanh(π/(2a)) is exactly 1.0 on the whole block
        t = work[2]
        np.multiply(r, _HALF_PI, out=t)
        np.tanh(t, out=t)
        g *= t
    np.divide(1.0, g, out=g)  # γ*
    g *= g
    np.multiply(r, r, out=r)
    r += 4.0
    np.divide(2.0, r, out=out)  # E ŵ²
    out -= g


def _second_moment_core(a: np.ndarray) -> np.ndarray:
    """E ŵ² for an array ``a`` (checked to lie in (0, inf) block by block)."""
    return _blockwise(_second_moment_block, a, 3)


def _optimal_gamma_core(a: np.ndarray) -> np.ndarray:
    """γ* = E|ŵ| for an array ``a`` (checked to lie in (0, inf) block by block)."""
    return _blockwise(_optimal_gamma_block, a, 1)


def _qe_star_core(a: np.ndarray) -> np.ndarray:
    """QE* = E ŵ² - γ*² for an array ``a`` (checked to lie in (0, inf) block by block)."""
    return _blockwise(_qe_star_block, a, 3)


#: π to 50 significant digits, for the decimal evaluation of the peak below.
_PI_DECIMAL = Decimal("3.1415926535897932384626433832795028841971693993751")
#: Working precision (significant decimal digits) of that evaluation.
_PEAK_DIGITS = 40


def _qe_star_and_derivative(a: float) -> tuple[Decimal, Decimal]:
    r"""QE*(a) and dQE*/da at a float64 ``a``, in 40-digit decimal arithmetic.

    d/da [E ŵ² - γ*²] = 4a/(1+4a²)² - 2 γ* γ*',
    γ*' = (1-a²)/(1+a²)² coth(c/a) + c/(a(1+a²)) csch²(c/a), c = π/2,
    with q = e^{-π/a}: coth(c/a) = (1+q)/(1-q), csch²(c/a) = 4q/(1-q)².

    Near the peak the two terms of the derivative are ~0.18 each and cancel, while the slope
    there is only d²QE*/da² ≈ -0.044: in float64 the root moves by ~20 ulp (measured -23),
    and ``np.longdouble`` is plain double on some platforms (MSVC, macOS arm64). The
    :mod:`decimal` module (standard library, software arithmetic, exact conversion of the
    float ``a``) gives the same 40 digits on every platform, far more than a correctly
    rounded float64 root needs. Used for a in [0.5, 2] (q ≤ e^{-π/2} ≈ 0.21 there).
    """
    with localcontext() as ctx:
        ctx.prec = _PEAK_DIGITS
        x = Decimal(a)  # exact: every float64 is a finite decimal
        c = _PI_DECIMAL / 2
        q = (-_PI_DECIMAL / x).exp()
        coth = (1 + q) / (1 - q)
        csch2 = 4 * q / ((1 - q) * (1 - q))
        s = 1 + x * x
        g = x / s * coth
        dg = (1 - x * x) / (s * s) * coth + c / (x * s) * csch2
        u = 1 + 4 * x * x
        return 2 * x * x / u - g * g, 4 * x / (u * u) - 2 * g * dg


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------


def pdf(
    w_hat: ArrayLike,
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""Density of :math:`\hat w = \sin(\omega_0 W)`, :math:`W \sim \mathrm{Laplace}(0, b)`.

    Corrected eq. (4) of Vargas et al. (2024): the printed equation has coefficient 1 on
    the cosh term where the transformation method gives 2, so the printed density
    integrates to less than one (see :mod:`biper_theory.errata`).

    Parameters
    ----------
    w_hat : array_like
        Points in :math:`[-1, 1]`; the density is 0 outside and :math:`+\infty` at
        :math:`\pm 1`. NaN is rejected.
    b, omega0 : array_like
        Laplace scale of the latent weights and the frequency, both in (0, inf).
    a : array_like, optional
        The product :math:`b\omega_0`, instead of ``b`` and ``omega0``.

    Returns
    -------
    ndarray of float64, broadcast shape of the arguments.

    Notes
    -----
    With :math:`t = \arcsin|\hat w|`,

    .. math::

        f(\hat w) = \frac{1}{2a\sqrt{1-\hat w^2}}\left[e^{-t/a}
            + \frac{2\cosh(t/a)}{e^{\pi/a}-1}\right]
          = \frac{e^{-t/a} + \left(e^{-(\pi-t)/a} + e^{-(\pi+t)/a}\right)
            / \left(1-e^{-\pi/a}\right)}{2a\sqrt{1-\hat w^2}} .

    The second form, evaluated here, has only non-positive exponents, so it neither
    overflows at small :math:`a` nor cancels at large :math:`a`. Relative accuracy a few
    ulp times :math:`t/a` (the conditioning of :math:`e^{-t/a}`) for
    :math:`a \in [10^{-6}, 10^{6}]`; values below the float64 range underflow to 0
    (use :func:`logpdf` there). Never NaN for any positive float64 ``a``; outside the
    tested domain a density above the float64 range (:math:`1/(2a)` for subnormal ``a``)
    is ``+inf``.
    """
    aa = dimensionless_scale(b, omega0, a)
    y = as_real("w_hat", w_hat, allow_inf=True)
    y, aa = broadcast(w_hat=y, a=aa)
    return _out(_pdf_core(y, aa))


def logpdf(
    w_hat: ArrayLike,
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""Natural log of :func:`pdf` (corrected eq. (4) of Vargas et al., 2024).

    Notes
    -----
    .. math::

        \log f = -\log(2a) - \tfrac12\left[\log(1-|\hat w|) + \log(1+|\hat w|)\right]
                 - \frac{t}{a} + \log\left(1 + r\right),\quad
        r = \frac{e^{-(\pi-2t)/a} + e^{-\pi/a}}{1 - e^{-\pi/a}} .

    Finite for every :math:`|\hat w| < 1` and :math:`a \in [10^{-6}, 10^{6}]`, including
    where :func:`pdf` underflows; :math:`-\infty` outside :math:`[-1, 1]`, :math:`+\infty`
    at :math:`\pm 1`.
    """
    aa = dimensionless_scale(b, omega0, a)
    y = as_real("w_hat", w_hat, allow_inf=True)
    y, aa = broadcast(w_hat=y, a=aa)
    return _out(_logpdf_core(y, aa))


def cdf(
    w_hat: ArrayLike,
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""Distribution function :math:`P[\hat w \le y]`.

    Not in the paper; the integral of the corrected eq. (4), derived in
    :mod:`biper_theory.symbolic`.

    Notes
    -----
    With :math:`t = \arcsin|y|` and :math:`\varphi = \arccos|y|`,

    .. math::

        F(y) = \tfrac12 + \tfrac12\left[1 - e^{-t/a}
               + \frac{2\sinh(t/a)}{e^{\pi/a} - 1}\right], \quad y \ge 0,
        \qquad F(y) = S(|y|), \quad y < 0,

    where :math:`S` is the upper tail of :func:`sf`. Each side is evaluated from the
    smaller of the two tails, so relative accuracy holds near both ends for
    :math:`a \in [10^{-6}, 10^{6}]`.
    """
    aa = dimensionless_scale(b, omega0, a)
    y = as_real("w_hat", w_hat, allow_inf=True)
    y, aa = broadcast(w_hat=y, a=aa)
    return _out(_cdf_core(y, aa))


def sf(
    w_hat: ArrayLike,
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""Survival function :math:`P[\hat w > y] = F(-y)` (the law is symmetric).

    Not in the paper. For :math:`y > 0` it is evaluated directly as

    .. math::

        S(y) = \tfrac12\left(1 - e^{-\varphi/a}\right)\left[e^{-t/a}
               + \frac{e^{-\pi/(2a)} + e^{-(\pi+t)/a}}{1 - e^{-\pi/a}}\right],

    never as :math:`1 - F(y)`, so it keeps relative accuracy as :math:`y \to 1`.
    """
    aa = dimensionless_scale(b, omega0, a)
    y = as_real("w_hat", w_hat, allow_inf=True)
    y, aa = broadcast(w_hat=y, a=aa)
    return _out(_cdf_core(-y, aa))


def second_moment(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r""":math:`E[\hat w^2] = 2a^2 / (1 + 4a^2)`.

    The first term of eq. (7) of Vargas et al. (2024) (agrees with the derivation).

    Notes
    -----
    .. math:: E\sin^2 X = \tfrac12\left(1 - E\cos 2X\right)
              = \tfrac12\left(1 - \frac{1}{1+4a^2}\right) = \frac{2a^2}{1+4a^2}.

    Within 1 ulp of 50-digit mpmath wherever the value is a normal float64
    (:math:`a \ge 1.1\times10^{-154}`; below, it is subnormal or 0).
    """
    return _out(_second_moment_core(dimensionless_scale(b, omega0, a, check=False)))


def optimal_gamma(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""The QE-optimal scale :math:`\gamma^* = E|\hat w|`.

    Eq. (8) of Vargas et al. (2024) (agrees with the derivation, up to an unbalanced
    parenthesis in print).

    Notes
    -----
    .. math:: \gamma^* = \frac{a}{1+a^2}\,\frac{e^{\pi/a}+1}{e^{\pi/a}-1}
              = \frac{a}{1+a^2}\coth\frac{\pi}{2a}.

    Evaluated with ``tanh``; the printed ratio of exponentials overflows (NaN) for
    :math:`a \le \pi/\ln(\mathrm{DBL\_MAX}) \approx 4.426\times10^{-3}`. Within 1 ulp of 50-digit
    mpmath for every normal float64 ``a`` (for subnormal ``a``, ``1/a`` overflows and 0 is
    returned); :math:`0 < \gamma^* < 2/\pi`, and
    :math:`\gamma^* \sim a` as :math:`a\to0`.
    """
    return _out(_optimal_gamma_core(dimensionless_scale(b, omega0, a, check=False)))


def quantization_error(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    gamma: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""Quantization error :math:`QE(\gamma) = E[(\hat w - \gamma\,\mathrm{sign}\,\hat w)^2]`.

    Eq. (5)–(7) of Vargas et al. (2024) (agree with the derivation).

    Parameters
    ----------
    b, omega0, a
        As in :func:`pdf`.
    gamma : array_like, optional
        The scale :math:`\gamma`, finite with :math:`|\gamma| \le` :data:`GAMMA_MAX` (1e150).
        ``None`` (default) means the optimal
        :math:`\gamma^* = E|\hat w|`, giving :math:`QE^* = E\hat w^2 - \gamma^{*2}`.

    Notes
    -----
    .. math:: QE(\gamma) = E\hat w^2 - 2\gamma E|\hat w| + \gamma^2
              = QE^* + (\gamma - \gamma^*)^2 .

    The second form is evaluated: it is non-negative by construction and exact at
    :math:`\gamma = \gamma^*`. Relative accuracy :math:`\le 4\times10^{-15}` (measured
    3.3e-15 at optimal :math:`\gamma`; ~2.4 bits are lost to the subtraction at large
    :math:`a`) for :math:`a \in [10^{-6}, 10^{6}]`; at optimal :math:`\gamma`, for every
    :math:`a` where :math:`QE^*` is a normal float64.
    """
    # With gamma, a is checked before it is broadcast; without, the core checks it.
    aa = dimensionless_scale(b, omega0, a, check=gamma is not None)
    if gamma is None:
        return _out(_qe_star_core(aa))
    g = _as_gamma(gamma)
    aa, g = broadcast(a=aa, gamma=g)
    d = g - _optimal_gamma_core(aa)
    return _out(_qe_star_core(aa) + d * d)


#: Largest :math:`|\gamma|` accepted: :math:`QE(\gamma) = QE^* + (\gamma-\gamma^*)^2` stays
#: finite in float64 up to :math:`|\gamma| \approx 1.3\times10^{154}`; beyond that it is inf.
GAMMA_MAX = 1e150


def _as_gamma(gamma: ArrayLike) -> Array:
    """``gamma`` as float64, finite with ``|gamma| <= GAMMA_MAX`` (so that QE(γ) is finite)."""
    g = as_real("gamma", gamma)
    if g.size and float(np.max(np.abs(g))) > GAMMA_MAX:
        bad = float(g.reshape(-1)[np.argmax(np.abs(g))])
        raise ValueError(
            f"gamma must be in [-{GAMMA_MAX:g}, {GAMMA_MAX:g}] (QE = QE* + (gamma - gamma*)^2 "
            f"would overflow float64); got {bad!r}"
        )
    return g


def normalized_quantization_error(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    gamma: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r""":math:`QE(\gamma) / E\hat w^2`, the error relative to the signal power.

    Not in the paper. Tends to 1/2 as :math:`a\to0` (where :math:`\hat w` is nearly
    Laplace) and to :math:`1 - 8/\pi^2` as :math:`a\to\infty`.

    Notes
    -----
    For :math:`a \ge 1` it is :func:`quantization_error` over :func:`second_moment`. For
    :math:`a < 1` both are first divided by :math:`a^2`, since :math:`E\hat w^2` underflows
    to 0 for :math:`a < 1.6\times10^{-162}` (a plain ratio would be 0/0 there):

    .. math:: \frac{QE(\gamma)}{E\hat w^2} = 1 - \frac{h^2}{m} + \frac{1}{m}
              \left(\frac{\gamma - \gamma^*}{a}\right)^2,\quad
              m = \frac{E\hat w^2}{a^2} = \frac{2}{1+4a^2},\quad
              h = \frac{\gamma^*}{a} = \frac{1}{(1+a^2)\tanh(\pi/(2a))}.

    Relative accuracy :math:`\le 4\times10^{-15}` for :math:`a \in [10^{-6}, 10^{6}]`, finite
    for every positive float64 ``a``; with a given :math:`\gamma \ne \gamma^*` the ratio is ``inf`` where it
    exceeds the float64 range (:math:`|\gamma - \gamma^*| / a > 10^{154}`).
    """
    aa = dimensionless_scale(b, omega0, a)
    gg = None
    if gamma is not None:
        gg = _as_gamma(gamma)
        aa, gg = broadcast(a=aa, gamma=gg)
    big, s = np.maximum(aa, 1.0), np.minimum(aa, 1.0)  # each form sees only its own range
    direct = quantization_error(a=big, gamma=gg) / _second_moment_core(big)
    with np.errstate(over="ignore", under="ignore"):
        m = 2.0 / (1.0 + 4.0 * s * s)  # E ŵ²/a²
        h = 1.0 / ((1.0 + s * s) * np.tanh(_HALF_PI / s))  # γ*/a; tanh → 1 as a → 0
        scaled = 1.0 - h * h / m
        if gg is not None:
            e = (gg - _optimal_gamma_core(s)) / s  # (γ - γ*)/a
            scaled = scaled + e * e / m
    return _out(np.where(aa < 1.0, scaled, direct))


def sqnr_db(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    gamma: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r"""Signal-to-quantization-noise ratio :math:`10\log_{10}(E\hat w^2 / QE)` in dB.

    Not in the paper. :math:`+\infty` only where QE is exactly 0 (never at optimal γ);
    :math:`-\infty` where the ratio of :func:`normalized_quantization_error` overflows.
    Absolute accuracy ~1e-14 dB for :math:`a \in [10^{-6}, 10^{6}]`.
    """
    nqe = normalized_quantization_error(b=b, omega0=omega0, gamma=gamma, a=a)
    with np.errstate(divide="ignore"):
        return _out(-10.0 * np.log10(nqe))


def l1_quantization_error(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r""":math:`E|\hat w - \mathrm{sign}\,\hat w| = 1 - E|\hat w| = 1 - \gamma^*`.

    Not in the paper: this is the quantity the official BiPer code reports as "QE"
    (there averaged per layer and summed over layers). Since :math:`|\hat w| \le 1`,
    :math:`|\hat w - \mathrm{sign}\,\hat w| = 1 - |\hat w|`. Monotone decreasing in
    :math:`a` from 1 to :math:`1 - 2/\pi`, unlike the paper's QE, which has an interior
    maximum. Accurate to a few ulp for every positive ``a``.
    """
    return _out(1.0 - _optimal_gamma_core(dimensionless_scale(b, omega0, a, check=False)))


def sign_flip_probability(
    *,
    b: ArrayLike | None = None,
    omega0: ArrayLike | None = None,
    a: ArrayLike | None = None,
) -> Array:
    r""":math:`P[\mathrm{sign}\sin(\omega_0 W) \ne \mathrm{sign}\,W] = 1/(1 + e^{\pi/a})`.

    Not in the paper. The share of latent weights that BiPer binarizes differently from
    plain sign: :math:`X > 0` falls in a negative half-period :math:`((2k+1)\pi, (2k+2)\pi)`
    with probability :math:`\sum_k e^{-(2k+1)\pi/a}(1-e^{-\pi/a}) = 1/(1+e^{\pi/a})`.
    Evaluated as ``expit(-pi/a)``. Its relative error is set by the rounding of
    :math:`\pi/a` (condition number :math:`\pi/a`): at most :math:`(1 + \pi/a)\,u`,
    :math:`u = 2^{-53}`. Measured against mpmath at 50 digits on 3000 points of
    :math:`a \in [4.5\times10^{-3}, 10^{6}]`: at most 562 ulp (:math:`7\times10^{-14}`
    relative) near :math:`a = 5.5\times10^{-3}`, 198 ulp at :math:`a = 8\times10^{-3}`,
    4 ulp for :math:`a \ge 0.1`. It is 0 for :math:`a \le \pi/\ln(\mathrm{DBL\_MAX})
    = 4.4261\times10^{-3}`, where the true value is below the smallest normal float64.
    """
    aa = dimensionless_scale(b, omega0, a)
    with np.errstate(under="ignore", over="ignore"):  # π/a = inf for subnormal a: expit(-inf) = 0
        return _out(special.expit(-np.pi / aa))


@functools.lru_cache(maxsize=1)
def _peak() -> tuple[float, float]:
    def slope(x: float) -> float:
        return float(_qe_star_and_derivative(x)[1])

    from scipy import optimize  # here, not at import: scipy.optimize alone doubles `import biper_theory`

    eps = float(np.finfo(np.float64).eps)
    a0 = optimize.brentq(slope, 0.5, 2.0, xtol=1e-300, rtol=4 * eps, maxiter=200)
    # brentq stops within 4 ulp (its smallest rtol); finish on the float64 grid: the slope is
    # linear to ~1e-15 relative over these 17 neighbours, so the one with the smallest
    # |dQE*/da| (compared in 40 digits) is the float64 nearest the root, i.e. a* correctly
    # rounded.
    grid = [float(x) for x in a0 + np.spacing(a0) * np.arange(-8, 9)]
    a_star = min(grid, key=lambda x: abs(_qe_star_and_derivative(x)[1]))
    # QE* at that float, rounded once from 40 digits.
    return a_star, float(_qe_star_and_derivative(a_star)[0])


def qe_peak() -> tuple[float, float]:
    r"""The maximum over :math:`a` of :math:`QE^*(a)`: returns ``(a_star, qe_star)``.

    Eq. (8) substituted into eq. (7) of Vargas et al. (2024), whose text quotes
    0.102835 at :math:`b\omega_0 \approx 0.954882` (agrees to the digits printed).

    Notes
    -----
    ``a_star`` is the root of the analytic derivative

    .. math:: \frac{dQE^*}{da} = \frac{4a}{(1+4a^2)^2} - 2\gamma^*\frac{d\gamma^*}{da} = 0

    found by Brent's method and finished on the float64 grid, with the derivative and
    :math:`QE^*` evaluated in 40-digit :mod:`decimal` arithmetic: both results are the
    50-digit values correctly rounded to float64, ``(0.954882470987546,
    0.1028346090382628)``, identically on every platform (no dependence on
    ``np.longdouble``). About 2 ms, then cached.
    """
    return _peak()
