r"""Fast maximum likelihood with the location fixed at 0, vectorised over many samples. Not in the paper.

gennorm and Student-t have no closed-form MLE, but with the location fixed each has a scale
that is cheap to find for a fixed shape, so the MLE is a 1-D maximisation of the profile
log-likelihood over the shape, done here for every sample (row) at once:

* gennorm: for fixed β the scale MLE is closed form, :math:`\hat c^\beta = \frac\beta n
  \sum_i|w_i|^\beta`, and the profile log-likelihood is
  :math:`\ell_p(\beta) = n[\log\beta - \log 2 - \log\Gamma(1/\beta) - \frac1\beta
  - \frac1\beta\log(\frac\beta n\sum_i|w_i|^\beta)]`.
* Student-t: for fixed ν the scale MLE :math:`\tau = c^2` solves
  :math:`\frac1n\sum_i\frac{(\nu+1)w_i^2}{\nu\tau + w_i^2} = 1` (the left side falls
  strictly from ν+1 to 0 as τ grows, so the root is unique); it is found by Newton's method
  in 1/τ, where the equation is concave, so after the first step the iterates climb to the
  root monotonically (:func:`_t_scale`), to a relative step below 1e-12.

The shape is found in its logarithm over a fixed bracket (:data:`BETA_BRACKET`,
:data:`DF_BRACKET`): the best of a grid of :data:`GRID` points, then Brent-style parabolic
interpolation (golden-section steps as the fallback) between that point's neighbours, to a
step below :data:`LOG_TOL` (:func:`golden_max`). Near the maximum :math:`\ell_p` is
quadratic, so a shape error δ in the log costs about :math:`n\,\kappa\,\delta^2/2` in
log-likelihood (κ the curvature per weight, O(1)): below 1e-9 for n = 2000 at
``LOG_TOL`` = 1e-7. An estimate at a bracket end means the likelihood still rises beyond it
(β → ∞: near-uniform samples; ν → ∞: tails lighter than any t, the Gaussian limit); the
log-likelihood there is within ~n/ν of the limit for t (measured in the tests against
``scipy.stats.t.fit``). ``tests/test_laws_gennorm.py`` and ``tests/test_laws_student_t.py``
check that the log-likelihood at these estimates is never below scipy's generic ``fit``
(``floc=0``) by more than 1e-6 and that the parameters agree.

Rows are padded with zeros to a common length; zeros add nothing to
:math:`\sum|w|^\beta` (β > 0) or to the t sums, and ``n`` holds each row's true count. Each
row is first divided by its largest :math:`|w|` (both laws are scale families), so no power
overflows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import special

__all__ = ["BETA_BRACKET", "DF_BRACKET", "LOG_TOL", "pad_rows", "golden_max", "gennorm_mle", "t_mle"]

#: gennorm shape β searched in [0.05, 1e8] (β → ∞ is the uniform law).
BETA_BRACKET = (0.05, 1e8)
#: Student-t ν searched in [0.05, 1e9] (at 1e9 its log-likelihood is that of the Gaussian to ~n/ν).
DF_BRACKET = (0.05, 1e9)
#: golden-section stopping width in log(shape).
LOG_TOL = 1e-7
#: points of the coarse grid in log(shape) that brackets the maximum.
GRID = 24
_GOLD = 0.5 * (np.sqrt(5.0) - 1.0)


def pad_rows(samples: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, n)``: the samples as the rows of one zero-padded float64 array, and their sizes."""
    k = len(samples)
    m = max(int(s.size) for s in samples)
    rows = np.zeros((k, m))
    for i, s in enumerate(samples):
        rows[i, : s.size] = s
    n = np.array([s.size for s in samples], dtype=np.float64)
    return rows, n


def golden_max(
    f: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``f`` (k values -> k values, row-wise) over [lo, hi]; returns ``(argmax, max)``.

    The best of a grid of :data:`GRID` points brackets the maximum with its neighbours; inside,
    Brent-style successive parabolic interpolation through the best three points, with a
    golden-section step into the larger part whenever the parabola's vertex is not usable
    (outside the bracket, within LOG_TOL/2 of the best point, or a degenerate parabola), until
    a row's step is below :data:`LOG_TOL` (at most 100 steps). The grid guards against a
    profile that is not unimodal over the whole bracket (gennorm's tends to the uniform law's
    likelihood from below as β → ∞, past a local minimum).
    """
    grid = np.linspace(lo, hi, GRID)
    vals = np.stack([f(np.full(k, g)) for g in grid])
    vals = np.where(np.isnan(vals), -np.inf, vals)
    j = np.argmax(vals, axis=0)
    idx = np.arange(k)
    x1, f1 = grid[j], vals[j, idx]
    jl, jr = np.maximum(j - 1, 0), np.minimum(j + 1, GRID - 1)
    x0, f0, x2, f2 = grid[jl], vals[jl, idx], grid[jr], vals[jr, idx]
    done = np.zeros(k, dtype=bool)
    for _ in range(100):
        d0, d2 = x1 - x0, x1 - x2
        num = d0 * d0 * (f1 - f2) - d2 * d2 * (f1 - f0)
        den = d0 * (f1 - f2) - d2 * (f1 - f0)
        with np.errstate(divide="ignore", invalid="ignore"):
            xv = x1 - 0.5 * num / den
        golden = np.where(x2 - x1 > x1 - x0, x1 + (1.0 - _GOLD) * (x2 - x1), x1 - (1.0 - _GOLD) * (x1 - x0))
        usable = np.isfinite(xv) & (xv > x0) & (xv < x2) & (np.abs(xv - x1) >= 0.5 * LOG_TOL)
        xn = np.where(usable, xv, golden)
        stop = (usable & (np.abs(xv - x1) < LOG_TOL)) | (x2 - x0 < LOG_TOL)
        done |= stop
        if np.all(done):
            break
        xn = np.where(done, x1, xn)
        fn = f(xn)
        fn = np.where(np.isnan(fn), -np.inf, fn)
        better = (fn > f1) & ~done
        left = xn < x1
        # the new bracket: the best point in the middle, its neighbours on each side
        nx0 = np.where(better, np.where(left, x0, x1), np.where(left, xn, x0))
        nf0 = np.where(better, np.where(left, f0, f1), np.where(left, fn, f0))
        nx2 = np.where(better, np.where(left, x1, x2), np.where(left, x2, xn))
        nf2 = np.where(better, np.where(left, f1, f2), np.where(left, f2, fn))
        keep = done
        x0, f0 = np.where(keep, x0, nx0), np.where(keep, f0, nf0)
        x2, f2 = np.where(keep, x2, nx2), np.where(keep, f2, nf2)
        x1, f1 = np.where(better, xn, x1), np.where(better, fn, f1)
    return x1, f1


def _normalise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top = np.max(np.abs(rows), axis=1)
    if np.any(top <= 0):
        raise ValueError("w: all weights are 0 in a sample; cannot fit")
    return rows / top[:, None], top


def gennorm_mle(rows: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(beta, scale, loglik)`` per row of zero-padded ``rows`` with true counts ``n`` (module notes)."""
    x, top = _normalise(rows)
    with np.errstate(divide="ignore"):
        logs = np.log(np.abs(x))  # -inf at 0: |w|^β = 0

    def sums(beta: np.ndarray) -> np.ndarray:
        return np.exp(beta[:, None] * logs).sum(axis=1)

    def profile(log_beta: np.ndarray) -> np.ndarray:
        beta = np.exp(log_beta)
        return n * (
            log_beta
            - np.log(2.0)
            - special.gammaln(1.0 / beta)
            - 1.0 / beta
            - np.log(beta * sums(beta) / n) / beta
        )

    lb, ll = golden_max(profile, float(np.log(BETA_BRACKET[0])), float(np.log(BETA_BRACKET[1])), x.shape[0])
    beta = np.exp(lb)
    scale = (beta * sums(beta) / n) ** (1.0 / beta)
    return beta, scale * top, ll - n * np.log(top)


def _t_scale(x2: np.ndarray, n: np.ndarray, df: np.ndarray, v0: np.ndarray | None = None) -> np.ndarray:
    r"""1/τ with :math:`h = \frac1n\sum(\nu+1)x^2/(\nu\tau + x^2) - 1 = 0` per row.

    In :math:`v = 1/\tau` each term :math:`x^2v/(\nu + x^2v)` is increasing and concave, so
    every Newton iterate after the first lies at or below the root (each tangent lies above h),
    and from there they climb to it monotonically, quadratically at the end. Started at ``v0``
    (the previous shape's root: warm) or at :math:`\tau = \frac{\nu+1}\nu\overline{x^2}`,
    where h ≤ 0; an iterate that would leave v > 0 restarts there. Stopped at a relative step
    below 1e-12 (rounding can keep smaller steps from settling; the scale's error enters the
    log-likelihood only to second order), or after 60 steps.
    """
    m2 = x2.sum(axis=1) / n
    safe = df / ((df + 1.0) * m2)
    v = safe if v0 is None else v0
    nu = df[:, None]
    q, r = np.empty_like(x2), np.empty_like(x2)
    for _ in range(60):
        np.multiply(x2, v[:, None], out=q)
        np.divide(1.0, np.add(nu, q, out=r), out=r)
        h = (df + 1.0) * np.einsum("ij,ij->i", q, r) / n - 1.0
        np.multiply(r, r, out=r)
        dh = (df + 1.0) * df * np.einsum("ij,ij->i", x2, r) / n  # dh/dv > 0
        new = v - h / dh
        new = np.where(new > 0, new, safe)
        done = np.abs(new - v) <= 1e-12 * new
        v = new
        if np.all(done):
            break
    return v


def t_mle(rows: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(df, scale, loglik)`` per row of zero-padded ``rows`` with true counts ``n`` (module notes)."""
    x, top = _normalise(rows)
    x2 = x * x

    state: dict[str, np.ndarray] = {}

    def profile(log_df: np.ndarray) -> np.ndarray:
        df = np.exp(log_df)
        v = _t_scale(x2, n, df, state.get("v"))
        state["v"] = v
        return _t_loglik(x2, n, df, -np.log(v))

    ld, _ = golden_max(profile, float(np.log(DF_BRACKET[0])), float(np.log(DF_BRACKET[1])), x.shape[0])
    df = np.exp(ld)
    u = -np.log(_t_scale(x2, n, df))
    return df, np.exp(0.5 * u) * top, _t_loglik(x2, n, df, u) - n * np.log(top)


def _t_loglik(x2: np.ndarray, n: np.ndarray, df: np.ndarray, u: np.ndarray) -> np.ndarray:
    nu = df[:, None]
    return n * (_half_gamma_ratio(0.5 * df) - 0.5 * np.log(2.0 * np.pi) - 0.5 * u) - 0.5 * (
        df + 1.0
    ) * np.log1p(x2 / (nu * np.exp(u)[:, None])).sum(axis=1)


def _half_gamma_ratio(a: np.ndarray) -> np.ndarray:
    r""":math:`\log\Gamma(a+\frac12) - \log\Gamma(a) - \frac12\log a` without cancellation: gammaln
    below a = 1e4, the asymptotic series :math:`-\frac1{8a} + \frac1{192a^3}` above (remainder
    ~a⁻⁵ < 1e-20)."""
    big = a > 1e4
    small = np.where(big, 1.0, a)
    exact = special.gammaln(small + 0.5) - special.gammaln(small) - 0.5 * np.log(small)
    return np.where(big, -1.0 / (8.0 * a) + 1.0 / (192.0 * a**3), exact)
