r"""The main job: derive, verify by independent routes, list the errata, draw every figure.

:func:`run` executes the whole chain offline and deterministically:

1. **SymPy** (:mod:`biper_theory.symbolic`): derive E ŵ², E|ŵ|, the pdf, the cdf and QE*
   from the definitions, prove them equal to the formulas :mod:`~biper_theory.closed_form`
   documents, and compare values.
2. **mpmath at 50 digits**: the closed-form expressions written again here in mpmath
   (:func:`_mp_second_moment`, ... below; no float64 code is shared), evaluated on a grid
   of a (and ŵ), and the peak found by :func:`mpmath.findroot`.
3. **Quadrature** (:mod:`biper_theory.numeric`): the same quantities integrated from the
   definitions with scipy.
4. **Monte Carlo** (:mod:`biper_theory.montecarlo`): sample means with their standard
   errors, a Kolmogorov–Smirnov test of the cdf, and a histogram against the pdf
   integrated over each bin. (The peak has no Monte-Carlo check: locating the maximum of
   a noisy curve would test the optimiser, not the formula.)
5. **Errata** (:mod:`biper_theory.errata`): the discrepancies of the printed equations.
6. **Figures** (:mod:`biper_theory.figures`): every figure with its CSV numbers.
7. **Trained weights** (:mod:`biper_theory.trained`): the default digits model is trained
   (stage 1, then stage 2 warm-started; or ``checkpoints=`` are read) and each binarized
   layer's ŵ = sin(ω₀w) is measured against every fitted weight law: ``fig8_trained_weights``
   and the ``trained_weights`` entry of ``reproduce.json``. These are findings, not checks:
   they never change ``report.passed``. Without torch the route is skipped, and the JSON
   says why.

Each comparison is a :class:`Check` of the closed form against one route with a stated
tolerance: relative (exact routes) or k standard errors (Monte Carlo), kept apart. The run
*fails* (``report.passed`` is False; the CLI exits 1) if any check fails. The closed-form
route can be replaced (``closed_form=``) to show that a wrong formula is caught.

``reproduce.json`` (written atomically into ``out_dir``) holds the checks, the errata and
the list of figure files, but no timestamps and no timings, so a rerun on the same machine
writes the same bytes; timings are in ``ReproduceReport.timings`` only.

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import numpy.typing as npt

from . import trained as trained_route
from ._io import atomic_write, finite_or_none

__all__ = [
    "Check",
    "ReproduceReport",
    "run",
    "DEFAULT_SEED",
    "DEFAULT_MC_SAMPLES",
    "MC_K",
    "MP_DPS",
    "PAPER_PEAK",
    "MOMENT_GRID",
    "DENSITY_GRID_A",
    "MC_GRID",
    "GAMMA_GRID",
    "PDF_HIST_A",
    "PDF_HIST_BINS",
    "KS_MIN_PVALUE",
    "RTOL_MPMATH",
    "RTOL_QUADRATURE",
    "RTOL_SYMPY",
]

Array = npt.NDArray[np.float64]

#: Seed of every random draw (Monte-Carlo checks and figures).
DEFAULT_SEED = 20240401
#: Samples per a value in the Monte-Carlo checks.
DEFAULT_MC_SAMPLES = 2_000_000
#: A Monte-Carlo check passes when ``|estimate − closed form| ≤ MC_K · SE``. With about 130
#: comparisons (50 moments, 80 histogram bins), k = 5 keeps the chance of a false alarm
#: under a correct closed form near 1e-4 (Gaussian tails: 130 · 5.7e-7), while any error
#: larger than a few SE (≈1e-3 relative at 2·10⁶ samples) is caught.
MC_K = 5.0
#: A Kolmogorov–Smirnov check passes when its p-value is at least this.
KS_MIN_PVALUE = 1e-3
#: a values and bin count of the Monte-Carlo check of the pdf (histogram against the pdf
#: integrated over each bin; bins of equal width in arcsin ŵ). With 2·10⁶ samples the
#: smallest expected bin count is about 13 000, so the normal approximation holds.
PDF_HIST_A: tuple[float, ...] = (0.5, 2.0)
PDF_HIST_BINS = 40
#: Working precision of the mpmath route.
MP_DPS = 50
#: The peak as printed in Section 2.1 of the paper (6 decimals): (a*, QE*).
PAPER_PEAK = (0.954882, 0.102835)

#: a values for the moments, exact routes: 25 log-spaced in [1e-3, 1e3], and the peak.
MOMENT_GRID: tuple[float, ...] = tuple(float(v) for v in np.geomspace(1e-3, 1e3, 25))
#: a values for the pdf and cdf grids (quadrature of the pdf is slow at large a).
DENSITY_GRID_A: tuple[float, ...] = (0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0)
#: a values for the Monte-Carlo checks.
MC_GRID: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 8.0, 32.0)
#: γ values for QE at a fixed (non-optimal) scale.
GAMMA_GRID: tuple[float, ...] = (0.0, 0.3, 0.8)
#: Relative tolerances of the exact routes (closed form vs route). The closed forms are
#: accurate to a few ulp (pdf/cdf: a few ulp times t/a, ≤ 157 on the grid); quadrature
#: promises 1e-10 in :mod:`biper_theory.numeric`.
RTOL_MPMATH: dict[str, float] = {
    "moment": 1e-13,
    "sign_flip": 1e-12,
    "density": 1e-12,
    "peak_a": 1e-12,
    "peak_qe": 1e-14,
}
RTOL_QUADRATURE: dict[str, float] = {"moment": 1e-10, "density": 1e-10, "peak_a": 1e-10, "peak_qe": 1e-12}
RTOL_SYMPY = 1e-12


# ----------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Check:
    """One comparison of the closed form with another route.

    Attributes
    ----------
    quantity : str
        What is compared (``"E ŵ²"``, ``"pdf"``, ``"peak a*"``, ...).
    routes : str
        The two routes, e.g. ``"closed form vs mpmath"``.
    worst : float
        The worst disagreement over the points (see ``measure``).
    tolerance : float
        The largest ``worst`` that passes.
    measure : str
        ``"rel"`` (relative difference), ``"abs"``, ``"SE"`` (in standard errors) or
        ``"p-value"`` (passes when ``worst >= tolerance``).
    points : int
        Number of points compared.
    passed : bool
    """

    quantity: str
    routes: str
    worst: float
    tolerance: float
    measure: str
    points: int
    passed: bool

    def row(self) -> dict[str, Any]:
        """A flat dict for tables and JSON (the disagreement to 3 significant digits)."""
        return {
            "quantity": self.quantity,
            "routes": self.routes,
            "worst": float(f"{self.worst:.3g}") if math.isfinite(self.worst) else self.worst,
            "tolerance": self.tolerance,
            "measure": self.measure,
            "points": self.points,
            "verdict": "pass" if self.passed else "FAIL",
        }


def _check(quantity: str, routes: str, worst: float, tol: float, measure: str, points: int) -> Check:
    worst = float(worst)
    ok = worst >= tol if measure == "p-value" else math.isfinite(worst) and worst <= tol
    return Check(quantity, routes, worst, float(tol), measure, int(points), bool(ok))


@dataclasses.dataclass
class ReproduceReport:
    """What :func:`run` did.

    Attributes
    ----------
    checks : list of Check
        Every comparison, in the order run.
    errata : list of dict
        One row per erratum of the paper (from :mod:`biper_theory.errata`).
    files : list of Path
        Every file written (figures, CSV, ``reproduce.json``).
    timings : dict of str to float
        Seconds per stage (not written to ``reproduce.json``).
    settings : dict
        Seed and sample sizes.
    trained : TrainedFindings
        The trained-weights route (:mod:`biper_theory.trained`): findings, or why it was
        skipped; not part of :attr:`passed`.
    """

    checks: list[Check]
    errata: list[dict[str, Any]]
    files: list[Path]
    timings: dict[str, float]
    settings: dict[str, Any]
    trained: trained_route.TrainedFindings = dataclasses.field(
        default_factory=lambda: trained_route.skipped("not run")
    )

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]

    def rows(self) -> list[dict[str, Any]]:
        """The checks as flat dicts, grouped by quantity (in order of first appearance)."""
        first: dict[str, int] = {}
        for i, c in enumerate(self.checks):
            first.setdefault(c.quantity, i)
        order = sorted(range(len(self.checks)), key=lambda i: (first[self.checks[i].quantity], i))
        return [self.checks[i].row() for i in order]

    def to_json(self, base: Path | None = None) -> dict[str, Any]:
        """Deterministic summary (no timings): settings, verdict, checks, errata, the
        trained-weights findings (``trained_weights``), files."""
        files = [p.relative_to(base).as_posix() if base else p.as_posix() for p in self.files]
        return {
            "passed": self.passed,
            "n_checks": len(self.checks),
            "n_failed": len(self.failed),
            "settings": self.settings,
            "checks": self.rows(),
            "errata": self.errata,
            "trained_weights": self.trained.to_json(),
            "files": files,
        }


# ----------------------------------------------------------------------------------------
# The mpmath route: the closed forms written again in mpmath, evaluated at 50 digits
# ----------------------------------------------------------------------------------------


def _mp_second_moment(a: mpmath.mpf) -> mpmath.mpf:
    # E ŵ² = 2a²/(1+4a²)
    return 2 * a**2 / (1 + 4 * a**2)


def _mp_optimal_gamma(a: mpmath.mpf) -> mpmath.mpf:
    # γ* = a/(1+a²) · coth(π/(2a))   (eq. 8)
    return a / (1 + a**2) * mpmath.coth(mpmath.pi / (2 * a))


def _mp_quantization_error(a: mpmath.mpf, gamma: mpmath.mpf | None = None) -> mpmath.mpf:
    # QE(γ) = E ŵ² − 2γγ* + γ²   (eq. 7); γ = γ* by default
    g = _mp_optimal_gamma(a)
    gam = g if gamma is None else gamma
    return _mp_second_moment(a) - 2 * gam * g + gam**2


def _mp_sign_flip(a: mpmath.mpf) -> mpmath.mpf:
    # P[sign sin X ≠ sign X] = 1/(1+e^{π/a})
    return 1 / (1 + mpmath.exp(mpmath.pi / a))


def _mp_l1(a: mpmath.mpf) -> mpmath.mpf:
    # E|ŵ − sign ŵ| = 1 − γ*
    return 1 - _mp_optimal_gamma(a)


def _mp_pdf(y: mpmath.mpf, a: mpmath.mpf) -> mpmath.mpf:
    # f(y) = [e^{−t/a} + 2cosh(t/a)/(e^{π/a} − 1)] / (2a√(1−y²)), t = arcsin|y|   (eq. 4, corrected)
    t = mpmath.asin(abs(y))
    return (mpmath.exp(-t / a) + 2 * mpmath.cosh(t / a) / mpmath.expm1(mpmath.pi / a)) / (
        2 * a * mpmath.sqrt(1 - y**2)
    )


def _mp_cdf(y: mpmath.mpf, a: mpmath.mpf) -> mpmath.mpf:
    # F(y) = ½ ± ½[1 − e^{−t/a} + 2sinh(t/a)/(e^{π/a} − 1)], + for y ≥ 0, − for y < 0.
    # For y < 0 the difference cancels down to ~e^{−π/(2a)}: add that many digits.
    extra = int(float(mpmath.pi / (2 * a)) / math.log(10)) + 10
    with mpmath.workdps(mpmath.mp.dps + extra):
        t = mpmath.asin(abs(y))
        central = (1 - mpmath.exp(-t / a) + 2 * mpmath.sinh(t / a) / mpmath.expm1(mpmath.pi / a)) / 2
        val = mpmath.mpf(1) / 2 + central if y >= 0 else mpmath.mpf(1) / 2 - central
    return +val


def _mp_peak() -> tuple[mpmath.mpf, mpmath.mpf]:
    # a* solves d QE*/da = 0; the derivative by mpmath's numerical differentiation at 50 digits
    a_star = mpmath.findroot(lambda s: mpmath.diff(_mp_quantization_error, s), mpmath.mpf("0.95"))
    return a_star, _mp_quantization_error(a_star)


#: Relative error is measured where the reference is a normal float64; below that (e.g. the
#: sign-flip probability e^{−π/a} at a = 10⁻³, ~10⁻¹³⁶⁴) a float64 cannot carry relative
#: accuracy and the absolute difference is taken instead.
_TINY = float(np.finfo(np.float64).tiny)


def _max_rel(values: npt.ArrayLike, refs: Sequence[Any]) -> float:
    """Largest |value − ref| / |ref| over the points (absolute where |ref| < float64 tiny);
    a NaN anywhere counts as infinite (``max`` would silently skip it)."""
    vals = np.asarray(values, dtype=np.float64).ravel()
    worst = 0.0
    for v, r in zip(vals, refs, strict=True):
        diff = abs(mpmath.mpf(float(v)) - r)
        d = float(diff / abs(r)) if abs(r) >= _TINY else float(diff)
        worst = max(worst, math.inf if math.isnan(d) else d)
    return worst


def _max_rel_float(values: npt.ArrayLike, refs: npt.ArrayLike) -> float:
    """As :func:`_max_rel` for two float64 routes; NaN anywhere counts as infinite."""
    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(refs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(r) >= _TINY, np.abs(v - r) / np.abs(r), np.abs(v - r))
    rel = np.where(np.isnan(rel), np.inf, rel)
    return float(np.max(rel)) if rel.size else 0.0


def _density_points() -> tuple[Array, Array]:
    """(ŵ, a) pairs of the pdf/cdf grid: 39 points uniform in arcsin ŵ, plus ±(1 − 10⁻⁶),
    for each a of :data:`DENSITY_GRID_A`."""
    theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 41)[1:-1]
    y = np.concatenate([[-1 + 1e-6], np.sin(theta), [1 - 1e-6]])
    yy, aa = np.meshgrid(y, np.asarray(DENSITY_GRID_A), indexing="xy")
    return yy.ravel(), aa.ravel()


# The quantities compared on the a grid: (label, closed-form name, mpmath function).
_MOMENTS: tuple[tuple[str, str, Callable[[mpmath.mpf], mpmath.mpf]], ...] = (
    ("E ŵ²", "second_moment", _mp_second_moment),
    ("γ* = E|ŵ|", "optimal_gamma", _mp_optimal_gamma),
    ("QE*", "quantization_error", _mp_quantization_error),
    ("L1 QE = 1 − γ*", "l1_quantization_error", _mp_l1),
    ("P[sign flip]", "sign_flip_probability", _mp_sign_flip),
)


# ----------------------------------------------------------------------------------------
# The stages
# ----------------------------------------------------------------------------------------


#: Labels of the SymPy checks (names of :func:`biper_theory.symbolic.check_against_closed_form`).
_SYMPY_LABELS: dict[str, tuple[str, str]] = {
    "second_moment": ("E ŵ²", ""),
    "abs_moment": ("γ* = E|ŵ|", "E|ŵ| summed"),
    "optimal_gamma": ("γ* = E|ŵ|", "argmin of QE"),
    "pdf": ("pdf", ""),
    "cdf": ("cdf", ""),
    "quantization_error": ("QE(γ)", ""),
    "qe_star": ("QE*", ""),
    "sign_flip_probability": ("P[sign flip]", ""),
    "l1_error": ("L1 QE = 1 − γ*", ""),
    "peak_a_star": ("peak a*", ""),
    "peak_qe_star": ("peak QE*", ""),
    "gamma_large": ("γ* as a → ∞", ""),
    "qe_star_large": ("QE* as a → ∞", ""),
}


def _stage_sympy() -> list[Check]:
    from . import symbolic

    # the derivations themselves (cached inside symbolic; the notebook walks through them)
    for derive in (symbolic.second_moment, symbolic.abs_moment, symbolic.pdf, symbolic.cdf, symbolic.qe_star):
        derive()
    checks = []
    for c in symbolic.check_against_closed_form():
        label, how = _SYMPY_LABELS.get(c.name, (c.name, ""))
        proof = {True: "proved equal", False: "NOT equal", None: "values"}[c.symbolic_equal]
        detail = f"{how}, {proof}" if how else proof
        checks.append(
            Check(
                quantity=label,
                routes=f"closed form vs SymPy ({detail})",
                worst=float(c.max_rel_error),
                tolerance=RTOL_SYMPY,
                measure="rel",
                points=c.n_points,
                passed=bool(c.passed),
            )
        )
    return checks


def _grid_a() -> Array:
    from . import closed_form

    return np.append(np.asarray(MOMENT_GRID), closed_form.qe_peak()[0])


def _stage_mpmath(cf: Any) -> list[Check]:
    checks = []
    a = _grid_a()
    with mpmath.workdps(MP_DPS):
        amp = [mpmath.mpf(float(v)) for v in a]
        for label, name, fn in _MOMENTS:
            refs = [fn(x) for x in amp]
            err = _max_rel(getattr(cf, name)(a=a), refs)
            # e^{−π/a} has condition number π/a (≤ 10³ on the grid): allow it
            tol = RTOL_MPMATH["sign_flip" if name == "sign_flip_probability" else "moment"]
            checks.append(_check(label, "closed form vs mpmath", err, tol, "rel", a.size))
        ag, gg = np.meshgrid(a, np.asarray(GAMMA_GRID))
        refs = [
            _mp_quantization_error(mpmath.mpf(float(x)), mpmath.mpf(float(g)))
            for x, g in zip(ag.ravel(), gg.ravel(), strict=True)
        ]
        err = _max_rel(cf.quantization_error(a=ag.ravel(), gamma=gg.ravel()), refs)
        checks.append(
            _check(
                "QE(γ)",
                "closed form vs mpmath (γ ∈ {0, 0.3, 0.8})",
                err,
                RTOL_MPMATH["moment"],
                "rel",
                ag.size,
            )
        )
        y, ad = _density_points()
        pts = [(mpmath.mpf(float(u)), mpmath.mpf(float(v))) for u, v in zip(y, ad, strict=True)]
        density_refs: tuple[tuple[str, Callable[[Any, Any], Any]], ...] = (("pdf", _mp_pdf), ("cdf", _mp_cdf))
        for name, dfn in density_refs:
            label = name
            refs = [dfn(u, v) for u, v in pts]
            err = _max_rel(getattr(cf, name)(y, a=ad), refs)
            checks.append(_check(label, "closed form vs mpmath", err, RTOL_MPMATH["density"], "rel", y.size))
        a_star, q_star = _mp_peak()
        cf_a, cf_q = cf.qe_peak()
        checks.append(
            _check(
                "peak a*",
                "closed form vs mpmath",
                _max_rel([cf_a], [a_star]),
                RTOL_MPMATH["peak_a"],
                "rel",
                1,
            )
        )
        checks.append(
            _check(
                "peak QE*",
                "closed form vs mpmath",
                _max_rel([cf_q], [q_star]),
                RTOL_MPMATH["peak_qe"],
                "rel",
                1,
            )
        )
    return checks


def _stage_quadrature(cf: Any) -> list[Check]:
    from . import numeric

    checks = []
    a = _grid_a()
    tol = RTOL_QUADRATURE
    for label, name, _ in _MOMENTS:
        err = _max_rel_float(getattr(cf, name)(a=a), getattr(numeric, name)(a=a))
        checks.append(_check(label, "closed form vs quadrature", err, tol["moment"], "rel", a.size))
    ag, gg = np.meshgrid(a, np.asarray(GAMMA_GRID))
    err = _max_rel_float(cf.quantization_error(a=ag, gamma=gg), numeric.quantization_error(a=ag, gamma=gg))
    checks.append(
        _check("QE(γ)", "closed form vs quadrature (γ ∈ {0, 0.3, 0.8})", err, tol["moment"], "rel", ag.size)
    )
    y, ad = _density_points()
    for label, name in (("pdf", "pdf"), ("cdf", "cdf")):
        err = _max_rel_float(getattr(cf, name)(y, a=ad), getattr(numeric, name)(y, a=ad))
        checks.append(_check(label, "closed form vs quadrature", err, tol["density"], "rel", y.size))
    na, nq = numeric.qe_peak()
    cf_a, cf_q = cf.qe_peak()
    checks.append(
        _check("peak a*", "closed form vs quadrature", abs(cf_a - na) / na, tol["peak_a"], "rel", 1)
    )
    checks.append(
        _check("peak QE*", "closed form vs quadrature", abs(cf_q - nq) / nq, tol["peak_qe"], "rel", 1)
    )
    return checks


def _stage_paper(cf: Any) -> list[Check]:
    # The paper prints 6 decimals: agreement means |closed form − printed| ≤ half a unit there.
    cf_a, cf_q = cf.qe_peak()
    return [
        _check("peak a*", "closed form vs paper (6 decimals)", abs(cf_a - PAPER_PEAK[0]), 5e-7, "abs", 1),
        _check("peak QE*", "closed form vs paper (6 decimals)", abs(cf_q - PAPER_PEAK[1]), 5e-7, "abs", 1),
    ]


def _stage_montecarlo(cf: Any, *, n: int, seed: int) -> list[Check]:
    from . import montecarlo

    a = np.asarray(MC_GRID)
    gamma_fixed = 0.5
    streams = np.random.SeedSequence(seed).spawn(2 * a.size + 2 + len(PDF_HIST_A))
    worst: dict[str, list[float]] = {}
    counts: dict[str, int] = {}

    def z(label: str, est: Any, exact: npt.ArrayLike) -> None:
        # |estimate − exact| in standard errors, at one point or elementwise over bins
        se = np.asarray(est.se, dtype=np.float64)
        dev = np.abs(np.asarray(est.value, dtype=np.float64) - np.asarray(exact, dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(se > 0, dev / se, np.where(dev == 0, 0.0, np.inf))
        # a NaN (from the estimate or the closed form) fails: max() would skip it
        score = np.where(np.isnan(score), np.inf, score)
        worst.setdefault(label, []).append(float(np.max(score)))
        counts[label] = counts.get(label, 0) + score.size

    for i, ai in enumerate(a):
        res = montecarlo.estimate(a=float(ai), n=n, rng=np.random.default_rng(streams[i]), chunk_size=1 << 17)
        for label, name, _ in _MOMENTS:
            exact = float(getattr(cf, name)(a=ai))
            # the sign-flip count must be large enough for its SE to mean something
            if name == "sign_flip_probability" and exact * n < 100:
                continue
            z(label, getattr(res, name), exact)
        z("QE*/E ŵ²", res.normalized_quantization_error, float(cf.normalized_quantization_error(a=ai)))
        res_g = montecarlo.estimate(
            a=float(ai),
            n=n,
            rng=np.random.default_rng(streams[a.size + i]),
            chunk_size=1 << 17,
            gamma=gamma_fixed,
        )
        z("QE(γ)", res_g.quantization_error, float(cf.quantization_error(a=ai, gamma=gamma_fixed)))
    checks = [
        _check(
            label,
            "closed form vs Monte Carlo" + (" (γ = 0.5)" if label == "QE(γ)" else ""),
            max(vals),
            MC_K,
            "SE",
            counts[label],
        )
        for label, vals in worst.items()
    ]
    # Kolmogorov–Smirnov test of the cdf at two values of a (one below, one above the peak)
    pvals = []
    for j, ai in enumerate((0.5, 2.0)):
        rng = np.random.default_rng(streams[2 * a.size + j])
        p = float(montecarlo.ks_test(cf.cdf, a=ai, n=min(n, 200_000), rng=rng).pvalue)
        pvals.append(0.0 if math.isnan(p) else p)  # a NaN p-value fails
    checks.append(
        _check(
            "cdf",
            "closed form vs Monte Carlo (Kolmogorov–Smirnov)",
            min(pvals),
            KS_MIN_PVALUE,
            "p-value",
            len(pvals),
        )
    )
    # the pdf itself: histogram counts against the closed-form pdf integrated over each bin
    for j, ai in enumerate(PDF_HIST_A):
        rng = np.random.default_rng(streams[2 * a.size + 2 + j])
        z("pdf", *_pdf_histogram(cf, float(ai), n=n, rng=rng))
    checks.append(
        _check(
            "pdf",
            f"closed form vs Monte Carlo (histogram, {PDF_HIST_BINS} bins)",
            max(worst["pdf"]),
            MC_K,
            "SE",
            counts["pdf"],
        )
    )
    return checks


def _pdf_histogram(cf: Any, a: float, *, n: int, rng: np.random.Generator) -> tuple[Any, Array]:
    """Histogram of ``n`` samples of ŵ in :data:`PDF_HIST_BINS` bins of equal width in
    arcsin ŵ, against the bin probabilities of ``cf.pdf``.

    Returns ``(estimate, exact)``: the observed bin frequencies with their binomial standard
    errors (computed from the exact probabilities, the null hypothesis), and the exact
    probabilities ∫ f(y) dy = ∫ f(sin θ) cos θ dθ over each bin, by 16-point Gauss–Legendre
    in θ. In θ the integrand is smooth inside each bin (its kink at θ = 0 is a bin edge), so
    the rule agrees with the cdf differences to ~1e-12 relative for the a used here, far
    below the standard errors.
    """
    from . import montecarlo

    theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, PDF_HIST_BINS + 1)
    edges = np.sin(theta)
    edges[0], edges[-1] = -1.0, 1.0
    counts, _ = np.histogram(montecarlo.sample(n, a=a, rng=rng), bins=edges)
    nodes, weights = np.polynomial.legendre.leggauss(16)
    half = 0.5 * np.diff(theta)
    mid = 0.5 * (theta[:-1] + theta[1:])
    th = mid[:, None] + half[:, None] * nodes[None, :]
    with np.errstate(all="ignore"):
        integrand = np.asarray(cf.pdf(np.sin(th), a=a), dtype=np.float64) * np.cos(th)
        exact = half * (integrand @ weights)
        se = np.sqrt(exact * (1.0 - exact) / n)
    se = np.where(np.isfinite(se), se, 0.0)  # p outside [0, 1]: zero SE, so any deviation fails
    return _BinEstimate(counts / n, se), exact


@dataclasses.dataclass(frozen=True)
class _BinEstimate:
    value: Array
    se: Array


def _stage_errata() -> list[dict[str, Any]]:
    """The errata of §2.1 as rows (id, where, verdict, aspect, what differs, witness).

    Informational: an erratum is a finding about the paper, not a failure of this run.
    """
    from . import errata

    keys = ("id", "equation", "verdict", "aspect", "what_differs", "witness")
    return [{k: getattr(e, k) for k in keys} for e in errata.errata()]


def _stage_trained(
    out: Path,
    sources: dict[str, trained_route.WeightSet] | None,
    *,
    trained: bool,
    seed: int,
    epochs: int | None,
    figures: bool,
    timings: dict[str, float],
    files: list[Path],
    progress: Callable[[str], None] | None,
) -> trained_route.TrainedFindings:
    """The trained-weights route: weights (given, or trained here), findings, fig8.

    Findings, not checks (see :mod:`biper_theory.trained`); skipped with a reason when
    ``trained`` is False or torch is missing.
    """
    if not trained:
        reason = "skipped on request (--no-train)"
    elif sources is None and (missing := trained_route.torch_missing()) is not None:
        reason = missing
    else:
        reason = ""
    if reason:
        if progress is not None:
            progress(f"trained weights: skipped: {reason}")
        return trained_route.skipped(reason)
    if sources is None:
        with _timed(timings, "trained weights: training the default digits model", progress):
            sources = trained_route.train_default(seed=seed, epochs=epochs)
    with _timed(timings, "trained weights: laws and phases", progress):
        findings = trained_route.analyze(sources)
    if figures:
        from . import figures as figs

        with _timed(timings, "trained weights: figure", progress):
            files += figs.write_trained_weights(out, findings)
    return findings


# ----------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------


@contextmanager
def _timed(timings: dict[str, float], name: str, progress: Callable[[str], None] | None) -> Iterator[None]:
    if progress is not None:
        progress(f"{name} ...")
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0
    if progress is not None:
        progress(f"{name}: done in {timings[name]:.1f} s")


def run(
    out_dir: str | Path = "figures",
    *,
    progress: Callable[[str], None] | None = None,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    seed: int = DEFAULT_SEED,
    figures: bool = True,
    closed_form: Any = None,
    trained: bool = True,
    checkpoints: Sequence[str | Path] = (),
    checkpoint_omega0: float | None = None,
    train_seed: int = trained_route.TRAIN_SEED,
    train_epochs: int | None = None,
) -> ReproduceReport:
    """Run the whole chain (derivations, verification, errata, figures); see the module doc.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the figures and ``reproduce.json`` (created if missing).
    progress : callable, optional
        Called with a short message as each stage starts and ends.
    mc_samples : int
        Samples per a value in the Monte-Carlo checks, in [1000, 10⁹].
    seed : int
        Seed of every random draw, a non-negative integer; the figures use it too, so the
        default reproduces the committed ``figures/`` folder.
    figures : bool
        Write the figures (:func:`biper_theory.figures.write_all`); False skips them.
    closed_form : module-like, optional
        The closed-form route under test (default :mod:`biper_theory.closed_form`): any
        object with its functions. It replaces the closed form in the mpmath, quadrature,
        Monte-Carlo and paper checks (the SymPy checks are defined in
        :mod:`biper_theory.symbolic` and always use the module). Substitute a wrong formula
        to see the run fail.
    trained : bool
        Run the trained-weights route (:mod:`biper_theory.trained`): train the default
        digits model, or read ``checkpoints``, and report each binarized layer against the
        fitted weight laws (``fig8_trained_weights`` with ``figures``, and the
        ``trained_weights`` entry of ``reproduce.json``). False skips it; so does a missing
        torch (the JSON and ``progress`` say why). Its findings never change
        ``report.passed``.
    checkpoints : sequence of path
        Read these checkpoints (:func:`biper_theory.trained.read_checkpoints`) instead of
        training; they are read before any other work, so a bad file fails at once. Needs
        torch (``ValueError`` without it).
    checkpoint_omega0 : float, optional
        ω₀ for checkpoints that record none.
    train_seed : int
        Seed of the training (default that of ``biper-theory train``).
    train_epochs : int, optional
        Epochs per stage; None keeps the training default (the committed ``figures/``).

    Returns
    -------
    ReproduceReport
        ``report.passed`` is False when any check failed.
    """
    if not (isinstance(mc_samples, int | np.integer) and 1000 <= mc_samples <= 10**9):
        raise ValueError(f"mc_samples must be an integer in [1000, 1e9]; got {mc_samples!r}")
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if not (isinstance(train_seed, int | np.integer) and train_seed >= 0):
        raise ValueError(f"train_seed must be a non-negative integer; got {train_seed!r}")
    if train_epochs is not None and not (isinstance(train_epochs, int | np.integer) and train_epochs >= 1):
        raise ValueError(f"train_epochs must be an integer >= 1 or None; got {train_epochs!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder (existing or new); {str(out)!r} is a file")
    if closed_form is None:
        from . import closed_form as cf_module

        closed_form = cf_module
    timings: dict[str, float] = {}
    checks: list[Check] = []
    files: list[Path] = []
    sources: dict[str, trained_route.WeightSet] | None = None
    if checkpoints:
        if not trained:
            raise ValueError("checkpoints are read by the trained-weights route; do not also skip it")
        missing = trained_route.torch_missing()
        if missing is not None:
            raise ValueError(f"checkpoints need torch to be read: {missing}")
        with _timed(timings, "trained weights: reading checkpoints", progress):
            sources = trained_route.read_checkpoints(checkpoints, omega0=checkpoint_omega0)
    with _timed(timings, "symbolic derivations (SymPy)", progress):
        checks += _stage_sympy()
    with _timed(timings, f"mpmath at {MP_DPS} digits", progress):
        checks += _stage_mpmath(closed_form)
    with _timed(timings, "quadrature (scipy)", progress):
        checks += _stage_quadrature(closed_form)
    with _timed(timings, "Monte Carlo", progress):
        checks += _stage_montecarlo(closed_form, n=int(mc_samples), seed=int(seed))
    checks += _stage_paper(closed_form)
    with _timed(timings, "errata", progress):
        errata_rows = _stage_errata()
    if figures:
        from . import figures as figs

        with _timed(timings, "figures", progress):
            files += figs.write_all(
                out, mc_seed=int(seed), progress=None if progress is None else (lambda n: progress(f"  {n}"))
            )
    findings = _stage_trained(
        out,
        sources,
        trained=trained,
        seed=int(train_seed),
        epochs=train_epochs,
        figures=figures,
        timings=timings,
        files=files,
        progress=progress,
    )
    report = ReproduceReport(
        checks=checks,
        errata=errata_rows,
        files=files,
        timings=timings,
        settings={"seed": int(seed), "mc_samples": int(mc_samples), "mc_k": MC_K, "mp_dps": MP_DPS},
        trained=findings,
    )
    target = out / "reproduce.json"
    report.files.append(target)
    # UTF-8 text (ŵ, γ, ...) rather than \u escapes; sorted as built, no timings: deterministic
    # strict JSON: a non-finite "worst" (a failed check; its verdict says FAIL) becomes null
    payload = finite_or_none(report.to_json(base=out))
    atomic_write(target, json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return report
