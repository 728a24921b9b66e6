r"""The printed statements of §2.1 of Vargas et al. (2024), encoded as printed, and checked.

Each statement of the paper's quantization-error analysis (eq. (3), the Laplace density
:math:`f_W`, eqs. (4)–(8), the quoted maximum, and the mathematical claims of the text: the
codomain of :math:`\hat w`, the arcsine-like law as :math:`b` or :math:`\omega_0` grows, the
effect of that on the quantization error, and its reduction by the frequency) is written here
as printed, evaluated, and compared with the SymPy derivation of :mod:`biper_theory.symbolic`. The
result is a list of :class:`Erratum` records: a verdict (``"agrees"``, ``"differs"`` or
``"ambiguous as printed"``), what differs, and a numerical witness that a reader can
re-run. Every number in a witness is computed when :func:`errata` is called, from the
printed encoding and from the derivation; none is typed in (the two numbers quoted by the
paper, 0.102835 and 0.954882, are part of the printed statement).

How the print is read
---------------------
* ``e^{π/bω₀}`` (eq. 4) and ``e^{π/ω₀b}`` (eqs. 7–8) are read as :math:`e^{\pi/(b\omega_0)}`;
  the left-to-right reading is recorded as an ambiguity (row ``slash``).
* Eqs. (7) and (8) print the denominator ``(ω₀b)² + 1)(e^{π/ω₀b} − 1)`` with one
  parenthesis unopened; it is read as :math:`((\omega_0 b)^2 + 1)(e^{\pi/(\omega_0 b)} - 1)`,
  and the other minimal repair (dropping the stray parenthesis) is recorded as an
  ambiguity (row ``eq7-8-paren``).

Besides the mathematics, three rows record float64 defects of the printed forms
(overflow to NaN at small :math:`a`, cancellation at large :math:`a`); for those rows the
verdict refers to the printed formula evaluated in IEEE double precision.

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
from collections.abc import Callable
from typing import Any, Literal

import mpmath
import numpy as np
import sympy as sp

from . import symbolic

__all__ = [
    "Erratum",
    "VERDICTS",
    "FORMATS",
    "PRINTED_PEAK_QE",
    "PRINTED_PEAK_A",
    "printed_laplace_density",
    "printed_eq3_pdf",
    "printed_pdf",
    "printed_qe_eq5_integrand",
    "printed_qe_eq6_integrand",
    "printed_qe_eq7",
    "printed_gamma_eq8",
    "float64_nan_threshold",
    "errata",
    "errata_table",
]

Verdict = Literal["agrees", "differs", "ambiguous as printed"]
VERDICTS: tuple[str, ...] = ("agrees", "differs", "ambiguous as printed")
FORMATS: tuple[str, ...] = ("text", "markdown", "json")
Reading = Literal["intended", "stray-parenthesis", "left-to-right"]

#: The maximum of QE quoted in the text after eq. (8).
PRINTED_PEAK_QE = 0.102835
#: The product bω₀ at which the text says the maximum occurs.
PRINTED_PEAK_A = 0.954882

_DIGITS = 30  # working precision (decimal digits) of every mpmath witness
_DBL_MAX = float(np.finfo(np.float64).max)


# ----------------------------------------------------------------------------------------
# The printed statements, one encoding for three back ends (SymPy, mpmath, numpy)
# ----------------------------------------------------------------------------------------


def _lib(name: str) -> types.SimpleNamespace:
    if name == "sympy":
        return types.SimpleNamespace(
            exp=sp.exp, sqrt=sp.sqrt, asin=sp.asin, cosh=sp.cosh, abs=sp.Abs, pi=sp.pi,
            one=sp.Integer(1),
        )  # fmt: skip
    if name == "mpmath":
        return types.SimpleNamespace(
            exp=mpmath.exp, sqrt=mpmath.sqrt, asin=mpmath.asin, cosh=mpmath.cosh, abs=mpmath.fabs,
            pi=mpmath.pi, one=mpmath.mpf(1),
        )  # fmt: skip
    if name == "numpy":
        return types.SimpleNamespace(
            exp=np.exp, sqrt=np.sqrt, asin=np.arcsin, cosh=np.cosh, abs=np.abs, pi=np.pi,
            one=np.float64(1.0),
        )  # fmt: skip
    raise ValueError(f"lib must be 'sympy', 'mpmath' or 'numpy'; got {name!r}")


def printed_laplace_density(w: Any, *, b: Any, lib: str = "mpmath") -> Any:
    r"""The latent-weight density as printed before eq. (4): :math:`\frac1b\exp(|w|/b)`.

    Vargas et al. (2024), §2.1, as printed (compare :func:`~biper_theory.symbolic.laplace_density`).
    """
    m = _lib(lib)
    return m.one / b * m.exp(m.abs(w) / b)


def printed_eq3_pdf(w_hat: Any, *, b: Any, omega0: Any, periods: int = 40) -> Any:
    r"""Eq. (3) of Vargas et al. (2024) applied to :math:`g(w) = \sin(\omega_0 w)`, in mpmath.

    .. math:: f(\hat w) = \sum_k \frac{f_W(w_k)}{|g'(w_k)|}, \qquad g(w_k) = \hat w,

    summed over the roots :math:`w_k = (\theta + 2\pi k)/\omega_0` and
    :math:`(\pi - \theta + 2\pi k)/\omega_0`, :math:`\theta = \arcsin\hat w`,
    :math:`|k| \le` ``periods``, with :math:`g'(w) = \omega_0\cos(\omega_0 w)` and :math:`f_W` the Laplace
    density of :func:`~biper_theory.symbolic.laplace_density` (the printed one is not a density). Works in
    :math:`b` and :math:`\omega_0` separately: nothing here assumes that only
    :math:`b\omega_0` matters.

    Parameters
    ----------
    w_hat : mpmath number or float
        The value :math:`\hat w`, in (-1, 1).
    b, omega0 : mpmath numbers or floats
        Laplace scale and frequency, positive.
    periods : int
        Roots with :math:`|k| \le` ``periods`` are summed; a non-negative integer. The
        default 40 leaves a relative truncation below :math:`e^{-80\pi/(b\omega_0)}`, under
        30 digits for :math:`b\omega_0 \le 3.6`.

    Returns
    -------
    mpmath.mpf
        The density of :math:`\hat w` at ``w_hat`` by eq. (3).
    """
    if not (isinstance(periods, int) and periods >= 0):
        raise ValueError(f"periods must be a non-negative integer; got {periods!r}")
    if not -1 < w_hat < 1:
        raise ValueError(f"w_hat must be in (-1, 1); got {w_hat!r}")
    for name, value in (("b", b), ("omega0", omega0)):
        if not 0 < value < mpmath.inf:
            raise ValueError(f"{name} must be positive and finite; got {value!r}")
    density = _laplace(b)
    th = mpmath.asin(w_hat)
    bases = (th, mpmath.pi - th)
    roots = [(base + 2 * mpmath.pi * k) / omega0 for k in range(-periods, periods + 1) for base in bases]
    return mpmath.fsum(density(r) / abs(omega0 * mpmath.cos(omega0 * r)) for r in roots)


def printed_pdf(w_hat: Any, *, b: Any, omega0: Any, lib: str = "mpmath") -> Any:
    r"""Eq. (4) of Vargas et al. (2024) as printed (cosh term with coefficient 1).

    .. math::

        \frac{1}{2b\omega_0}\frac{1}{\sqrt{1-\hat w^2}}\exp\left(\frac{-|\arcsin\hat w|}{b\omega_0}\right)
        + \frac{1}{2b\omega_0}\frac{1}{\sqrt{1-\hat w^2}}
          \cosh\left(\frac{\arcsin\hat w}{b\omega_0}\right)\frac{1}{e^{\pi/b\omega_0}-1}

    with :math:`e^{\pi/b\omega_0}` read as :math:`e^{\pi/(b\omega_0)}`.
    """
    m = _lib(lib)
    bw = b * omega0
    root = m.sqrt(m.one - w_hat**2)
    first = m.one / (2 * bw) / root * m.exp(-m.abs(m.asin(w_hat)) / bw)
    second = m.one / (2 * bw) / root * m.cosh(m.asin(w_hat) / bw) * (m.one / (m.exp(m.pi / bw) - 1))
    return first + second


def printed_qe_eq5_integrand(
    w: Any, *, b: Any, omega0: Any, gamma: Any, density: Callable[[Any], Any]
) -> Any:
    r"""Integrand of eq. (5), :math:`f_W(w)(\sin\omega_0 w - \gamma\,\mathrm{sign}\sin\omega_0 w)^2` (mpmath).

    ``density`` is :math:`f_W` (eq. 5 refers to it by name; pass the Laplace density or
    :func:`printed_laplace_density`).
    """
    s = mpmath.sin(omega0 * w)
    return density(w) * (s - gamma * mpmath.sign(s)) ** 2


def printed_qe_eq6_integrand(w: Any, *, b: Any, omega0: Any, gamma: Any) -> Any:
    r"""Integrand of eq. (6), :math:`\frac1b e^{-w/b}(|\sin\omega_0 w| - \gamma)^2`, w ≥ 0 (mpmath)."""
    return mpmath.exp(-w / b) / b * (mpmath.fabs(mpmath.sin(omega0 * w)) - gamma) ** 2


def _gamma_parts(b: Any, omega0: Any, m: types.SimpleNamespace, reading: str) -> tuple[Any, Any]:
    """Numerator and denominator of the ratio printed in eqs. (7) and (8)."""
    ab = omega0 * b
    e = m.exp(m.pi / omega0 * b) if reading == "left-to-right" else m.exp(m.pi / ab)
    if reading == "stray-parenthesis":  # (ω₀b)² + 1·(e^{π/ω₀b} − 1): the ")" deleted
        return ab * (e + 1), ab**2 + (e - 1)
    if reading in ("intended", "left-to-right"):  # ((ω₀b)² + 1)(e^{π/ω₀b} − 1): "(" restored
        return ab * (e + 1), (ab**2 + 1) * (e - 1)
    raise ValueError(f"reading must be 'intended', 'stray-parenthesis' or 'left-to-right'; got {reading!r}")


def printed_gamma_eq8(*, b: Any, omega0: Any, reading: Reading = "intended", lib: str = "mpmath") -> Any:
    r"""Eq. (8) of Vargas et al. (2024) as printed, under a chosen reading.

    .. math:: \gamma = \frac{\omega_0 b\,(e^{\pi/\omega_0 b}+1)}{(\omega_0 b)^2+1)\,(e^{\pi/\omega_0 b}-1)}

    ``reading``: ``"intended"`` restores the missing "(" and reads the exponent as
    :math:`\pi/(\omega_0 b)`; ``"stray-parenthesis"`` deletes the unmatched ")" instead;
    ``"left-to-right"`` keeps the parenthesis repair but reads :math:`\pi/\omega_0\cdot b`.
    """
    num, den = _gamma_parts(b, omega0, _lib(lib), reading)
    return num / den


def printed_qe_eq7(
    *, b: Any, omega0: Any, gamma: Any, reading: Reading = "intended", lib: str = "mpmath"
) -> Any:
    r"""Eq. (7) of Vargas et al. (2024) as printed, under a chosen reading (see :func:`printed_gamma_eq8`).

    .. math:: QE = \frac{2(\omega_0 b)^2}{4(\omega_0 b)^2+1}
              - \frac{2\gamma\omega_0 b\,(e^{\pi/\omega_0 b}+1)}{(\omega_0 b)^2+1)(e^{\pi/\omega_0 b}-1)}
              + \gamma^2
    """
    m = _lib(lib)
    ab = omega0 * b
    num, den = _gamma_parts(b, omega0, m, reading)
    return 2 * ab**2 / (4 * ab**2 + 1) - 2 * gamma * num / den + gamma**2


def float64_nan_threshold(f: Callable[[float], Any], lo: float, hi: float) -> float:
    """Largest float64 ``a`` in ``[lo, hi]`` at which ``f(a)`` is not finite.

    Assumes ``f`` is non-finite on ``[lo, t]`` and finite on ``(t, hi]``; bisects down to
    adjacent doubles. Raises ``ValueError`` if ``f(lo)`` is finite or ``f(hi)`` is not.
    """
    with np.errstate(all="ignore"):

        def bad(v: float) -> bool:
            return not bool(np.isfinite(f(v)))

        if not bad(lo) or bad(hi):
            raise ValueError(f"f must be non-finite at lo={lo!r} and finite at hi={hi!r}")
        while np.nextafter(lo, hi) < hi:
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            lo, hi = (mid, hi) if bad(mid) else (lo, mid)
    return float(lo)


# ----------------------------------------------------------------------------------------
# The derivation, evaluated
# ----------------------------------------------------------------------------------------


@functools.cache
def _derived(name: str) -> Callable[..., Any]:
    expr = getattr(symbolic, name)()
    syms = {
        "pdf": (symbolic.w_hat, symbolic.a),
        "cdf": (symbolic.w_hat, symbolic.a),
        "quantization_error": (symbolic.a, symbolic.gamma),
    }
    return sp.lambdify(syms.get(name, (symbolic.a,)), expr, modules="mpmath")


def _laplace(b: Any) -> Callable[[Any], Any]:
    f = sp.lambdify((symbolic.w, symbolic.b), symbolic.laplace_density(), modules="mpmath")
    return lambda v: f(v, b)


def _quad_half_periods(f: Callable[[Any], Any], half_period: Any, upper: Any, *, both_sides: bool) -> Any:
    """∫ f over [0, upper] (or [-upper, upper]), split at every multiple of the half-period."""
    n = int(mpmath.ceil(upper / half_period))
    pts = [k * half_period for k in range(n + 1)]
    if both_sides:
        pts = [-p for p in reversed(pts[1:])] + pts
    return mpmath.quad(f, pts)


def _fmt(v: Any, digits: int = 10) -> str:
    return mpmath.nstr(mpmath.mpf(v), digits, strip_zeros=False) if math.isfinite(float(v)) else str(float(v))


# ----------------------------------------------------------------------------------------
# The errata
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Erratum:
    """One printed statement of §2.1 compared with the derivation.

    Attributes
    ----------
    id : str
        Short stable identifier (e.g. ``"eq4-cosh"``).
    statement : str
        The statement as printed (plain text).
    equation : str
        Where it is printed (``"eq. (4)"``, ``"text before eq. (4)"``, ...).
    verdict : {"agrees", "differs", "ambiguous as printed"}
        Comparison with the derivation of :mod:`biper_theory.symbolic`.
    what_differs : str
        What differs and what it should be (or why it agrees, and how the print was read).
    witness : str
        One re-runnable numerical statement showing the verdict.
    witness_value : float
        The number the printed statement gives in the witness.
    expected_value : float
        The number it should give, from the derivation (for the float64 rows: the
        threshold or value predicted analytically).
    aspect : str
        ``"mathematics"``, ``"typesetting"`` or ``"float64"`` (a numerical defect of the
        printed form evaluated in IEEE double precision).
    """

    id: str
    statement: str
    equation: str
    verdict: Verdict
    what_differs: str
    witness: str
    witness_value: float
    expected_value: float
    aspect: str = "mathematics"


def _agree(x: Any, y: Any, rtol: float = 1e-20) -> bool:
    return bool(mpmath.almosteq(mpmath.mpf(x), mpmath.mpf(y), rel_eps=rtol, abs_eps=0))


def _proof_note(proved: bool) -> str:
    return (
        "SymPy: its difference from the derivation simplifies to 0"
        if proved
        else "SymPy could not simplify its difference from the derivation to 0"
    )


def _transformation_rows() -> list[Erratum]:
    one = mpmath.mpf(1)
    cdf = _derived("cdf")
    # P[-1 <= w_hat <= 1] from the derived cdf, symbolically for every a and at a = 1.
    f_hi = sp.simplify(symbolic.cdf().subs(symbolic.w_hat, 1))
    f_lo = sp.simplify(symbolic.cdf().subs(symbolic.w_hat, -1))
    mass = cdf(one, one) - cdf(-one, one)
    edge = symbolic.pdf_edge_weight()
    edge_1 = sp.lambdify(symbolic.a, edge, modules="mpmath")(one)
    codomain_ok = f_hi == 1 and f_lo == 0 and bool(edge.is_positive)
    # eq. (3) at w_hat = 0.3, b = 0.45, omega0 = 2 (a = 0.9), summed over |k| <= 40 periods:
    # the omitted terms are below e^{-2π·40/0.9} ~ 1e-121.
    y, b, w0 = mpmath.mpf("0.3"), mpmath.mpf("0.45"), mpmath.mpf(2)
    eq3 = printed_eq3_pdf(y, b=b, omega0=w0, periods=40)
    one_period = printed_eq3_pdf(y, b=b, omega0=w0, periods=0)
    derived = _derived("pdf")(y, b * w0)
    return [
        Erratum(
            id="codomain",
            statement="Ŵ ∈ [-1, 1]; the codomain of Ŵ is [-1, 1]",
            equation="text before eq. (3), text after Fig. 2",
            verdict="agrees" if codomain_ok and _agree(mass, 1) else "differs",
            what_differs="none: sin maps onto [-1, 1] (±1 at ω₀w = ±π/2 + 2πk); P[Ŵ = ±1] = 0, and "
            "the density is unbounded at ±1 for every a: √(1-ŵ²) f(ŵ) → 1/(2a sinh(π/(2a))) > 0",
            witness=f"derived cdf: F(1) = {f_hi}, F(-1) = {f_lo} for every a (SymPy); "
            f"√(1-ŵ²) f(ŵ) → {_fmt(edge_1)} as ŵ → ±1 at b = 1, ω₀ = 1",
            witness_value=float(mass),
            expected_value=1.0,
        ),
        Erratum(
            id="eq3",
            statement="f_Y(y) = Σ_{k=1}^{n} f_X(x_k)/|g'(x_k)| over the real roots of g(x) = y; "
            "sin is split into intervals of T/2 where it is strictly monotonic",
            equation="eq. (3)",
            verdict="agrees" if _agree(eq3, derived) else "differs",
            what_differs="none: for g = sin(ω₀·) the roots are countably many (n = ∞: w = (θ + 2πk)/ω₀ "
            "and (π - θ + 2πk)/ω₀, k ∈ ℤ, θ = arcsin ŵ) and the sum converges geometrically "
            "(ratio e^{-2π/(bω₀)}); sin(ω₀w) is strictly monotonic between consecutive zeros of "
            "cos(ω₀w), intervals of length T/2 = π/ω₀; '0 if g(x) ≠ y' stands for y outside the range of g",
            witness=f"eq. (3) over the roots with |k| ≤ 40 gives {_fmt(eq3)} at ŵ = 0.3, b = 0.45, ω₀ = 2 "
            f"(derived pdf: {_fmt(derived)}; the two roots with k = 0 alone: {_fmt(one_period)})",
            witness_value=float(eq3),
            expected_value=float(derived),
        ),
    ]


def _density_rows() -> list[Erratum]:
    b1 = mpmath.mpf(1)
    lap = _laplace(b1)
    printed_10 = mpmath.quad(lambda v: printed_laplace_density(v, b=b1), [-10, 0, 10])
    right_10 = mpmath.quad(lap, [-10, 0, 10])
    half_fixed = mpmath.quad(lambda v: mpmath.exp(-mpmath.fabs(v) / b1) / b1, [-mpmath.inf, 0, mpmath.inf])
    total = mpmath.quad(lap, [-mpmath.inf, 0, mpmath.inf])
    folded = mpmath.quad(lambda v: mpmath.exp(-v / b1) / b1, [0, mpmath.inf])
    return [
        Erratum(
            id="fW-sign",
            statement="f_W(w) = (1/b) exp(|w|/b)",
            equation="text before eq. (4)",
            verdict="agrees" if _agree(printed_10, right_10) else "differs",
            what_differs="exponent lacks its minus sign: exp(|w|/b) grows, so f_W is not a density "
            "(its integral diverges); the Laplace density has exp(-|w|/b)",
            witness=f"as printed, ∫_{{-10}}^{{10}} f_W dw = {_fmt(printed_10)} at b = 1 "
            f"(Laplace: {_fmt(right_10)}; grows without bound with the range)",
            witness_value=float(printed_10),
            expected_value=float(right_10),
        ),
        Erratum(
            id="fW-scale",
            statement="f_W(w) = (1/b) exp(|w|/b)",
            equation="text before eq. (4)",
            verdict="agrees" if _agree(half_fixed, total) else "differs",
            what_differs="prefactor 1/b should be 1/(2b); the slip does not propagate: eq. (4)'s "
            "1/(2bω₀) comes from 1/(2b), and eq. (6)'s (1/b)e^{-w/b} on [0, ∞) is 1/(2b)e^{-|w|/b} "
            "folded onto w ≥ 0 (folding the printed 1/b would give 2/b)",
            witness=f"with the sign restored, ∫ (1/b) exp(-|w|/b) dw = {_fmt(half_fixed)} at b = 1 "
            f"(should be {_fmt(total)}); eq. (6)'s (1/b)e^{{-w/b}} has mass {_fmt(folded)} on [0, ∞)",
            witness_value=float(half_fixed),
            expected_value=float(total),
        ),
    ]


def _pdf_rows() -> list[Erratum]:
    one = mpmath.mpf(1)
    mass = mpmath.quad(lambda y: printed_pdf(y, b=one, omega0=one), [-1, 0, 1])
    derived = _derived("pdf")
    right = mpmath.quad(lambda y: derived(y, one), [-1, 0, 1])
    # The same mass in closed form, from the printed terms: 1 - e^{-π/(2a)} + e^{-π/(2a)}/2.
    half_k = sp.Rational(1, 2) * sp.exp(-sp.pi / (2 * symbolic.a))
    missing = float(sp.N(half_k.subs(symbolic.a, 1), _DIGITS))
    return [
        Erratum(
            id="eq4-cosh",
            statement="f(ŵ) = e^{-|arcsin ŵ|/bω₀}/(2bω₀√(1-ŵ²)) "
            "+ cosh(arcsin ŵ/bω₀)/(2bω₀√(1-ŵ²)(e^{π/bω₀}-1))",
            equation="eq. (4)",
            verdict="agrees" if _agree(mass, right) else "differs",
            what_differs="the cosh term needs coefficient 2: the arcsin branches other than x = θ "
            "sum to 2cosh(θ/a)/(e^{π/a} - 1) (θ = arcsin|ŵ|); as printed the density misses "
            f"mass e^{{-π/(2a)}}/2 ({_fmt(missing, 7)} at a = 1)",
            witness=f"as printed, ∫_{{-1}}^{{1}} pdf dŵ = {_fmt(mass)} at b = 1, ω₀ = 1 "
            f"(derived pdf: {_fmt(right)})",
            witness_value=float(mass),
            expected_value=float(right),
        )
    ]


def _slash_row() -> Erratum:
    b, w0 = mpmath.mpf("0.5"), mpmath.mpf(2)
    ltr = printed_gamma_eq8(b=b, omega0=w0, reading="left-to-right")
    right = _derived("optimal_gamma")(b * w0)
    return Erratum(
        id="slash",
        statement="e^{π/bω₀} (eq. 4), e^{π/ω₀b} (eqs. 7-8)",
        equation="eqs. (4), (7), (8)",
        verdict="ambiguous as printed",
        what_differs="inline π/bω₀ read as π/(bω₀); read left to right (πω₀/b, πb/ω₀) the results "
        "would not depend on bω₀ alone and γ could exceed 1 > E|ŵ|, so only π/(bω₀) is admissible",
        witness=f"eq. (8) read left to right gives γ = {_fmt(ltr)} > 1 at b = 0.5, ω₀ = 2 "
        f"(derived γ* = {_fmt(right)})",
        witness_value=float(ltr),
        expected_value=float(right),
        aspect="typesetting",
    )


def _fig2_rows() -> list[Erratum]:
    cdf = _derived("cdf")
    y = mpmath.mpf("0.9")
    bs = ("0.5", "2", "20", "1e4")  # Fig. 2 uses ω₀ = 1, so a = b
    tails = [1 - cdf(y, mpmath.mpf(v)) + cdf(-y, mpmath.mpf(v)) for v in bs]  # P[|w_hat| > 0.9]
    arcsine = 1 - 2 * mpmath.asin(y) / mpmath.pi  # the same for the arcsine law
    lim = symbolic.limits()
    arcsine_ok = (
        sp.simplify(lim["pdf_large"] - 1 / sp.pi) == 0 and tails[0] < tails[1] < tails[2] < tails[3] < arcsine
    )
    # b and omega0 separately, through eq. (3) itself (which does not reduce to a = b·omega0):
    wh = mpmath.mpf("0.6")
    by_b = printed_eq3_pdf(wh, b=mpmath.mpf(2), omega0=mpmath.mpf(1))
    by_w = printed_eq3_pdf(wh, b=mpmath.mpf(1), omega0=mpmath.mpf(2))
    only_a = symbolic.scaled_density().free_symbols == {symbolic.x, symbolic.a}
    # QE* of eq. (5) against the scale-free QE*/E w_hat², at a = 0.3, a*, 20.
    qe, m2 = _derived("qe_star"), _derived("second_moment")
    a_star, _ = symbolic.peak(_DIGITS)
    pts = [mpmath.mpf("0.3"), a_star, mpmath.mpf(20)]
    q = [qe(v) for v in pts]
    nq = [qe(v) / m2(v) for v in pts]
    leading = lim["qe_star_small"].removeO() / lim["second_moment_small"].removeO()
    laplace_nq = sp.limit(leading, symbolic.a, 0)  # QE*/E w_hat² at a -> 0: 1/2
    normalized_falls = nq[0] > nq[1] > nq[2] and nq[0] < laplace_nq
    absolute_falls = q[0] > q[1]
    qe_verdict: Verdict = (
        "agrees"
        if normalized_falls and absolute_falls
        else "ambiguous as printed"
        if normalized_falls != absolute_falls
        else "differs"
    )
    floor = mpmath.mpf(sp.N(lim["qe_star_large"], _DIGITS))
    nq_large = floor / mpmath.mpf(sp.N(lim["second_moment_large"], _DIGITS))  # 1 - 8/π²
    return [
        Erratum(
            id="fig2-arcsine",
            statement="when b increases the pdf of ŵ behaves as an arcsin distribution with values "
            "concentrated around -1 and 1",
            equation="text after Fig. 2",
            verdict="agrees" if arcsine_ok else "differs",
            what_differs="none: as a = bω₀ → ∞, √(1-ŵ²) f(ŵ) → 1/π (SymPy limit), the arcsine law, and "
            "the mass near ±1 grows with b towards the arcsine value",
            witness=f"P[|ŵ| > 0.9] = {', '.join(_fmt(t, 6) for t in tails)} at b = {', '.join(bs)} "
            f"(ω₀ = 1); arcsine law: {_fmt(arcsine, 6)}",
            witness_value=float(tails[-1]),
            expected_value=float(arcsine),
        ),
        Erratum(
            id="fig2-frequency",
            statement="a similar behavior occurs when the frequency value increases for a fixed b",
            equation="text after Fig. 2",
            verdict="agrees" if only_a and _agree(by_b, by_w) else "differs",
            what_differs="none, exactly: the law of ŵ depends on b and ω₀ only through a = bω₀ (SymPy: "
            "ω₀ cancels in the density of ω₀W), so raising ω₀ at fixed b is raising b at fixed ω₀",
            witness=f"eq. (3) at ŵ = 0.6 gives {_fmt(by_b)} at b = 2, ω₀ = 1 "
            f"and {_fmt(by_w)} at b = 1, ω₀ = 2",
            witness_value=float(by_w),
            expected_value=float(by_b),
        ),
        Erratum(
            id="fig2-qe",
            statement="[the arcsine-like law as b or ω₀ grows] reduces the quantization error in "
            "comparison to the Laplacian distribution",
            equation="text after Fig. 2",
            verdict=qe_verdict,
            what_differs=f"true for the scale-free error QE*/E ŵ², which falls with a = bω₀ from "
            f"{laplace_nq} (a → 0, where ŵ ≈ ω₀w is Laplacian) to {_fmt(nq_large, 4)}; not for the QE "
            f"of eq. (5) that the text goes on to analyse: QE* ≈ a² grows with b and with ω₀ up to "
            f"a* ≈ {_fmt(a_star, 6)} and stays above its limit {_fmt(floor, 6)} after",
            witness=f"at a = 0.3, a*, 20: QE* = {', '.join(_fmt(v, 4) for v in q)} but "
            f"QE*/E ŵ² = {', '.join(_fmt(v, 4) for v in nq)}",
            witness_value=float(q[1]),
            expected_value=float(q[0]),
        ),
    ]


def _qe_rows() -> list[Erratum]:
    b, w0, g = mpmath.mpf("0.25"), mpmath.mpf(4), mpmath.mpf("0.5")
    a_val = b * w0
    qe = _derived("quantization_error")(a_val, g)
    lap = _laplace(b)
    span = 80 * b  # e^{-80} < 1e-34: the truncated tail is below the working precision
    eq5 = _quad_half_periods(
        lambda v: printed_qe_eq5_integrand(v, b=b, omega0=w0, gamma=g, density=lap),
        mpmath.pi / w0, span, both_sides=True,
    )  # fmt: skip
    eq6 = _quad_half_periods(
        lambda v: printed_qe_eq6_integrand(v, b=b, omega0=w0, gamma=g), mpmath.pi / w0, span, both_sides=False
    )
    eq7 = printed_qe_eq7(b=b, omega0=w0, gamma=g)
    eq8 = printed_gamma_eq8(b=b, omega0=w0)
    g_star = _derived("optimal_gamma")(a_val)
    # Symbolic proofs: the printed eqs. (7), (8) with b·ω₀ = a minus the derivation.
    bs, ws = sp.symbols("b omega0", positive=True)
    eq7_sym = printed_qe_eq7(b=bs, omega0=ws, gamma=symbolic.gamma, lib="sympy")
    eq8_sym = printed_gamma_eq8(b=bs, omega0=ws, lib="sympy")
    to_a = {bs: symbolic.a / ws}
    eq7_proof = sp.simplify((eq7_sym.subs(to_a) - symbolic.quantization_error()).rewrite(sp.exp)) == 0
    eq8_proof = sp.simplify((eq8_sym.subs(to_a) - symbolic.optimal_gamma()).rewrite(sp.exp)) == 0
    stray = printed_gamma_eq8(b=mpmath.mpf(1), omega0=mpmath.mpf(1), reading="stray-parenthesis")
    g1 = _derived("optimal_gamma")(mpmath.mpf(1))
    at = "at b = 0.25, ω₀ = 4, γ = 0.5"
    return [
        Erratum(
            id="eq5",
            statement="QE = ∫ f_W(w) (sin(ω₀w) - γ sign(sin(ω₀w)))² dw",
            equation="eq. (5)",
            verdict="agrees" if _agree(eq5, qe) else "differs",
            what_differs="none with the Laplace density for f_W (with f_W as printed the integral diverges)",
            witness=f"eq. (5) by quadrature = {_fmt(eq5)} {at} (derived QE(γ) = {_fmt(qe)})",
            witness_value=float(eq5),
            expected_value=float(qe),
        ),
        Erratum(
            id="eq6",
            statement="QE = ∫_0^∞ (1/b) exp(-w/b) (|sin(ω₀w)| - γ)² dw",
            equation="eq. (6)",
            verdict="agrees" if _agree(eq6, qe) else "differs",
            what_differs="none: folding the even integrand onto w ≥ 0 doubles 1/(2b) to 1/b, and "
            "(s - γ sign s)² = (|s| - γ)²",
            witness=f"eq. (6) by quadrature = {_fmt(eq6)} {at} (derived QE(γ) = {_fmt(qe)})",
            witness_value=float(eq6),
            expected_value=float(qe),
        ),
        Erratum(
            id="eq7",
            statement="QE = 2(ω₀b)²/(4(ω₀b)²+1) - 2γω₀b(e^{π/ω₀b}+1) / [(ω₀b)²+1)(e^{π/ω₀b}-1)] + γ² "
            "([ ] marks the fraction bar)",
            equation="eq. (7)",
            verdict="agrees" if eq7_proof and _agree(eq7, qe) else "differs",
            what_differs="none, read with the missing '(' restored: ((ω₀b)²+1)(e^{π/ω₀b}-1); "
            + _proof_note(eq7_proof),
            witness=f"as printed (parenthesis restored), QE = {_fmt(eq7)} {at} (derived {_fmt(qe)})",
            witness_value=float(eq7),
            expected_value=float(qe),
        ),
        Erratum(
            id="eq7-8-paren",
            statement="denominator '(ω₀b)² + 1)(e^{π/ω₀b} - 1)' (one ')' unmatched)",
            equation="eqs. (7), (8)",
            verdict="ambiguous as printed",
            what_differs="read as ((ω₀b)²+1)(e^{π/ω₀b}-1); deleting the stray ')' instead gives "
            "(ω₀b)² + e^{π/ω₀b} - 1, which yields γ > 1 ≥ E|ŵ|, so that reading is excluded",
            witness=f"eq. (8) with the ')' deleted gives γ = {_fmt(stray)} > 1 at b = 1, ω₀ = 1 "
            f"(derived γ* = {_fmt(g1)})",
            witness_value=float(stray),
            expected_value=float(g1),
            aspect="typesetting",
        ),
        Erratum(
            id="eq8",
            statement="γ = E|sin(ω₀w)| = ω₀b(e^{π/ω₀b}+1) / [(ω₀b)²+1)(e^{π/ω₀b}-1)] "
            "([ ] marks the fraction bar)",
            equation="eq. (8)",
            verdict="agrees" if eq8_proof and _agree(eq8, g_star) else "differs",
            what_differs="none, read as in eq. (7): γ* = E|ŵ| = a/(1+a²)·coth(π/(2a)), the root of "
            "dQE/dγ = 0; " + _proof_note(eq8_proof),
            witness=f"as printed (parenthesis restored), γ = {_fmt(eq8)} at b = 0.25, ω₀ = 4 "
            f"(derived γ* = {_fmt(g_star)})",
            witness_value=float(eq8),
            expected_value=float(g_star),
        ),
    ]


def _peak_rows() -> list[Erratum]:
    a_star, q_star = symbolic.peak(_DIGITS)
    # "Agrees" means the derived value rounds to the printed one at the printed precision.
    ok_q = abs(q_star - mpmath.mpf(PRINTED_PEAK_QE)) <= mpmath.mpf("5e-7")
    ok_a = abs(a_star - mpmath.mpf(PRINTED_PEAK_A)) <= mpmath.mpf("5e-7")
    return [
        Erratum(
            id="peak-value",
            statement=f"maximum QE is {PRINTED_PEAK_QE}",
            equation="text after eq. (8)",
            verdict="agrees" if ok_q else "differs",
            what_differs="none: the maximum over a of QE* = E ŵ² - γ*² rounds to the printed value",
            witness=f"QE*(a*) = {_fmt(q_star, 16)} (root of dQE*/da at 30 digits); printed {PRINTED_PEAK_QE}",
            witness_value=PRINTED_PEAK_QE,
            expected_value=float(q_star),
        ),
        Erratum(
            id="peak-location",
            statement=f"maximum occurs at bω₀ ≈ {PRINTED_PEAK_A}",
            equation="text after eq. (8)",
            verdict="agrees" if ok_a else "differs",
            what_differs="none: the root a* of dQE*/da = 0 rounds to the printed value",
            witness=f"a* = {_fmt(a_star, 16)} (nsolve at 30 digits); printed {PRINTED_PEAK_A}",
            witness_value=PRINTED_PEAK_A,
            expected_value=float(a_star),
        ),
        _reduce_row(a_star, q_star),
    ]


def _reduce_row(a_star: Any, q_star: Any) -> Erratum:
    qe = _derived("qe_star")
    lim = symbolic.limits()
    floor = mpmath.mpf(sp.N(lim["qe_star_large"], _DIGITS))
    # QE* = floor + c/a² + O(1/a⁴) at a → ∞ (SymPy series): c > 0, so QE* approaches from above.
    c = lim["qe_star_large_series"].removeO().coeff(symbolic.a, -2)
    c_val = mpmath.mpf(sp.N(c, _DIGITS))
    small, mid, large = (qe(mpmath.mpf(v)) for v in ("0.1", "20", "1000"))
    ok = small < q_star and floor < large < mid < q_star and c_val > 0
    drop = (q_star - floor) / q_star
    return Erratum(
        id="qe-reduce",
        statement="[the maximum QE] can be reduced by varying the frequency",
        equation="text after eq. (8)",
        verdict="agrees" if ok else "differs",
        what_differs=f"none, but not symmetrically: raising ω₀ lowers QE* only towards its limit "
        f"{sp.sstr(lim['qe_star_large'])} = {_fmt(floor, 6)}, approached from above (QE* = limit + "
        f"({sp.sstr(sp.simplify(c))})/a² + O(1/a⁴), SymPy; the coefficient is {_fmt(c_val, 4)}), i.e. "
        f"by at most {_fmt(100 * drop, 2)}% of the maximum; only lowering ω₀ (QE* ≈ a² as a → 0) drives "
        f"it towards 0",
        witness=f"QE* = {_fmt(mid)}, {_fmt(large)} at a = 20, 1000 (limit {_fmt(floor)}); "
        f"QE* = {_fmt(small)} at a = 0.1",
        witness_value=float(large),
        expected_value=float(floor),
    )


def _float64_rows() -> list[Erratum]:
    log_max = math.log(_DBL_MAX)
    # eq. (8) in float64: (e^{π/a}+1)/(e^{π/a}-1) is inf/inf = NaN once e^{π/a} overflows.
    t8 = float64_nan_threshold(lambda v: printed_gamma_eq8(b=v, omega0=1.0, lib="numpy"), 1e-4, 1.0)
    t8_pred = math.pi / log_max
    g_at = float(_derived("optimal_gamma")(mpmath.mpf(t8)))
    # eq. (8) at large a, in IEEE double (mpmath at 53 bits rounds every operation exactly as
    # IEEE round-to-nearest does, so the witness is the same on every platform): e^{π/a} - 1
    # cancels, losing about log10(a/π) digits.
    big = 1e6
    with mpmath.workprec(53):
        gd = printed_gamma_eq8(b=mpmath.mpf(big), omega0=mpmath.mpf(1), lib="mpmath")
        gd = +gd
    with mpmath.workdps(_DIGITS):
        g_big = _derived("optimal_gamma")(mpmath.mpf(big))
        rel = float(abs(gd - g_big) / g_big)
    # eq. (4) in float64: cosh(θ/a)·1/(e^{π/a}-1) is inf·0 = NaN once cosh overflows.
    y = 0.999
    t4 = float64_nan_threshold(lambda v: printed_pdf(y, b=v, omega0=1.0, lib="numpy"), 1e-5, 1.0)
    # Predicted: (1/(2a√(1-y²)))·cosh(θ/a) ≈ e^{θ/a}/(4a√(1-y²)) passes DBL_MAX (the product
    # overflows first; it is then multiplied by 1/(e^{π/a}-1) = 0).
    th, root = mpmath.asin(mpmath.mpf(y)), mpmath.sqrt(1 - mpmath.mpf(y) ** 2)
    with mpmath.workdps(_DIGITS):
        t4_pred = float(
            mpmath.findroot(
                lambda v: th / v - mpmath.log(4 * v * root) - mpmath.log(_DBL_MAX), mpmath.mpf(t4)
            )
        )
    return [
        Erratum(
            id="eq8-overflow",
            statement="(e^{π/ω₀b}+1)/(e^{π/ω₀b}-1) in eqs. (7), (8), evaluated in float64",
            equation="eqs. (7), (8)",
            verdict="differs",
            what_differs="e^{π/a} overflows and the ratio is inf/inf = NaN for a below π/ln(DBL_MAX); "
            "coth(π/(2a)) or 1/tanh(π/(2a)) is finite for every a > 0",
            witness=f"printed (8) in float64 is NaN for every a ≤ {_fmt(t8, 8)} (predicted π/ln(DBL_MAX) = "
            f"{_fmt(t8_pred, 8)}), where γ* ≈ {_fmt(g_at, 4)}",
            witness_value=t8,
            expected_value=t8_pred,
            aspect="float64",
        ),
        Erratum(
            id="eq8-cancellation",
            statement="(e^{π/ω₀b}+1)/(e^{π/ω₀b}-1) in eqs. (7), (8), evaluated in float64",
            equation="eqs. (7), (8)",
            verdict="differs",
            what_differs="e^{π/a} - 1 cancels at large a, losing about log10(a/π) digits; "
            "tanh(π/(2a)) (or expm1) keeps full precision",
            witness=f"in IEEE double, printed (8) at a = 1e6 has relative error {_fmt(rel, 2)} "
            f"(γ* = {_fmt(g_big, 16)})",
            witness_value=float(gd),
            expected_value=float(g_big),
            aspect="float64",
        ),
        Erratum(
            id="eq4-overflow",
            statement="cosh(arcsin ŵ/bω₀)/(e^{π/bω₀}-1) in eq. (4), evaluated in float64",
            equation="eq. (4)",
            verdict="differs",
            what_differs="at small a, cosh(θ/a)/(2a√(1-ŵ²)) overflows while 1/(e^{π/a}-1) is 0, so the "
            "term is inf·0 = NaN; written as e^{-(π∓θ)/a}/(1-e^{-π/a}) it stays finite",
            witness=f"printed (4) in float64 at ŵ = {y} is NaN for every a ≤ {_fmt(t4, 8)} (predicted from "
            f"e^{{θ/a}}/(4a√(1-ŵ²)) = DBL_MAX: {_fmt(t4_pred, 8)})",
            witness_value=t4,
            expected_value=t4_pred,
            aspect="float64",
        ),
    ]


@functools.lru_cache(maxsize=1)
def _errata() -> tuple[Erratum, ...]:
    with mpmath.workdps(_DIGITS):
        rows = [
            *_transformation_rows(), *_density_rows(), *_pdf_rows(), _slash_row(), *_fig2_rows(),
            *_qe_rows(), *_peak_rows(),
        ]  # fmt: skip
    return (*rows, *_float64_rows())


def errata() -> list[Erratum]:
    r"""Every printed statement of §2.1 compared with the derivation (computed, then cached).

    Returns
    -------
    list of Erratum
        In the order of the paper: the codomain of :math:`\hat w`, eq. (3), the density
        :math:`f_W`, eq. (4), the reading of the inline fractions, the claims of the text
        after Fig. 2, eqs. (5)–(8) and their parenthesis, the quoted maximum and its
        reduction by the frequency, then the float64 defects of the printed forms.
    """
    return list(_errata())


def _md(text: str) -> str:
    for ch in ("\\", "|", "*", "_"):
        text = text.replace(ch, "\\" + ch)
    return text


def errata_table(fmt: str = "text") -> str:
    """The errata as ``"text"`` (one block per row), ``"markdown"`` (a table) or ``"json"``.

    Raises ``ValueError`` for any other ``fmt``. No trailing newline.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    rows = errata()
    if fmt == "json":
        return json.dumps([dataclasses.asdict(r) for r in rows], indent=2, ensure_ascii=False)
    if fmt == "markdown":
        head = ["id", "where", "as printed", "verdict", "what differs", "witness"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for r in rows:
            cells = [r.id, r.equation, r.statement, r.verdict, r.what_differs, r.witness]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
        return "\n".join(lines)
    blocks = []
    for r in rows:
        blocks.append(
            "\n".join(
                [
                    f"[{r.id}] {r.equation}: {r.verdict} ({r.aspect})",
                    f"  as printed:   {r.statement}",
                    f"  what differs: {r.what_differs}",
                    f"  witness:      {r.witness}",
                ]
            )
        )
    return "\n\n".join(blocks)
