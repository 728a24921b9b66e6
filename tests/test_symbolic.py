"""The SymPy derivations: every step, and agreement with closed_form."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import sympy as sp

from biper_theory import closed_form as cf
from biper_theory import symbolic as S
from biper_theory.symbolic import a, gamma, theta, w_hat

E = sp.exp
PI = sp.pi


def zero(expr: sp.Expr) -> bool:
    """SymPy proves expr == 0 after rewriting hyperbolics as exponentials."""
    return sp.simplify(sp.expand(expr.rewrite(sp.exp))) == 0


def mp_eval(expr: sp.Expr, *vals: str, syms: tuple[sp.Symbol, ...] = (a,)) -> mpmath.mpf:
    with mpmath.workdps(40):
        return sp.lambdify(syms, expr, modules="mpmath")(*(mpmath.mpf(v) for v in vals))


# ----------------------------------------------------------------------------------------
# Definitions and moments
# ----------------------------------------------------------------------------------------


def test_laplace_density_is_a_density() -> None:
    f = S.laplace_density()
    assert f.subs(S.w, -S.w) == f  # even
    total = 2 * sp.integrate(f.subs(sp.Abs(S.w), S.w), (S.w, 0, sp.oo))
    assert sp.simplify(total) == 1


def test_scaled_density_depends_on_a_only() -> None:
    fx = S.scaled_density()
    assert fx.free_symbols == {S.x, a}
    assert zero(fx - E(-sp.Abs(S.x) / a) / (2 * a))


def test_second_moment() -> None:
    assert zero(S.second_moment() - 2 * a**2 / (1 + 4 * a**2))


@pytest.mark.parametrize(
    ("weight", "h"),
    [
        pytest.param("abs", lambda v: abs(mpmath.sin(v)), id="abs-sin"),
        pytest.param("l1", lambda v: abs(mpmath.sin(v) - mpmath.sign(mpmath.sin(v))), id="sin-minus-sign"),
    ],
)
def test_half_period_term_factors_the_shifted_integrand(weight: str, h: object) -> None:
    factor, integrand = S.half_period_term(weight)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    u = sp.Symbol("u", positive=True)
    assert factor == E(-k * PI / a)
    expected = E(-u / a) * (sp.sin(u) if weight == "abs" else 1 - sp.sin(u))
    assert zero(integrand - expected)
    # factor(k)·integrand(u) is e^{-x/a} h(x) at x = kπ + u, for even and odd k
    f = sp.lambdify((k, u, a), factor * integrand, "mpmath")
    with mpmath.workdps(30):
        for kk, uu in [(0, "0.3"), (2, "1.1"), (3, "2.9"), (5, "1.5707")]:
            xv, av = kk * mpmath.pi + mpmath.mpf(uu), mpmath.mpf("0.7")
            direct = mpmath.exp(-xv / av) * h(xv)  # type: ignore[operator]
            assert mpmath.almosteq(f(kk, mpmath.mpf(uu), av), direct, 1e-25)


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        pytest.param("abs", a**2 * (1 + E(-PI / a)) / (1 + a**2), id="sin"),
        pytest.param("l1", a * (1 - E(-PI / a)) - a**2 * (1 + E(-PI / a)) / (1 + a**2), id="one-minus-sin"),
    ],
)
def test_half_period_integral(weight: str, expected: sp.Expr) -> None:
    got = S.half_period_integral(weight)
    assert zero(got - expected)
    with mpmath.workdps(30):  # against quadrature at a = 0.45
        av = mpmath.mpf("0.45")
        h = (lambda v: mpmath.sin(v)) if weight == "abs" else (lambda v: 1 - mpmath.sin(v))
        direct = mpmath.quad(lambda v: mpmath.exp(-v / av) * h(v), [0, mpmath.pi])
        assert mpmath.almosteq(mp_eval(got, "0.45"), direct, 1e-25)


@pytest.mark.parametrize("fn", [S.half_period_term, S.half_period_integral], ids=["term", "integral"])
def test_half_period_rejects_unknown_weight(fn: object) -> None:
    with pytest.raises(ValueError, match="weight"):
        fn("square")  # type: ignore[operator]


def test_geometric_sum() -> None:
    k = sp.Symbol("k", integer=True, nonnegative=True)
    assert zero(S.geometric_sum(E(-k * PI / a), k, 0) - 1 / (1 - E(-PI / a)))
    assert zero(S.geometric_sum(3 * E(-2 * k * PI / a), k, 1) - 3 * E(-2 * PI / a) / (1 - E(-2 * PI / a)))
    # the same sum by brute force at a = 0.8
    with mpmath.workdps(30):
        # e^{-200π/0.8} < 1e-340: 200 terms are the whole sum at this precision
        brute = mpmath.fsum(mpmath.exp(-j * mpmath.pi / mpmath.mpf("0.8")) for j in range(200))
        assert mpmath.almosteq(mp_eval(S.geometric_sum(E(-k * PI / a), k, 0), "0.8"), brute, 1e-25)


@pytest.mark.parametrize(
    "term",
    [
        pytest.param(E(-(sp.Symbol("k", integer=True, nonnegative=True) ** 2)), id="not-geometric"),
        pytest.param(E(sp.Symbol("k", integer=True, nonnegative=True) / a), id="divergent"),
    ],
)
def test_geometric_sum_rejects(term: sp.Expr) -> None:
    k = sp.Symbol("k", integer=True, nonnegative=True)
    with pytest.raises(ValueError):
        S.geometric_sum(term, k, 0)


def test_abs_moment() -> None:
    assert zero(S.abs_moment() - a / (1 + a**2) * sp.coth(PI / (2 * a)))
    # against a direct quadrature of E|sin X| at a = 0.6 (independent of the series)
    with mpmath.workdps(30):
        aa = mpmath.mpf("0.6")
        direct = mpmath.quad(
            lambda v: mpmath.exp(-v / aa) * abs(mpmath.sin(v)) / aa, [k * mpmath.pi for k in range(40)]
        )
        assert mpmath.almosteq(mp_eval(S.abs_moment(), "0.6"), direct, 1e-25)


# ----------------------------------------------------------------------------------------
# Law of w_hat
# ----------------------------------------------------------------------------------------


def test_pdf_branches_solve_sin_x_equals_y() -> None:
    br = S.pdf_branches()
    y = next(s for s in br["x_up"].free_symbols if s.name == "y")
    assert sp.simplify(sp.sin(br["x_up"]) - y) == 0
    assert sp.simplify(sp.sin(br["x_down"]) - y) == 0
    assert sp.simplify(br["jacobian"] ** 2 - 1 / (1 - y**2)) == 0


def test_pdf_branch_moduli_are_derived_and_right() -> None:
    br = S.pdf_branches()
    k = sp.Symbol("k", integer=True, nonnegative=True)
    m = sp.Symbol("m", integer=True, positive=True)
    expected = {
        "|x| up_k>=0": theta + 2 * PI * k,
        "|x| down_k>=0": PI - theta + 2 * PI * k,
        "|x| up_k<0": 2 * PI * m - theta,
        "|x| down_k<0": 2 * PI * m - PI + theta,
    }
    for key, value in expected.items():
        assert sp.expand(br[key] - value) == 0, key
    # |x| of the branch maps themselves, at θ = 0.4 and at the edge θ = π/2, for k = 2 and k = -3
    kk = next(s for s in br["x_up"].free_symbols if s.name == "k")
    y = next(s for s in br["x_up"].free_symbols if s.name == "y")
    for th in (0.4, float(PI / 2)):
        for fam in ("up", "down"):
            xb = br[f"x_{fam}"].subs(y, sp.sin(th))
            pos, neg = br[f"|x| {fam}_k>=0"], br[f"|x| {fam}_k<0"]
            assert float(abs(xb.subs(kk, 2))) == pytest.approx(float(pos.subs({k: 2, theta: th})), rel=1e-14)
            assert float(abs(xb.subs(kk, -3))) == pytest.approx(float(neg.subs({m: 3, theta: th})), rel=1e-14)


def test_pdf_branch_sums_against_brute_force() -> None:
    # Sum e^{-|x|/a} over x = θ + 2πk and π - θ + 2πk, k = -60..60, at a = 0.9, θ = 0.4.
    br = S.pdf_branches()
    aa, th = mpmath.mpf("0.9"), mpmath.mpf("0.4")
    with mpmath.workdps(30):
        brute = mpmath.fsum(
            mpmath.exp(-abs(x) / aa)
            for k in range(-60, 61)
            for x in (th + 2 * mpmath.pi * k, mpmath.pi - th + 2 * mpmath.pi * k)
        )
        names = ["up_k>=0", "down_k>=0", "up_k<0", "down_k<0"]
        total = sum(sp.lambdify((theta, a), br[n], "mpmath")(th, aa) for n in names)
        assert mpmath.almosteq(total, brute, 1e-25)


def test_pdf_matches_documented_formula_and_is_even() -> None:
    t = sp.asin(sp.Abs(w_hat))
    ref = (E(-t / a) + 2 * sp.cosh(t / a) / (E(PI / a) - 1)) / (2 * a * sp.sqrt(1 - w_hat**2))
    assert zero((S.pdf() - ref).subs(t, theta))
    assert S.pdf().subs(w_hat, -w_hat) == S.pdf()


@pytest.mark.parametrize("aa", [pytest.param(0.3, id="a=0.3"), pytest.param(2.5, id="a=2.5")])
def test_pdf_integrates_to_one(aa: float) -> None:
    # ŵ = sin θ, dŵ = sqrt(1-ŵ²) dθ removes the integrable end-point singularity; the pdf is
    # even (tested above), so ∫_{-1}^{1} = 2∫_0^{π/2}.
    g = sp.lambdify((theta, a), (S.pdf() * sp.sqrt(1 - w_hat**2)).subs(w_hat, sp.sin(theta)), "mpmath")
    with mpmath.workdps(30):
        total = 2 * mpmath.quad(lambda t: g(t, mpmath.mpf(aa)), [0, mpmath.pi / 2])
        assert abs(total - 1) < 1e-25


def test_cdf_is_the_integral_of_the_pdf() -> None:
    F = S.cdf()
    yp = sp.Symbol("yp", positive=True)
    # d/dy of the y >= 0 branch is the pdf (symbolically), and F(0) = 1/2, F(±1) = 1, 0.
    upper = F.args[0][0].subs(w_hat, yp)
    assert zero(sp.diff(upper, yp) - S.pdf().subs(w_hat, yp))
    assert sp.simplify(F.subs(w_hat, 0)) == sp.Rational(1, 2)
    assert sp.simplify(F.subs(w_hat, 1)) == 1
    assert sp.simplify(F.subs(w_hat, -1)) == 0
    # symmetry F(-y) = 1 - F(y), at a sample point
    Fn = sp.lambdify((w_hat, a), F, "mpmath")
    assert mpmath.almosteq(Fn(-0.3, 0.7), 1 - Fn(0.3, 0.7), 1e-14)


# ----------------------------------------------------------------------------------------
# Quantization error, optimum, peak, limits
# ----------------------------------------------------------------------------------------


def test_quantization_error_expansion() -> None:
    m2 = 2 * a**2 / (1 + 4 * a**2)
    g = a / (1 + a**2) * sp.coth(PI / (2 * a))
    assert zero(S.quantization_error() - (m2 - 2 * gamma * g + gamma**2))
    assert zero(S.quantization_error(sp.Rational(1, 3)) - (m2 - 2 * g / 3 + sp.Rational(1, 9)))


def test_quantization_error_against_its_definition() -> None:
    # E[(sin X - γ sign sin X)²] by quadrature at a = 1.3, γ = 0.7 (the definition, not eq. 7)
    with mpmath.workdps(30):
        aa, gg = mpmath.mpf("1.3"), mpmath.mpf("0.7")
        direct = mpmath.quad(
            lambda v: mpmath.exp(-v / aa) / aa * (mpmath.sin(v) - gg * mpmath.sign(mpmath.sin(v))) ** 2,
            [k * mpmath.pi for k in range(60)],
        )
        got = mp_eval(S.quantization_error(), "1.3", "0.7", syms=(a, gamma))
        assert mpmath.almosteq(got, direct, 1e-25)


def test_optimal_gamma_is_abs_moment_and_a_minimum() -> None:
    assert zero(S.optimal_gamma() - S.abs_moment())
    assert sp.diff(S.quantization_error(), gamma, 2) == 2
    assert zero(sp.diff(S.quantization_error(), gamma).subs(gamma, S.optimal_gamma()))


def test_qe_star_and_stationarity() -> None:
    assert zero(S.qe_star() - (S.second_moment() - S.optimal_gamma() ** 2))
    d = sp.lambdify(a, S.stationarity(), "mpmath")
    q = sp.lambdify(a, S.qe_star(), "mpmath")
    with mpmath.workdps(30):
        for v in ("0.1", "0.9", "1.0", "7.5"):  # against numerical differentiation of QE*
            assert mpmath.almosteq(d(mpmath.mpf(v)), mpmath.diff(q, mpmath.mpf(v)), 1e-20)
    assert d(0.9) > 0 > d(1.0)  # increasing, then decreasing: a maximum between


def test_peak_agrees_with_closed_form_and_mpmath() -> None:
    a_star, q_star = S.peak(30)
    cf_a, cf_q = cf.qe_peak()
    assert abs(a_star - cf_a) / a_star <= 1e-12
    assert abs(q_star - cf_q) / q_star <= 1e-12
    # Independent 50-digit root of the derivative of QE*(a) (mpmath only):
    # QE*(a) = 2a²/(1+4a²) - (a/(1+a²) coth(π/(2a)))²
    with mpmath.workdps(50):

        def q(v: mpmath.mpf) -> mpmath.mpf:
            return 2 * v**2 / (1 + 4 * v**2) - (v / (1 + v**2) * mpmath.coth(mpmath.pi / (2 * v))) ** 2

        ref_a = mpmath.findroot(lambda v: mpmath.diff(q, v), mpmath.mpf("0.95"))
        ref_q = q(ref_a)
        assert abs(a_star - ref_a) < mpmath.mpf(10) ** -30
        assert abs(q_star - ref_q) < mpmath.mpf(10) ** -30
    # the paper's quoted digits
    assert round(float(q_star), 6) == 0.102835
    assert round(float(a_star), 6) == 0.954882


@pytest.mark.parametrize("digits", [pytest.param(5, id="too-few"), pytest.param(5000, id="too-many")])
def test_peak_rejects_digits(digits: int) -> None:
    with pytest.raises(ValueError, match="digits"):
        S.peak(digits)


def test_limits() -> None:
    lim = S.limits()
    assert sp.expand(lim["gamma_small"].removeO() - (a - a**3 + a**5)) == 0
    assert sp.expand(lim["second_moment_small"].removeO() - (2 * a**2 - 8 * a**4)) == 0
    assert sp.expand(lim["qe_star_small"].removeO() - (a**2 - 6 * a**4)) == 0
    assert lim["gamma_large"] == 2 / PI
    assert lim["second_moment_large"] == sp.Rational(1, 2)
    assert sp.simplify(lim["qe_star_large"] - (sp.Rational(1, 2) - 4 / PI**2)) == 0
    # QE* = 1/2 - 4/π² + (8/π² - 19/24)/a² + O(1/a⁴): approached from above
    series = lim["qe_star_large_series"]
    assert series.getO() is not None and series.getO().expr == a**-4
    coeffs = sp.expand(series.removeO())
    assert sp.simplify(coeffs.coeff(a, 0) - (sp.Rational(1, 2) - 4 / PI**2)) == 0
    assert sp.simplify(coeffs.coeff(a, -2) - (8 / PI**2 - sp.Rational(19, 24))) == 0
    assert coeffs.coeff(a, -1) == 0 and coeffs.coeff(a, -2).is_positive
    big = 300.0  # next term O(a⁻⁴): relative size ~1e-10
    q_big = float(cf.quantization_error(a=big))
    assert q_big - cf.QE_LIMIT_LARGE_A == pytest.approx(float(coeffs.coeff(a, -2)) / big**2, rel=1e-4)
    assert lim["pdf_large"] == 1 / PI  # the arcsine law 1/(π sqrt(1 - ŵ²))
    # the series is the a -> 0 behaviour of closed_form (exponentially small terms dropped)
    small = 0.01  # next term 29a⁶: relative size 3e-7
    assert float(cf.quantization_error(a=small)) == pytest.approx(small**2 - 6 * small**4, rel=1e-6)
    assert float(cf.optimal_gamma(a=small)) == pytest.approx(small - small**3, rel=1e-7)


def test_pdf_edge_weight() -> None:
    edge = S.pdf_edge_weight()
    assert zero(edge - 1 / (2 * a * sp.sinh(PI / (2 * a))))
    assert edge.is_positive
    assert sp.limit(edge, a, sp.oo) == 1 / PI
    # sqrt(1 - ŵ²)·pdf near ŵ = 1 from closed_form (θ = π/2 - sqrt(2ε) + O(ε^{3/2}))
    for aa in (0.3, 1.0, 4.0):
        y = 1 - 1e-12
        near = float(cf.pdf(y, a=aa)) * np.sqrt(1 - y * y)
        assert near == pytest.approx(float(mp_eval(edge, str(aa))), rel=1e-5)


def test_sign_flip_probability() -> None:
    assert zero(S.sign_flip_probability() - 1 / (1 + E(PI / a)))
    with mpmath.workdps(30):  # P[sin X < 0, X > 0] + P[sin X > 0, X < 0] by quadrature
        aa = mpmath.mpf("1.7")
        direct = 2 * mpmath.quad(
            lambda v: mpmath.exp(-v / aa) / (2 * aa) * (mpmath.sin(v) < 0), [k * mpmath.pi for k in range(80)]
        )
        assert mpmath.almosteq(mp_eval(S.sign_flip_probability(), "1.7"), direct, 1e-25)


def test_l1_error_is_one_minus_abs_moment() -> None:
    assert zero(S.l1_error() - (1 - S.abs_moment()))
    with mpmath.workdps(30):  # E|sin X - sign sin X| by quadrature at a = 0.8 (the definition)
        aa = mpmath.mpf("0.8")
        direct = mpmath.quad(
            lambda v: mpmath.exp(-v / aa) / aa * abs(mpmath.sin(v) - mpmath.sign(mpmath.sin(v))),
            [k * mpmath.pi for k in range(60)],
        )
        assert mpmath.almosteq(mp_eval(S.l1_error(), "0.8"), direct, 1e-25)


# ----------------------------------------------------------------------------------------
# check_against_closed_form: the API other modules use
# ----------------------------------------------------------------------------------------


def test_check_against_closed_form_all_pass() -> None:
    checks = S.check_against_closed_form()
    names = [c.name for c in checks]
    assert names == [
        "second_moment", "abs_moment", "optimal_gamma", "pdf", "cdf", "quantization_error", "qe_star",
        "sign_flip_probability", "l1_error", "peak_a_star", "peak_qe_star", "gamma_large", "qe_star_large",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(S.Check)] == [
        "name", "reference", "max_rel_error", "symbolic_equal", "passed", "n_points", "status",
    ]  # fmt: skip
    for c in checks:
        assert c.passed, c
        assert 0 <= c.max_rel_error <= 1e-12, c
        expected_symbolic = None if c.name.startswith("peak") else True
        assert c.symbolic_equal is expected_symbolic, c
        assert c.status == ("numeric only" if c.name.startswith("peak") else "proved"), c


@pytest.mark.parametrize(
    ("key", "wrong"),
    [
        pytest.param("pdf", lambda f: f * sp.Rational(1000001, 1000000), id="pdf-off-by-1e-6"),
        pytest.param("second_moment", lambda f: f + a**3, id="second-moment-plus-a3"),
        pytest.param("optimal_gamma", lambda f: f * (1 + sp.exp(-1 / a)), id="gamma-times-1-plus-e-1/a"),
    ],
)
def test_a_wrong_formula_fails_on_symbolic_grounds(key: str, wrong: Callable[[sp.Expr], sp.Expr]) -> None:
    # the numeric comparison is against closed_form (right), so only the proof can catch it
    ref = S.reference_forms()
    checks = {c.name: c for c in S.check_against_closed_form(4, reference={key: wrong(ref[key])})}
    bad = [c for c in checks.values() if c.reference.startswith(key) or c.name == key]
    assert bad, checks
    for c in bad:
        assert c.status == "disproved", c
        assert c.symbolic_equal is False and not c.passed, c


def test_an_undecided_proof_fails_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "_is_zero", lambda expr: None)  # SymPy "cannot decide" anything
    strict = S.check_against_closed_form(2)
    lenient = S.check_against_closed_form(2, require_proof=False)
    undecided = [c for c in strict if c.status == "unknown"]
    assert undecided and not any(c.passed for c in undecided)
    assert all(c.passed for c in lenient)


def test_numeric_check_covers_a_from_1e_3_to_1e3() -> None:
    # a wrong closed form that differs only for a > 100 must be caught by the sample points
    fake = {n: getattr(cf, n) for n in dir(cf) if not n.startswith("__")}
    fake["second_moment"] = lambda *, a: cf.second_moment(a=a) * np.where(a > 100, 1 + 1e-9, 1.0)
    checks = S.check_against_closed_form(48, closed_form=types.SimpleNamespace(**fake))
    sm = next(c for c in checks if c.name == "second_moment")
    assert not sm.passed and sm.max_rel_error > 5e-10, sm


def test_check_against_closed_form_detects_a_wrong_tolerance() -> None:
    # With an impossible tolerance the numeric comparison must fail somewhere.
    checks = S.check_against_closed_form(8, rng=np.random.default_rng(1), rtol=1e-300)
    assert not all(c.passed for c in checks)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"n_points": 0}, id="no-points"),
        pytest.param({"n_points": 2.5}, id="fractional-points"),
        pytest.param({"rtol": 0.0}, id="zero-rtol"),
        pytest.param({"rtol": 2.0}, id="rtol-too-big"),
    ],
)
def test_check_against_closed_form_rejects(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        S.check_against_closed_form(**kwargs)  # type: ignore[arg-type]


def test_symbolic_equality_is_not_vacuous() -> None:
    # _symbolically_equal must not prove a false identity: it disproves it at a witness point
    assert S._symbolically_equal(S.second_moment(), 2 * a**2 / (1 + 3 * a**2)) is False


@pytest.mark.parametrize("order", [pytest.param(1, id="too-low"), pytest.param(2.5, id="not-int")])
def test_limits_rejects_order(order: float) -> None:
    with pytest.raises(ValueError, match="order"):
        S.limits(order)  # type: ignore[arg-type]
