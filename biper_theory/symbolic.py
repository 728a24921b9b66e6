r"""SymPy derivations of every closed form, from the definitions only.

The only inputs are the definitions of Vargas et al. (2024), §2.1:

* the Laplace density :math:`f_W(w) = \frac{1}{2b} e^{-|w|/b}` of a latent weight;
* the surrogate :math:`\hat w = \sin(\omega_0 w)`;
* the quantization error :math:`QE(\gamma) = E[(\hat w - \gamma\,\mathrm{sign}\,\hat w)^2]`.

From them this module derives, with SymPy, the law of :math:`\hat w` (pdf by the
transformation method, cdf by integrating it), its moments, the optimal scale
:math:`\gamma^*`, the optimal error :math:`QE^*`, its peak over :math:`a = b\omega_0`, the
limits :math:`a\to0` and :math:`a\to\infty`, the sign-flip probability and the L1 error.
Each derivation is a function returning a SymPy expression (cached; SymPy expressions are
immutable), so it can be used from a notebook. Nothing here is transcribed from
:mod:`biper_theory.closed_form`: :func:`check_against_closed_form` compares the two,
symbolically against the formulas ``closed_form`` documents and numerically against what
it evaluates.

Where SymPy needs help, the step is done explicitly and a comment says why: the infinite
geometric series (SymPy cannot decide :math:`e^{-\pi/a} < 1` and leaves the sum
unevaluated), the sign of :math:`\sin u` inside a half-period (SymPy cannot know
:math:`0 < u < \pi`), the signs of the arcsin branches of the transformation method, the substitution
:math:`s = \sin\theta` in the cdf integral, and the exponentially small term of
:math:`\coth(\pi/(2a))` in the series at :math:`a = 0` (an essential singularity).

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import numpy as np
import sympy as sp

__all__ = [
    "a",
    "b",
    "omega0",
    "w",
    "x",
    "w_hat",
    "gamma",
    "theta",
    "Check",
    "laplace_density",
    "scaled_density",
    "second_moment",
    "half_period_term",
    "half_period_integral",
    "geometric_sum",
    "abs_moment",
    "pdf_branches",
    "pdf",
    "cdf",
    "quantization_error",
    "optimal_gamma",
    "qe_star",
    "stationarity",
    "peak",
    "limits",
    "pdf_edge_weight",
    "sign_flip_probability",
    "l1_error",
    "reference_forms",
    "check_against_closed_form",
]

#: :math:`a = b\omega_0`, the only parameter the law of :math:`\hat w` depends on.
a = sp.Symbol("a", positive=True)
#: Laplace scale of the latent weights.
b = sp.Symbol("b", positive=True)
#: Frequency of the binary periodic function.
omega0 = sp.Symbol("omega0", positive=True)
#: Latent weight.
w = sp.Symbol("w", real=True)
#: :math:`x = \omega_0 w`, the phase; :math:`X = \omega_0 W \sim \mathrm{Laplace}(0, a)`.
x = sp.Symbol("x", real=True)
#: :math:`\hat w = \sin(\omega_0 w)`, the value whose law is derived.
w_hat = sp.Symbol("w_hat", real=True)
#: The scale of the binarized weight, :math:`\gamma\,\mathrm{sign}\,\hat w`.
gamma = sp.Symbol("gamma", real=True)
#: :math:`\theta = \arcsin|\hat w| \in [0, \pi/2]`, the principal branch (positive symbol).
theta = sp.Symbol("theta", positive=True)

_u = sp.Symbol("u", positive=True)  # position inside one half-period, u in (0, pi)
_k = sp.Symbol("k", integer=True, nonnegative=True)  # period index k >= 0
_m = sp.Symbol("m", integer=True, positive=True)  # period index k = -m < 0
_rho = sp.Symbol("rho", positive=True)  # ratio of a geometric series
_y = sp.Symbol("y", positive=True)  # |w_hat| in (0, 1) inside the transformation method


# ----------------------------------------------------------------------------------------
# Definitions
# ----------------------------------------------------------------------------------------


@functools.cache
def laplace_density() -> sp.Expr:
    r"""The Laplace density :math:`f_W(w) = \frac{1}{2b} e^{-|w|/b}`, in ``w`` and ``b``.

    Definition of §2.1 of Vargas et al. (2024) (printed there without the minus sign and
    without the 1/2; see :mod:`biper_theory.errata`).
    """
    return sp.exp(-sp.Abs(w) / b) / (2 * b)


@functools.cache
def scaled_density() -> sp.Expr:
    r"""Density of the phase :math:`X = \omega_0 W`: :math:`\frac{1}{2a} e^{-|x|/a}`, in ``x``, ``a``.

    Not in the paper. Change of variables :math:`w = x/\omega_0`,
    :math:`f_X(x) = f_W(x/\omega_0)\,|dw/dx|`, then :math:`b = a/\omega_0`: from here on
    everything depends on :math:`a` only.
    """
    fx = laplace_density().subs(w, x / omega0) * sp.Abs(sp.diff(x / omega0, x))
    return sp.simplify(fx.subs(b, a / omega0))


# ----------------------------------------------------------------------------------------
# Moments
# ----------------------------------------------------------------------------------------


@functools.cache
def second_moment() -> sp.Expr:
    r""":math:`E\hat w^2 = \int f_X(x)\sin^2 x\,dx = 2a^2/(1+4a^2)`, by integration.

    First term of eq. (7) of Vargas et al. (2024). The integrand is even, so the integral
    over the real line is twice the one over :math:`[0, \infty)`, where :math:`|x| = x`.
    """
    half_line = scaled_density().subs(sp.Abs(x), x)
    return sp.simplify(2 * sp.integrate(half_line * sp.sin(x) ** 2, (x, 0, sp.oo)))


@functools.cache
def half_period_term(weight: str = "abs") -> tuple[sp.Expr, sp.Expr]:
    r"""The k-th half-period of :math:`\int_0^\infty e^{-x/a} h(x)\,dx`, split into two factors.

    Not in the paper. ``weight="abs"`` is :math:`h(x) = |\sin x|` (for :math:`E|\hat w|`),
    ``weight="l1"`` is :math:`h(x) = |\sin x - \mathrm{sign}\sin x|` (for
    :math:`E|\hat w - \mathrm{sign}\,\hat w|`). Substituting :math:`x = k\pi + u`,
    :math:`u\in(0,\pi)`, SymPy rewrites :math:`\sin(k\pi+u) = (-1)^k\sin u`; the factor
    depending on :math:`k` is split off and checked to be free of :math:`u`.

    Returns
    -------
    (factor, integrand) : tuple of sympy.Expr
        ``factor`` in ``k`` and ``a`` (it is :math:`e^{-k\pi/a}`) and ``integrand`` in ``u``
        and ``a`` (:math:`e^{-u/a}\sin u`, resp. :math:`e^{-u/a}(1-\sin u)`), whose
        product is the integrand on the k-th half-period.
    """
    sx = sp.sin(x)
    h = {"abs": sp.Abs(sx), "l1": sp.Abs(sx - sp.sign(sx))}
    if weight not in h:
        raise ValueError(f"weight must be 'abs' or 'l1'; got {weight!r}")
    shifted = (sp.exp(-x / a) * h[weight]).subs(x, _k * sp.pi + _u)
    # SymPy cannot know u < π, i.e. that sin u ∈ (0, 1] on the half-period, so sin u is
    # replaced by a positive symbol s (then |(-1)^k s| = s and sign((-1)^k s) = (-1)^k
    # follow) and |s - 1| = 1 - s is substituted by hand (s <= 1).
    s = sp.Symbol("s", positive=True)
    reduced = sp.simplify(shifted.subs(sp.sin(_u), s))
    reduced = sp.simplify(reduced.subs(sp.Abs(s - 1), 1 - s)).subs(s, sp.sin(_u))
    factor = sp.exp(-_k * sp.pi / a)
    integrand = sp.simplify(sp.powsimp(sp.expand(reduced / factor), force=True))
    if integrand.has(_k) or integrand.has(sp.Abs) or integrand.has(sp.sign):  # pragma: no cover
        raise ArithmeticError(f"half-period integrand not reduced: {integrand}")
    return factor, integrand


@functools.cache
def half_period_integral(weight: str = "abs") -> sp.Expr:
    r"""One half-period: :math:`\int_0^\pi e^{-u/a} h(u)\,du`, ``h`` from :func:`half_period_term`.

    Not in the paper. Every half-period contributes this integral times the factor
    :math:`e^{-k\pi/a}` of :func:`half_period_term`; ``weight`` as there (``"abs"`` or ``"l1"``).
    """
    _, integrand = half_period_term(weight)
    return sp.simplify(sp.integrate(integrand, (_u, 0, sp.pi)))


def geometric_sum(term: sp.Expr, index: sp.Symbol, start: int) -> sp.Expr:
    r"""Closed form of :math:`\sum_{k\ge\mathrm{start}} c\,\rho^k` for a term of that shape.

    Not in the paper. ``sp.summation`` of :math:`e^{-k\pi/a}` comes back unevaluated,
    and with the ratio as a symbol it returns a ``Piecewise`` guarded by :math:`\rho<1`,
    which SymPy cannot decide for :math:`\rho = e^{-\pi/a}`. So the step is done
    explicitly: the ratio :math:`\rho` of consecutive terms is computed and checked to be
    independent of the index, the series is summed by ``sp.summation`` in a positive symbol
    (taking the branch for :math:`\rho<1`), and :math:`\rho<1` is proved for the actual
    ratio from :math:`-\log\rho > 0`.
    """
    ratio = sp.simplify(sp.powsimp(term.subs(index, index + 1) / term, force=True))
    if ratio.has(index):
        raise ValueError(f"term is not geometric in {index}: ratio {ratio}")
    if not sp.simplify(-sp.log(ratio)).is_positive:
        raise ValueError(f"cannot prove the ratio {ratio} lies in (0, 1)")
    first = term.subs(index, start)
    series = sp.summation(_rho**_k, (_k, 0, sp.oo))  # Piecewise((1/(1 - rho), rho < 1), ...)
    convergent = next(expr for expr, cond in series.args if cond == (_rho < 1))
    return first * convergent.subs(_rho, ratio)


@functools.cache
def abs_moment() -> sp.Expr:
    r""":math:`E|\hat w| = \frac{a}{1+a^2}\coth\frac{\pi}{2a}`, by summing half-periods.

    Eq. (8) of Vargas et al. (2024). By symmetry :math:`E|\sin X| = \frac1a\int_0^\infty
    e^{-x/a}|\sin x|\,dx = \frac1a\sum_{k\ge0} e^{-k\pi/a} I`, with :math:`I` the
    half-period integral of :func:`half_period_integral` and the factor :math:`e^{-k\pi/a}` of
    :func:`half_period_term`; the sum is geometric.
    """
    factor, _ = half_period_term("abs")
    total = geometric_sum(factor * half_period_integral("abs"), _k, 0)
    return sp.simplify(total / a)


# ----------------------------------------------------------------------------------------
# Law of w_hat: transformation method
# ----------------------------------------------------------------------------------------


@functools.cache
def pdf_branches() -> dict[str, sp.Expr]:
    r"""The four families of arcsin branches and their sums, for :math:`\hat w = y \in (0, 1)`.

    Not in the paper as such (eq. (3)–(4) of Vargas et al., 2024, state the method). With
    :math:`\theta = \arcsin y\in(0,\pi/2)`, the solutions of :math:`\sin x = y` are
    :math:`x = \theta + 2\pi k` and :math:`x = \pi - \theta + 2\pi k`, :math:`k\in\mathbb Z`.
    For :math:`k\ge0` both are positive, so :math:`|x| = x`; for :math:`k = -m<0` both are
    negative, so :math:`|x| = 2\pi m - \theta` and :math:`2\pi m - \pi + \theta` (the signs
    are decided by SymPy, see the comment in the code). Each branch has density
    :math:`e^{-|x|/a}/(2a)` and Jacobian :math:`1/\sqrt{1-y^2}`.

    Returns a dict with the branch maps (``"x_up"``, ``"x_down"``), the ``"jacobian"``, the
    moduli ``"|x| up_k>=0"``, ... of the four families, and the four sums ``"up_k>=0"``,
    ``"down_k>=0"``, ``"up_k<0"``, ``"down_k<0"`` of :math:`e^{-|x|/a}` (without the common
    factor :math:`1/(2a\sqrt{1-y^2})`).
    """
    k = sp.Symbol("k", integer=True)
    t0 = sp.asin(_y)
    x_up = t0 + 2 * sp.pi * k  # sin increasing through x_up
    x_down = sp.pi - t0 + 2 * sp.pi * k  # sin decreasing through x_down
    d_up, d_down = sp.diff(x_up, _y), sp.diff(x_down, _y)
    # |dx/dy|: d_up = 1/sqrt(1-y²) and d_down = -1/sqrt(1-y²); SymPy cannot take Abs
    # of a square root it does not know is real, so the two are checked to be ±1/sqrt(1-y²).
    jac = 1 / sp.sqrt(1 - _y**2)
    if sp.simplify(d_up - jac) != 0 or sp.simplify(d_down + jac) != 0:  # pragma: no cover
        raise ArithmeticError("unexpected Jacobian of an arcsin branch")
    # |x| on each family, in terms of theta (positive symbol), for k >= 0 and for k = -m < 0.
    # Each branch is linear in theta in [0, pi/2], so its sign there is the common sign of
    # its values at the two ends; SymPy decides those (with m = 1 + n, n >= 0: it does not
    # use m >= 1 by itself). The sign is derived, not typed in.
    n = sp.Symbol("n", integer=True, nonnegative=True)
    abs_x: dict[str, tuple[sp.Expr, sp.Symbol]] = {}
    for fam, xb in (("up", x_up), ("down", x_down)):
        xt = xb.subs(t0, theta)
        for side, kk, idx in (("k>=0", _k, _k), ("k<0", -_m, _m)):
            branch = sp.expand(xt.subs(k, kk))
            ends = [sp.expand(branch.subs({theta: end, _m: 1 + n})) for end in (0, sp.pi / 2)]
            if all(e.is_nonnegative for e in ends):
                abs_x[f"{fam}_{side}"] = (branch, idx)
            elif all(e.is_nonpositive for e in ends):
                abs_x[f"{fam}_{side}"] = (-branch, idx)
            else:  # pragma: no cover
                raise ArithmeticError(f"cannot decide the sign of the branch {branch}")
    sums = {
        name: sp.simplify(geometric_sum(sp.exp(-ax / a), idx, 0 if idx == _k else 1))
        for name, (ax, idx) in abs_x.items()
    }
    moduli = {f"|x| {name}": ax for name, (ax, _) in abs_x.items()}
    return {"x_up": x_up, "x_down": x_down, "jacobian": jac, **moduli, **sums}


@functools.cache
def _pdf_in_theta() -> sp.Expr:
    """Density of w_hat times sqrt(1 - w_hat²), as a function of theta = arcsin|w_hat|."""
    br = pdf_branches()
    total = br["up_k>=0"] + br["down_k>=0"] + br["up_k<0"] + br["down_k<0"]
    return sp.simplify(total / (2 * a))


@functools.cache
def pdf() -> sp.Expr:
    r"""Density of :math:`\hat w` on :math:`(-1, 1)`, in ``w_hat`` and ``a``.

    Corrected eq. (4) of Vargas et al. (2024). The sum over all branches of
    :func:`pdf_branches`, divided by :math:`2a\sqrt{1-\hat w^2}`, with
    :math:`\theta = \arcsin|\hat w|`: for :math:`\hat w<0` the branches are the mirror
    images of those of :math:`|\hat w|` and the Laplace density is even, so the same sum
    holds with :math:`|\hat w|`.
    """
    return _pdf_in_theta().subs(theta, sp.asin(sp.Abs(w_hat))) / sp.sqrt(1 - w_hat**2)


@functools.cache
def _central_mass() -> sp.Expr:
    r"""P[0 < w_hat <= sin(theta)] as a function of theta, by integrating the pdf."""
    # ∫_0^y f(s) ds with s = sin φ, ds = sqrt(1 - s²) dφ: the Jacobian cancels the
    # 1/sqrt(1 - s²) of the pdf, leaving exponentials SymPy integrates at once (it does not
    # find this substitution by itself in reasonable time).
    phi = sp.Symbol("phi", positive=True)
    return sp.simplify(sp.integrate(_pdf_in_theta().subs(theta, phi), (phi, 0, theta)))


@functools.cache
def cdf() -> sp.Expr:
    r"""Distribution function :math:`P[\hat w \le y]` on :math:`[-1, 1]`, in ``w_hat`` and ``a``.

    Not in the paper. :math:`F(y) = \tfrac12 + \int_0^y f`, for :math:`y\ge0`, and
    :math:`F(y) = \tfrac12 - \int_0^{|y|} f` for :math:`y<0` (the law is symmetric).
    """
    g = _central_mass().subs(theta, sp.asin(sp.Abs(w_hat)))
    return sp.Piecewise((sp.Rational(1, 2) + g, w_hat >= 0), (sp.Rational(1, 2) - g, True))


# ----------------------------------------------------------------------------------------
# Quantization error and its optimum
# ----------------------------------------------------------------------------------------


@functools.cache
def quantization_error(gamma_value: sp.Expr | None = None) -> sp.Expr:
    r""":math:`QE(\gamma) = E\hat w^2 - 2\gamma E|\hat w| + \gamma^2`, in ``a`` and ``gamma``.

    Eq. (5)–(7) of Vargas et al. (2024). Expanding
    :math:`(s - \gamma\sigma)^2` with :math:`\sigma = \mathrm{sign}\,s` gives
    :math:`s^2 - 2\gamma s\sigma + \gamma^2\sigma^2`; then :math:`s\sigma = |s|` and
    :math:`\sigma^2 = 1` except on :math:`\{s = 0\}`, which has probability 0. Pass
    ``gamma_value`` to substitute a value or expression for :math:`\gamma`.
    """
    s, sigma = sp.symbols("s sigma", real=True)
    abs_s = sp.Symbol("abs_s", nonnegative=True)
    expanded = sp.expand((s - gamma * sigma) ** 2)
    per_weight = expanded.subs({s * sigma: abs_s}).subs({sigma**2: 1})
    if per_weight.has(sigma):  # pragma: no cover
        raise ArithmeticError(f"sign left after substitution: {per_weight}")
    # E is linear: replace each power of s by its moment.
    qe = per_weight.subs({s**2: second_moment(), abs_s: abs_moment()})
    return qe if gamma_value is None else qe.subs(gamma, gamma_value)


@functools.cache
def optimal_gamma() -> sp.Expr:
    r"""The minimizer :math:`\gamma^*` of :math:`QE(\gamma)`, from :math:`dQE/d\gamma = 0`.

    Eq. (8) of Vargas et al. (2024). :math:`QE` is a parabola in :math:`\gamma` with
    :math:`d^2QE/d\gamma^2 = 2 > 0`, so the unique root is the minimum; it equals
    :math:`E|\hat w|`.
    """
    qe = quantization_error()
    roots = sp.solve(sp.diff(qe, gamma), gamma)
    if len(roots) != 1 or sp.diff(qe, gamma, 2) != 2:  # pragma: no cover
        raise ArithmeticError(f"unexpected stationary points {roots}")
    return sp.simplify(roots[0])


@functools.cache
def qe_star() -> sp.Expr:
    r""":math:`QE^* = QE(\gamma^*) = E\hat w^2 - \gamma^{*2}`, in ``a``.

    Eq. (8) substituted into eq. (7) of Vargas et al. (2024).
    """
    return sp.expand(quantization_error(optimal_gamma()))


@functools.cache
def stationarity() -> sp.Expr:
    r""":math:`dQE^*/da`; its positive root is the location :math:`a^*` of the peak.

    Not in the paper (the paper quotes the peak only).
    """
    return sp.diff(qe_star(), a)


@functools.cache
def peak(digits: int = 30) -> tuple[mpmath.mpf, mpmath.mpf]:
    r"""``(a_star, qe_star)``: the maximum of :math:`QE^*(a)` to ``digits`` significant digits.

    The paper quotes 0.102835 at :math:`b\omega_0 \approx 0.954882`. The root of
    :func:`stationarity` is found by ``sympy.nsolve`` (mpmath's secant/Newton iteration)
    at ``digits + 15`` working digits from the start 0.95, then :func:`qe_star` is
    evaluated there. Returns mpmath numbers carrying the working precision.

    Parameters
    ----------
    digits : int
        Significant digits wanted, in [15, 1000].
    """
    if not (isinstance(digits, int) and 15 <= digits <= 1000):
        raise ValueError(f"digits must be an integer in [15, 1000]; got {digits!r}")
    dps = digits + 15
    slope = sp.lambdify(a, stationarity(), modules="mpmath")
    with mpmath.workdps(dps):
        root = sp.nsolve(stationarity(), a, mpmath.mpf("0.95"), prec=dps, tol=mpmath.mpf(10) ** (5 - dps))
        a_star = mpmath.mpf(sp.Float(root, dps))
        qe = sp.lambdify(a, qe_star(), modules="mpmath")(a_star)
        if not mpmath.diff(slope, a_star) < 0:  # pragma: no cover - dQE*/da decreases through a*
            raise ArithmeticError("the stationary point found is not a maximum")
        return +a_star, +qe


@functools.cache
def limits(order: int = 6) -> dict[str, sp.Expr]:
    r"""Series at :math:`a\to0` and limits at :math:`a\to\infty` of :math:`\gamma^*`, :math:`E\hat w^2`, QE*.

    Not in the paper. Keys ``"gamma_small"``, ``"second_moment_small"``,
    ``"qe_star_small"`` (series to :math:`O(a^{order})`), ``"gamma_large"``,
    ``"second_moment_large"``, ``"qe_star_large"`` (limits), ``"qe_star_large_series"``
    (series in :math:`1/a` to :math:`O(a^{-4})`: :math:`QE^*` approaches its limit from above,
    like :math:`(8/\pi^2 - 19/24)/a^2`) and ``"pdf_large"``, the limit of
    :math:`\sqrt{1-\hat w^2}\,f(\hat w)` at fixed :math:`\hat w`: :math:`1/\pi`, the arcsine law.

    Notes
    -----
    :math:`\coth(\pi/(2a))` has an essential singularity at :math:`a=0`, where SymPy's
    ``series`` fails. It is split explicitly as :math:`1 + 2\varepsilon` with
    :math:`\varepsilon = 1/(e^{\pi/a}-1)`, and :math:`\varepsilon/a^n\to0` is proved for
    the order used (``limit``), so :math:`\varepsilon` is beyond all orders of the power
    series and is dropped; the rest is a rational function of :math:`a`.
    """
    if not (isinstance(order, int) and 2 <= order <= 20):
        raise ValueError(f"order must be an integer in [2, 20]; got {order!r}")
    eps = sp.Symbol("epsilon", positive=True)  # stands for 1/(e^{π/a} - 1)
    if sp.limit(1 / (sp.exp(sp.pi / a) - 1) / a**order, a, 0, "+") != 0:  # pragma: no cover
        raise ArithmeticError("the exponential term is not beyond all orders")
    # γ* as a rational function of a and ε (e^{π/a} = 1 + 1/ε); at ε = 0 it is the part
    # that has a power series, and the rest is ε times a function bounded near a = 0.
    big = sp.exp(sp.pi / a)
    tanh_form = (big - 1) / (big + 1)  # tanh(π/(2a)), checked next
    if sp.simplify((sp.tanh(sp.pi / (2 * a)) - tanh_form).rewrite(sp.exp)) != 0:  # pragma: no cover
        raise ArithmeticError("tanh(π/(2a)) is not (e^{π/a} - 1)/(e^{π/a} + 1)")
    g_exp = optimal_gamma().subs(
        {sp.tanh(sp.pi / (2 * a)): tanh_form, sp.coth(sp.pi / (2 * a)): 1 / tanh_form}
    )
    g_eps = sp.simplify(g_exp.subs(big, 1 + 1 / eps))
    if g_eps.has(sp.exp):  # pragma: no cover
        raise ArithmeticError(f"exponential left in {g_eps}")
    g_poly = sp.simplify(g_eps.subs(eps, 0))
    remainder = sp.simplify((g_eps - g_poly) / eps)
    if not sp.limit(remainder, a, 0, "+").is_finite:  # pragma: no cover
        raise ArithmeticError("the correction to the power series is not O(ε)")
    m2 = second_moment()
    # QE* = E ŵ² - γ*² = E ŵ² - g_poly²(1 + 2ε)²: the same O(ε) correction, dropped too.
    out = {
        "gamma_small": sp.series(g_poly, a, 0, order),
        "second_moment_small": sp.series(m2, a, 0, order),
        "qe_star_small": sp.series(m2 - g_poly**2, a, 0, order),
        "gamma_large": sp.limit(optimal_gamma(), a, sp.oo),
        "second_moment_large": sp.limit(m2, a, sp.oo),
        "qe_star_large": sp.limit(qe_star(), a, sp.oo),
        "qe_star_large_series": sp.series(qe_star(), a, sp.oo, 4),
        "pdf_large": sp.limit(_pdf_in_theta(), a, sp.oo),
    }
    return out


@functools.cache
def pdf_edge_weight() -> sp.Expr:
    r""":math:`\lim_{|\hat w|\to1}\sqrt{1-\hat w^2}\,f(\hat w) = 1/(2a\sinh(\pi/(2a)))`, in ``a``.

    Not in the paper. Positive for every :math:`a>0`, so the density of :math:`\hat w` is
    unbounded at :math:`\pm1` like the arcsine law's, whose weight is :math:`1/\pi` (the
    limit :math:`a\to\infty`). :math:`\theta = \arcsin|\hat w| = \pi/2` in the pdf.
    """
    return sp.simplify(_pdf_in_theta().subs(theta, sp.pi / 2))


# ----------------------------------------------------------------------------------------
# Sign flips and the L1 error
# ----------------------------------------------------------------------------------------


@functools.cache
def sign_flip_probability() -> sp.Expr:
    r""":math:`P[\mathrm{sign}\sin X \ne \mathrm{sign}\,X] = 1/(1+e^{\pi/a})`, in ``a``.

    Not in the paper. For :math:`X>0` the sign flips on the negative half-periods
    :math:`((2k+1)\pi, (2k+2)\pi)`, :math:`k\ge0`; by symmetry the same mass again for
    :math:`X<0`. Each half-period integral of the density is integrated, then the geometric
    series is summed.
    """
    one = sp.simplify(sp.integrate(sp.exp(-x / a) / (2 * a), (x, (2 * _k + 1) * sp.pi, (2 * _k + 2) * sp.pi)))
    return sp.simplify(2 * geometric_sum(sp.powsimp(sp.expand(one)), _k, 0))


@functools.cache
def l1_error() -> sp.Expr:
    r""":math:`E|\hat w - \mathrm{sign}\,\hat w|`, the "QE" of the official BiPer code, in ``a``.

    Not in the paper. On each half-period :math:`|\sin x - \mathrm{sign}\sin x|` reduces to
    :math:`1 - \sin u` (:func:`half_period_term`, since :math:`|\sin|\le1`); the half-period
    integral of :math:`e^{-u/a}(1-\sin u)` is summed over all half-periods as in :func:`abs_moment`.
    The result is :math:`1 - E|\hat w|`, which is derived here, not assumed.
    """
    factor, _ = half_period_term("l1")
    total = geometric_sum(factor * half_period_integral("l1"), _k, 0)
    return sp.simplify(total / a)


# ----------------------------------------------------------------------------------------
# Comparison with closed_form
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Check:
    """One derived result compared with :mod:`biper_theory.closed_form`.

    Attributes
    ----------
    name : str
        The derived quantity (a function of this module).
    reference : str
        What it is compared with in ``closed_form``.
    max_rel_error : float
        Largest relative difference between ``closed_form`` (float64) and the derived
        expression evaluated by ``lambdify`` in mpmath at 40 digits, over the sample points.
    symbolic_equal : bool or None
        True if SymPy proved the derived expression equal to the formula ``closed_form``
        documents (their difference simplifies to 0); False if the difference is provably not
        0 (it evaluates to a non-zero number at 50 digits at a test point); None where SymPy
        could not decide or no formula applies (the peak, found numerically).
    passed : bool
        ``max_rel_error <= rtol`` and ``status`` is ``"proved"`` (or ``"numeric only"``
        where no formula applies); an ``"unknown"`` fails unless ``require_proof=False``.
    n_points : int
        Number of sample points.
    status : str
        ``"proved"``, ``"disproved"``, ``"unknown"`` (SymPy could not decide) or
        ``"numeric only"`` (no symbolic claim: the peak, found numerically).
    """

    name: str
    reference: str
    max_rel_error: float
    symbolic_equal: bool | None
    passed: bool
    n_points: int
    status: str = "numeric only"


@functools.cache
def reference_forms() -> dict[str, sp.Expr]:
    r"""The formulas :mod:`biper_theory.closed_form` states in its docstrings, as SymPy.

    These are the claims under test, written once here so that the derived expressions can
    be proved equal to them; they are not used by any derivation. Keys: ``second_moment``,
    ``optimal_gamma``, ``pdf``, ``cdf``, ``quantization_error``, ``qe_star``,
    ``sign_flip_probability``, ``l1_error``, ``gamma_large``, ``qe_star_large``.
    """
    t = sp.asin(sp.Abs(w_hat))
    big = sp.exp(sp.pi / a)
    m2 = 2 * a**2 / (1 + 4 * a**2)
    g = a / (1 + a**2) * sp.coth(sp.pi / (2 * a))
    central = sp.Rational(1, 2) * (1 - sp.exp(-t / a) + 2 * sp.sinh(t / a) / (big - 1))
    return {
        "second_moment": m2,
        "optimal_gamma": g,
        "pdf": (sp.exp(-t / a) + 2 * sp.cosh(t / a) / (big - 1)) / (2 * a * sp.sqrt(1 - w_hat**2)),
        "cdf": sp.Piecewise((sp.Rational(1, 2) + central, w_hat >= 0), (sp.Rational(1, 2) - central, True)),
        "quantization_error": m2 - 2 * gamma * g + gamma**2,
        "qe_star": m2 - g**2,
        "sign_flip_probability": 1 / (1 + big),
        "l1_error": 1 - g,
        "gamma_large": 2 / sp.pi,
        "qe_star_large": sp.Rational(1, 2) - 4 / sp.pi**2,
    }


#: Points at which a difference SymPy cannot simplify is evaluated (50 digits): a value
#: above 1e-30 there proves the two expressions differ.
_WITNESS_POINTS = (
    {a: sp.Rational(7, 10), w_hat: sp.Rational(3, 10), gamma: sp.Rational(2, 5)},
    {a: sp.Rational(13, 4), w_hat: sp.Rational(-9, 10), gamma: sp.Rational(6, 5)},
)


def _differs_somewhere(expr: sp.Expr) -> bool:
    for point in _WITNESS_POINTS:
        try:
            value = sp.N(expr.subs(point), 50)
        except (TypeError, ValueError, NotImplementedError):
            continue
        if value.is_number and value.is_finite and abs(complex(value)) > 1e-30:
            return True
    return False


def _is_zero(expr: sp.Expr) -> bool | None:
    """True if SymPy proves ``expr == 0`` (trying a few rewrites); False if ``expr`` is a
    non-zero number at a witness point (50 digits); else None (undecided)."""
    if _differs_somewhere(expr):
        return False
    e = expr.subs(sp.asin(sp.Abs(w_hat)), theta)
    e = e.rewrite(sp.exp)
    for attempt in (sp.simplify, sp.ratsimp, lambda z: sp.simplify(sp.powsimp(sp.expand(z), force=True))):
        try:
            if attempt(e) == 0:
                return True
        except (TypeError, NotImplementedError, sp.PolynomialError):
            continue
    return None


_STATUS = {True: "proved", False: "disproved", None: "unknown"}


def _symbolically_equal(derived: sp.Expr, ref: sp.Expr) -> bool | None:
    if isinstance(derived, sp.Piecewise) and isinstance(ref, sp.Piecewise):
        pairs = list(zip(derived.args, ref.args, strict=False))
        if len(derived.args) != len(ref.args) or any(cd != cr for (_, cd), (_, cr) in pairs):
            return None
        verdicts = [_is_zero(ed - er) for (ed, _), (er, _) in pairs]
        if any(v is False for v in verdicts):
            return False
        return True if all(v is True for v in verdicts) else None
    return _is_zero(derived - ref)


_TINY = mpmath.mpf(np.finfo(np.float64).tiny)


def _converged(exact: Callable[..., Any], args: list[Any]) -> Any:
    """``exact(*args)`` at a precision that doubles from 40 digits until two successive
    precisions agree to 1e-25 relative: at small ``a`` the derived cdf cancels terms of size
    e^{π/a}, which 40 digits cannot resolve (a = 6e-3 needs ~250)."""
    dps = 40
    with mpmath.workdps(dps):
        low = exact(*args)
    while dps < 5000:
        with mpmath.workdps(2 * dps):
            high = exact(*args)
        if abs(high - low) <= mpmath.mpf("1e-25") * abs(high):
            return high
        dps, low = 2 * dps, high
    return low


def _max_rel_error(exact: Callable[..., Any], approx: np.ndarray, *args: np.ndarray) -> float:
    worst = 0.0
    for i, value in enumerate(approx.ravel()):
        ref = _converged(exact, [mpmath.mpf(float(arg.ravel()[i])) for arg in args])
        diff = abs(mpmath.mpf(float(value)) - ref)
        if abs(ref) < _TINY:  # below the normal float64 range (e.g. e^(-π/a) at a = 1e-3):
            worst = max(worst, float(diff / _TINY))  # absolute error in units of the smallest normal
        else:
            worst = max(worst, float(diff / abs(ref)))
    return worst


def check_against_closed_form(
    n_points: int = 48,
    *,
    rng: int | np.random.Generator | None = 20240401,
    rtol: float = 1e-12,
    require_proof: bool = True,
    reference: Mapping[str, sp.Expr] | None = None,
    closed_form: Any = None,
) -> list[Check]:
    r"""Compare every derived result with :mod:`biper_theory.closed_form`.

    Each derived expression is (i) proved equal to the formula ``closed_form`` documents
    where SymPy can (``symbolic_equal``, ``status``), and (ii) evaluated through ``lambdify``
    in mpmath at 40 digits at ``n_points`` random points and compared with the float64 value
    ``closed_form`` returns (``max_rel_error``). A check passes only if both hold: a formula
    SymPy cannot prove equal (``status="unknown"``) fails unless ``require_proof=False``,
    and one it disproves always fails.

    Parameters
    ----------
    n_points : int
        Random points per check, in [1, 10000]: :math:`a` log-uniform in [1e-3, 1e3],
        :math:`\hat w` uniform in (-0.999, 0.999), :math:`\gamma` uniform in [-1, 2].
    rng : int, Generator or None
        Seed or generator for the points (``np.random.default_rng``).
    rtol : float
        Relative tolerance for ``passed``, in (0, 1).
    require_proof : bool
        Whether an undecided proof (``status="unknown"``) fails the check (default True).
    reference : mapping of str to sympy.Expr, optional
        Formulas to use instead of :func:`reference_forms` for some keys: substitute a wrong
        one to see its check fail on symbolic grounds.
    closed_form : module-like, optional
        The closed-form route under test (default :mod:`biper_theory.closed_form`): any object
        with its functions and constants. Substitute a wrong one to see the numeric part fail.

    Returns
    -------
    list of Check
        In the order: second_moment, abs_moment, optimal_gamma, pdf, cdf, quantization_error,
        qe_star, sign_flip_probability, l1_error, peak_a_star, peak_qe_star, gamma_large,
        qe_star_large.
    """
    if closed_form is None:
        from . import closed_form
    cf = closed_form

    if not (isinstance(n_points, int | np.integer) and 1 <= n_points <= 10000):
        raise ValueError(f"n_points must be an integer in [1, 10000]; got {n_points!r}")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1); got {rtol!r}")
    gen = np.random.default_rng(rng)
    aa = np.exp(gen.uniform(np.log(1e-3), np.log(1e3), n_points))
    yy = gen.uniform(-0.999, 0.999, n_points)
    gg = gen.uniform(-1.0, 2.0, n_points)
    ref = {**reference_forms(), **(reference or {})}

    def fn(expr: sp.Expr, *syms: sp.Symbol) -> Callable[..., object]:
        return sp.lambdify(syms, expr, modules="mpmath")

    # (name, derived, reference formula, closed_form name, float64 values, symbols, points)
    Case = tuple[str, sp.Expr, sp.Expr, str, np.ndarray, tuple[sp.Symbol, ...], tuple[np.ndarray, ...]]
    cases: list[Case] = [
        ("second_moment", second_moment(), ref["second_moment"], "second_moment",
         cf.second_moment(a=aa), (a,), (aa,)),
        ("abs_moment", abs_moment(), ref["optimal_gamma"], "optimal_gamma",
         cf.optimal_gamma(a=aa), (a,), (aa,)),
        ("optimal_gamma", optimal_gamma(), ref["optimal_gamma"], "optimal_gamma",
         cf.optimal_gamma(a=aa), (a,), (aa,)),
        ("pdf", pdf(), ref["pdf"], "pdf", cf.pdf(yy, a=aa), (w_hat, a), (yy, aa)),
        ("cdf", cdf(), ref["cdf"], "cdf", cf.cdf(yy, a=aa), (w_hat, a), (yy, aa)),
        ("quantization_error", quantization_error(), ref["quantization_error"], "quantization_error",
         cf.quantization_error(a=aa, gamma=gg), (a, gamma), (aa, gg)),
        ("qe_star", qe_star(), ref["qe_star"], "quantization_error(gamma=None)",
         cf.quantization_error(a=aa), (a,), (aa,)),
        ("sign_flip_probability", sign_flip_probability(), ref["sign_flip_probability"],
         "sign_flip_probability", cf.sign_flip_probability(a=aa), (a,), (aa,)),
        ("l1_error", l1_error(), ref["l1_error"], "l1_quantization_error",
         cf.l1_quantization_error(a=aa), (a,), (aa,)),
    ]  # fmt: skip
    checks = []
    with mpmath.workdps(40):
        for name, derived, formula, cf_name, values, syms, points in cases:
            err = _max_rel_error(fn(derived, *syms), np.asarray(values), *points)
            same = _symbolically_equal(derived, formula)
            status = _STATUS[same]
            ok = err <= rtol and (status == "proved" or (status == "unknown" and not require_proof))
            checks.append(Check(name, cf_name, err, same, ok, n_points, status))
        a_star, q_star = peak(30)
        cf_a, cf_q = cf.qe_peak()
        for name, exact, approx in (("peak_a_star", a_star, cf_a), ("peak_qe_star", q_star, cf_q)):
            err = float(abs(mpmath.mpf(approx) - exact) / exact)
            checks.append(Check(name, f"qe_peak()[{name == 'peak_qe_star':d}]", err, None, err <= rtol, 1))
        lim = limits()
        for name, cf_value in (
            ("gamma_large", cf.GAMMA_LIMIT_LARGE_A),
            ("qe_star_large", cf.QE_LIMIT_LARGE_A),
        ):
            exact = mpmath.mpf(sp.N(lim[name], 40))
            err = float(abs(mpmath.mpf(cf_value) - exact) / abs(exact))
            same = _symbolically_equal(lim[name], ref[name])
            cf_name = "GAMMA_LIMIT_LARGE_A" if name == "gamma_large" else "QE_LIMIT_LARGE_A"
            status = _STATUS[same]
            ok = err <= rtol and (status == "proved" or (status == "unknown" and not require_proof))
            checks.append(Check(name, cf_name, err, same, ok, 1, status))
    return checks
