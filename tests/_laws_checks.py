"""Shared checks for tests/test_laws_<law>.py: quadrature of the definitions and Monte Carlo.

The reference route shares nothing with the laws' formulas but the definitions: for
:math:`X = xU` with standardised density :math:`g`, every quantity is an integral over one
period of the period-folded density :math:`P(v) = \\sum_k f_{|X|}(v + kp)` (a numpy sum over the
periods holding mass, plus a midpoint estimate of the far tail), integrated by
``scipy.integrate.quad`` with breakpoints graded towards 0 (where the density of a small x
piles up).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate

from biper_theory.laws import Law

Fn = Callable[[np.ndarray], np.ndarray]
K_MAX = 10_000


def _folded(x: float, g: Fn, sf: Fn, period: float, u_max: float) -> Fn:
    """v -> Σ_k f_|X|(v + k period) on [0, period), f_|X|(v) = 2 g(v/x)/x."""
    k_count = int(min(np.ceil(u_max * x / period) + 1, K_MAX))
    shifts = np.arange(k_count, dtype=np.float64) * period

    def p(v: float) -> float:
        s = float(np.sum(2.0 * g((v + shifts) / x) / x))
        tail = 2.0 * float(sf(np.asarray((v + (k_count - 0.5) * period) / x))) / period
        return s + tail

    return p


def _quad(f: Callable[[float], float], lo: float, hi: float, x: float) -> float:
    pts = [x * 2.0**j for j in range(-12, 60) if lo < x * 2.0**j < hi]
    val, _ = integrate.quad(f, lo, hi, points=pts[:90] or None, limit=400, epsabs=1e-16, epsrel=1e-13)
    return float(val)


def reference(x: float, g: Fn, sf: Fn, u_max: float, t: float = 0.9) -> dict[str, float]:
    """Quadrature of the definitions of every quantity at the dimensionless scale x."""
    p1 = _folded(x, g, sf, np.pi, u_max)
    p2 = _folded(x, g, sf, 2.0 * np.pi, u_max)
    alpha = float(np.arcsin(t))
    m2 = _quad(lambda v: np.sin(v) ** 2 * p1(v), 0.0, np.pi, x)
    gam = _quad(lambda v: np.sin(v) * p1(v), 0.0, np.pi, x)
    return {
        "second_moment": m2,
        "optimal_gamma": gam,
        "quantization_error": m2 - gam * gam,
        "sign_flip_probability": _quad(p2, np.pi, 2.0 * np.pi, x),
        "share_past_half_period": 2.0 * float(sf(np.asarray(0.5 * np.pi / x))),
        "crest_share": _quad(p1, alpha, np.pi - alpha, x),
        "cos2_mean": 1.0 - 2.0 * m2,
    }


def model(law: Law, x: float) -> dict[str, float]:
    std = law.standardized()
    q = std.quantities(omega0=x)
    return {
        "second_moment": float(q.second_moment),
        "optimal_gamma": float(q.optimal_gamma),
        "quantization_error": float(q.quantization_error),
        "sign_flip_probability": float(q.sign_flip_probability),
        "share_past_half_period": float(q.share_past_half_period),
        "crest_share": float(std.crest_share(omega0=x)),
        "cos2_mean": float(std.cos2_mean(omega0=x)),
    }


def assert_matches_quadrature(law: Law, x: float, g: Fn, sf: Fn, u_max: float, rtol: float = 1e-10) -> None:
    """Every quantity within rtol relative of the quadrature, or 1e-13 absolute near 0."""
    ref = reference(x, g, sf, u_max)
    got = model(law, x)
    for k, r in ref.items():
        tol = max(rtol * abs(r), 1e-13 if k != "quantization_error" else 1e-13 + 1e-15 / max(x, 1e-3))
        assert abs(got[k] - r) <= tol, f"{k} at x={x}: {got[k]!r} vs quadrature {r!r}"


def assert_pdf_hat_integrates(law: Law, x: float) -> None:
    """∫ f_ŵ = 1 and ∫ y² f_ŵ = E ŵ² (the density against the second moment)."""
    std = law.standardized()

    def f(theta: float) -> float:  # y = sin θ: f_ŵ(y) dy = f_ŵ(sin θ) cos θ dθ (no endpoint pole)
        return float(std.pdf_hat(np.sin(theta), omega0=x)) * np.cos(theta)

    pos = [float(np.arcsin(x * 2.0**j)) for j in range(-12, 4) if x * 2.0**j < 1.0]
    kw = {"points": [-p for p in pos] + [0.0] + pos, "limit": 400, "epsabs": 1e-14, "epsrel": 1e-12}
    one, _ = integrate.quad(f, -0.5 * np.pi, 0.5 * np.pi, **kw)
    m2, _ = integrate.quad(lambda th: np.sin(th) ** 2 * f(th), -0.5 * np.pi, 0.5 * np.pi, **kw)
    assert abs(one - 1.0) < 1e-9, (x, one)
    assert abs(m2 - float(std.second_moment(omega0=x))) < 1e-9 * max(1.0, 1.0), (x, m2)


def assert_matches_monte_carlo(law: Law, x: float, sample: np.ndarray, k: float = 4.0) -> None:
    """Sample means of ŵ = sin(x u) within k standard errors of the model."""
    s = np.sin(x * sample)
    n = sample.size
    std = law.standardized()
    checks = {
        "second_moment": (s * s, std.second_moment(omega0=x)),
        "optimal_gamma": (np.abs(s), std.optimal_gamma(omega0=x)),
        "sign_flip_probability": ((s * sample < 0).astype(float), std.sign_flip_probability(omega0=x)),
        "share_past_half_period": (
            (np.abs(x * sample) > 0.5 * np.pi).astype(float),
            std.share_past_half_period(omega0=x),
        ),
        "crest_share": ((np.abs(s) > 0.9).astype(float), std.crest_share(omega0=x)),
        "cos2_mean": (np.cos(2 * x * sample), std.cos2_mean(omega0=x)),
    }
    for name, (vals, m) in checks.items():
        se = float(np.std(vals, ddof=1)) / np.sqrt(n)
        if name in ("sign_flip_probability", "share_past_half_period", "crest_share"):
            p = float(m)  # Bernoulli: the model's SE where the sample saw no (or every) event
            se = max(se, np.sqrt(p * (1 - p) / n))
        assert abs(float(np.mean(vals)) - float(m)) <= k * se + 1e-12, (
            f"{name} at x={x}: MC {np.mean(vals)} vs {float(m)} (SE {se})"
        )


def assert_properties(law: Law, omega0: float) -> None:
    """0 ≤ QE* ≤ E ŵ², 0 ≤ γ* < 1, γ*² ≤ E ŵ², and invariance under (scale·k, ω₀/k)."""
    q = law.quantities(omega0=omega0)
    assert 0.0 <= float(q.quantization_error) <= float(q.second_moment)
    assert 0.0 <= float(q.optimal_gamma) < 1.0
    assert float(q.optimal_gamma) ** 2 <= float(q.second_moment) * (1 + 1e-13)
    assert 0.0 <= float(q.sign_flip_probability) <= float(q.share_past_half_period) + 1e-15
    for k in (1e-3, 7.0):
        other = law.with_scale(law.scale * k).quantities(omega0=omega0 / k).as_dict()
        for name, v in q.as_dict().items():
            assert float(other[name]) == pytest.approx(float(v), rel=1e-11, abs=1e-15), (name, k)
