r"""Statistics of a study: does ω₀, or the QE theory, predict accuracy?

Input: the rows of :func:`biper_theory.study.export.export_rows` (or read back from an export
file), so that the report is a function of the export alone. All tests come from scipy.stats
and statsmodels (not in the paper; the choice of tests is the toolkit's):

- **Per ω₀**: mean stage-2 accuracy over seeds with a 95 % Student-t interval
  (``scipy.stats.t.interval``), and the means of the switch drop and of the overall measured
  and model QE at the end of stage 2.
- **Paired differences** against a reference ω₀ (default 20, the paper's value; else the grid
  value nearest to 20 on a log scale): runs paired by seed, mean difference with the 95 %
  interval and p-value of the paired t-test (``scipy.stats.ttest_rel``) and the p-value of the
  Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) where there are ≥ 6 pairs.
- **Spearman correlations** of accuracy (and of the switch drop) with each theory quantity,
  raw (``scipy.stats.spearmanr``) and partial on log ω₀. The partial correlation is that of
  the ranks after removing the rank of log ω₀ by least squares; its p-value is the t-test of
  the coefficient of the quantity's rank in the OLS fit ``rank(y) ~ rank(q) + rank(log ω₀)``
  (statsmodels; ``n − 3`` degrees of freedom), and :math:`r = t/\sqrt{t^2 + n - 3}`. Accuracy
  is set against the weights at the end of stage 2, the switch drop against the weights at the
  end of stage 1 (the weights that are binarized at the switch).
- **Variance shares**: two-way ANOVA without interaction, ``y ~ C(omega0) + C(seed)``
  (statsmodels ``anova_lm``, type II sums of squares), each sum of squares over the total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "QUANTITIES",
    "partial_spearman",
    "render_text",
    "study_report",
    "write_report",
]

#: The overall theory quantities correlated with the outcomes (columns ``stage<k>.overall.<q>``).
QUANTITIES: tuple[str, ...] = (
    "qe",
    "laplace.qe",
    "gaussian.qe",
    "share_past_half_period",
    "sign_flipped",
    "laplace.a",
)

_DEFAULT_REFERENCE = 20.0


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _column(rows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows], dtype=np.float64)


def _ci_mean(x: np.ndarray, confidence: float = 0.95) -> tuple[float | None, float | None]:
    from scipy import stats

    if x.size < 2 or np.all(x == x[0]):
        m = float(x.mean()) if x.size else None
        return (m, m) if x.size >= 2 else (None, None)
    lo, hi = stats.t.interval(confidence, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    return float(lo), float(hi)


def partial_spearman(y: np.ndarray, q: np.ndarray, z: np.ndarray) -> dict[str, float | int | None]:
    """Spearman correlation of ``y`` and ``q`` with the ranks of ``z`` partialled out.

    Returns ``{"r", "p", "n"}``; ``r`` and ``p`` are ``None`` with fewer than 4 points or a
    constant rank vector. See the module docstring for the test.
    """
    import statsmodels.api as sm
    from scipy import stats

    ok = np.isfinite(y) & np.isfinite(q) & np.isfinite(z)
    n = int(ok.sum())
    if n < 4:
        return {"r": None, "p": None, "n": n}
    ry, rq, rz = (stats.rankdata(v[ok]) for v in (y, q, z))
    if np.ptp(rq) == 0 or np.ptp(ry) == 0:
        return {"r": None, "p": None, "n": n}
    design = sm.add_constant(np.column_stack([rq, rz]), has_constant="add")
    if np.linalg.matrix_rank(design) < 3:  # q's ranks follow log ω₀'s exactly: nothing left to correlate
        return {"r": None, "p": None, "n": n}
    fit = sm.OLS(ry, design).fit()
    if not np.isfinite(fit.bse[1]) or fit.bse[1] == 0:
        return {"r": None, "p": None, "n": n}
    t = float(fit.tvalues[1])
    df = float(fit.df_resid)
    return {"r": t / math.sqrt(t * t + df), "p": float(fit.pvalues[1]), "n": n}


def _spearman(y: np.ndarray, q: np.ndarray) -> dict[str, float | int | None]:
    from scipy import stats

    ok = np.isfinite(y) & np.isfinite(q)
    n = int(ok.sum())
    if n < 3 or np.ptp(y[ok]) == 0 or np.ptp(q[ok]) == 0:
        return {"r": None, "p": None, "n": n}
    res = stats.spearmanr(q[ok], y[ok])
    return {"r": _finite(res.statistic), "p": _finite(res.pvalue), "n": n}


def _reference(omegas: Sequence[float], reference: float | None) -> float:
    if reference is not None:
        if not any(math.isclose(reference, w, rel_tol=1e-12) for w in omegas):
            raise ValueError(f"reference: ω₀ = {reference:g} is not in the study's grid {list(omegas)}")
        return float(reference)
    return float(min(omegas, key=lambda w: abs(math.log(w / _DEFAULT_REFERENCE))))


def study_report(
    rows: Sequence[Mapping[str, Any]], *, reference: float | None = None, accuracy: str = "test"
) -> dict[str, Any]:
    """The statistics of a study (strict-JSON values; ``None`` where a statistic is undefined).

    Parameters
    ----------
    rows : sequence of mapping
        Rows of the export (columns ``omega0``, ``seed``, ``stage2_test_accuracy``, ...).
    reference : float, optional
        ω₀ of the paired differences (default: the grid value nearest to 20 on a log scale).
    accuracy : {"test", "val"}
        Which stage-2 accuracy is the outcome.

    Returns
    -------
    dict
        ``per_omega0`` (table), ``paired`` (differences vs ``reference``), ``correlations``
        (``accuracy`` and ``switch_drop``, raw and partial), ``variance`` (shares) and ``n``.
    """
    from scipy import stats

    if accuracy not in ("test", "val"):
        raise ValueError(f"accuracy must be 'test' or 'val'; got {accuracy!r}")
    if not rows:
        raise ValueError("rows: the study has no completed trial")
    acc_key = f"stage2_{accuracy}_accuracy"
    drop_key = f"switch_drop_{accuracy}"
    y = _column(rows, acc_key)
    if not np.isfinite(y).any():
        raise ValueError(f"rows: no {acc_key} recorded (use --accuracy test)")
    omega = _column(rows, "omega0")
    seeds = [int(r["seed"]) for r in rows]
    omegas = sorted(set(omega.tolist()))
    ref = _reference(omegas, reference)

    per_omega = []
    for w in omegas:
        sel = (omega == w) & np.isfinite(y)
        acc = y[sel]
        lo, hi = _ci_mean(acc)
        entry: dict[str, Any] = {
            "omega0": w,
            "n": int(sel.sum()),
            "accuracy_mean": _finite(acc.mean()) if acc.size else None,
            "accuracy_sd": _finite(acc.std(ddof=1)) if acc.size >= 2 else None,
            "accuracy_ci_low": lo,
            "accuracy_ci_high": hi,
        }
        for name, key in (
            ("stage1_accuracy_mean", f"stage1_{accuracy}_accuracy"),
            ("switch_drop_mean", drop_key),
            ("qe_mean", "stage2.overall.qe"),
            ("laplace_qe_mean", "stage2.overall.laplace.qe"),
            ("gaussian_qe_mean", "stage2.overall.gaussian.qe"),
            ("share_past_half_period_mean", "stage2.overall.share_past_half_period"),
        ):
            col = _column(rows, key)[omega == w]
            col = col[np.isfinite(col)]
            entry[name] = _finite(col.mean()) if col.size else None
        per_omega.append(entry)

    by_cell = {
        (float(r["omega0"]), int(r["seed"])): float(v) for r, v in zip(rows, y, strict=True) if np.isfinite(v)
    }
    paired = []
    for w in omegas:
        if w == ref:
            continue
        common = sorted(s for (om, s) in by_cell if om == w and (ref, s) in by_cell)
        a = np.array([by_cell[(w, s)] for s in common])
        b = np.array([by_cell[(ref, s)] for s in common])
        d = a - b
        entry = {
            "omega0": w,
            "reference": ref,
            "n": len(common),
            "mean_difference": _finite(d.mean()) if d.size else None,
        }
        entry.update({"ci_low": None, "ci_high": None, "t_pvalue": None, "wilcoxon_pvalue": None})
        if d.size >= 2 and np.ptp(d) > 0:
            res = stats.ttest_rel(a, b)
            ci = res.confidence_interval(0.95)
            entry.update(
                {"ci_low": _finite(ci.low), "ci_high": _finite(ci.high), "t_pvalue": _finite(res.pvalue)}
            )
        if d.size >= 6 and np.any(d != 0):
            entry["wilcoxon_pvalue"] = _finite(stats.wilcoxon(a, b).pvalue)
        paired.append(entry)

    log_omega = np.log(omega)
    correlations: dict[str, list[dict[str, Any]]] = {"accuracy": [], "switch_drop": []}
    drop = _column(rows, drop_key)
    for target, values, stage in (("accuracy", y, "stage2"), ("switch_drop", drop, "stage1")):
        if not np.isfinite(values).any():
            continue
        raw = _spearman(values, log_omega)
        correlations[target].append(
            {"quantity": "log_omega0", "column": "omega0", "raw": raw, "partial": None}
        )
        for q in QUANTITIES:
            col = f"{stage}.overall.{q}"
            qv = _column(rows, col)
            if not np.isfinite(qv).any():
                continue
            correlations[target].append(
                {
                    "quantity": q,
                    "column": col,
                    "raw": _spearman(values, qv),
                    "partial": partial_spearman(values, qv, log_omega),
                }
            )

    return {
        "outcome": acc_key,
        "reference": ref,
        "n": int(np.isfinite(y).sum()),
        "omega0": omegas,
        "seeds": sorted(set(seeds)),
        "per_omega0": per_omega,
        "paired": paired,
        "correlations": correlations,
        "variance": _variance_shares(omega, np.array(seeds), y),
        "seed_sd_within_omega0": _pooled_sd(omega, y),
    }


def _pooled_sd(omega: np.ndarray, y: np.ndarray) -> float | None:
    """Pooled within-ω₀ standard deviation of the outcome (seed-to-seed noise)."""
    ss = 0.0
    df = 0
    for w in np.unique(omega):
        v = y[(omega == w) & np.isfinite(y)]
        if v.size >= 2:
            ss += float(((v - v.mean()) ** 2).sum())
            df += v.size - 1
    return math.sqrt(ss / df) if df else None


def _variance_shares(omega: np.ndarray, seeds: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Shares of the total sum of squares from ω₀, seed and the residual (two-way ANOVA, type II)."""
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    ok = np.isfinite(y)
    out: dict[str, Any] = {
        "omega0": None,
        "seed": None,
        "residual": None,
        "omega0_pvalue": None,
        "seed_pvalue": None,
    }
    if (
        len(np.unique(omega[ok])) < 2
        or len(np.unique(seeds[ok])) < 2
        or ok.sum() <= len(np.unique(omega[ok])) + len(np.unique(seeds[ok])) - 1
    ):
        return out
    df = pd.DataFrame({"y": y[ok], "omega0": omega[ok], "seed": seeds[ok]})
    table = anova_lm(smf.ols("y ~ C(omega0) + C(seed)", data=df).fit(), typ=2)
    total = float(((df["y"] - df["y"].mean()) ** 2).sum())
    if total <= 0:
        return out
    out.update(
        {
            "omega0": float(table.loc["C(omega0)", "sum_sq"]) / total,
            "seed": float(table.loc["C(seed)", "sum_sq"]) / total,
            "residual": float(table.loc["Residual", "sum_sq"]) / total,
            "omega0_pvalue": _finite(table.loc["C(omega0)", "PR(>F)"]),
            "seed_pvalue": _finite(table.loc["C(seed)", "PR(>F)"]),
        }
    )
    return out


def _fmt(x: Any, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec)


def render_text(result: Mapping[str, Any]) -> str:
    """The report as plain text: the per-ω₀ table, the paired differences, the correlations."""
    lines = [f"outcome: {result['outcome']} (n = {result['n']}), reference ω₀ = {result['reference']:g}"]
    lines.append(
        f"{'ω₀':>8} {'n':>3} {'mean':>7} {'95% CI':>17} {'sd':>7} {'drop':>7} {'QE':>7} {'QE lap':>7}"
    )
    for e in result["per_omega0"]:
        ci = f"[{_fmt(e['accuracy_ci_low'])}, {_fmt(e['accuracy_ci_high'])}]"
        lines.append(
            f"{e['omega0']:>8g} {e['n']:>3} {_fmt(e['accuracy_mean']):>7} {ci:>17} "
            f"{_fmt(e['accuracy_sd']):>7} "
            f"{_fmt(e['switch_drop_mean']):>7} {_fmt(e['qe_mean']):>7} {_fmt(e['laplace_qe_mean']):>7}"
        )
    lines.append(f"paired differences vs ω₀ = {result['reference']:g} (by seed; t-test):")
    for e in result["paired"]:
        lines.append(
            f"  ω₀ = {e['omega0']:g}: {_fmt(e['mean_difference'], '+.4f')} "
            f"[{_fmt(e['ci_low'], '+.4f')}, {_fmt(e['ci_high'], '+.4f')}], p = {_fmt(e['t_pvalue'], '.3g')}"
        )
    for target, entries in result["correlations"].items():
        if not entries:
            continue
        lines.append(f"Spearman with {target}: raw r (p) | partial on log ω₀ r (p)")
        for e in entries:
            raw, part = e["raw"], e["partial"] or {}
            lines.append(
                f"  {e['quantity']:<24} {_fmt(raw['r'], '+.3f')} ({_fmt(raw['p'], '.2g')}) | "
                f"{_fmt(part.get('r'), '+.3f')} ({_fmt(part.get('p'), '.2g')})"
            )
    v = result["variance"]
    lines.append(
        f"variance shares: ω₀ {_fmt(v['omega0'], '.3f')}, seed {_fmt(v['seed'], '.3f')}, "
        f"residual {_fmt(v['residual'], '.3f')}; "
        f"seed-to-seed sd within ω₀ {_fmt(result['seed_sd_within_omega0'])}"
    )
    return "\n".join(lines)


def write_report(
    result: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], out: str | Path, *, name: str = "study"
) -> list[Path]:
    """Write ``report.json``, the figure (PNG and PDF) and its numbers (CSV) to the folder ``out``."""
    import json

    from biper_theory import figures
    from biper_theory._io import atomic_write, write_json

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out: {str(folder)!r} is a file, not a folder")
    json.dumps(result, allow_nan=False)  # strict JSON, checked before anything is written
    fig = figures.study_panels(rows, result, title=name)
    paths = [write_json(folder / "report.json", result)]
    for ext in ("png", "pdf"):
        paths.append(figures.save_figure(fig, folder / f"{name}.{ext}"))
    table = [
        "omega0,n,accuracy_mean,accuracy_ci_low,accuracy_ci_high,switch_drop_mean,qe_mean,laplace_qe_mean"
    ]
    for e in result["per_omega0"]:
        table.append(
            ",".join(
                "" if e[k] is None else repr(e[k])
                for k in (
                    "omega0",
                    "n",
                    "accuracy_mean",
                    "accuracy_ci_low",
                    "accuracy_ci_high",
                    "switch_drop_mean",
                    "qe_mean",
                    "laplace_qe_mean",
                )
            )
        )
    paths.append(atomic_write(folder / f"{name}.csv", "\n".join(table) + "\n"))
    return paths
