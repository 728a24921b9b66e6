"""Study statistics: each number equals a direct recomputation with scipy/statsmodels from the rows."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("statsmodels", reason="statsmodels is needed by study report")
from scipy import stats

from biper_theory.study.report import partial_spearman, render_text, study_report, write_report

OMEGAS = (2.0, 5.0, 20.0, 80.0)
SEEDS = (0, 1, 2, 3, 4, 5)


def _rows(rng: np.random.Generator, *, drop: bool = True) -> list[dict[str, Any]]:
    """Synthetic export rows: accuracy rises with log ω₀, QE depends on ω₀ plus noise."""
    rows = []
    for w in OMEGAS:
        for s in SEEDS:
            qe = 0.05 + 0.02 * math.log(w) + rng.normal(0, 0.005)
            rows.append(
                {
                    "trial": len(rows),
                    "omega0": w,
                    "seed": s,
                    "stage1_test_accuracy": 0.9 + rng.normal(0, 0.01),
                    "stage2_test_accuracy": 0.8 + 0.02 * math.log(w) + 0.01 * s / 5 + rng.normal(0, 0.01),
                    "stage2_val_accuracy": None,
                    "switch_drop_test": (0.1 + rng.normal(0, 0.02)) if drop else None,
                    "stage2.overall.qe": qe,
                    "stage2.overall.laplace.qe": qe * 1.1,
                    "stage2.overall.gaussian.qe": qe * 0.9 + rng.normal(0, 0.001),
                    "stage2.overall.share_past_half_period": 0.1 * math.log(w) + rng.normal(0, 0.01),
                    "stage2.overall.sign_flipped": 0.01 * w + rng.normal(0, 0.01),
                    "stage2.overall.laplace.a": 0.07 * w,
                    "stage1.overall.qe": qe,
                    "stage1.overall.laplace.qe": qe * 1.1,
                    "stage1.overall.gaussian.qe": qe,
                    "stage1.overall.share_past_half_period": 0.1 * math.log(w),
                    "stage1.overall.sign_flipped": 0.01 * w + rng.normal(0, 0.01),
                    "stage1.overall.laplace.a": 0.07 * w + rng.normal(0, 0.01),
                }
            )
    return rows


def _col(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([r[key] for r in rows], dtype=float)


def test_report_equals_direct_recomputation(rng: np.random.Generator) -> None:
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    rows = _rows(rng)
    rep = study_report(rows)
    y, w = _col(rows, "stage2_test_accuracy"), _col(rows, "omega0")
    assert rep["reference"] == 20.0 and rep["n"] == len(rows)
    for e in rep["per_omega0"]:
        acc = y[w == e["omega0"]]
        assert e["accuracy_mean"] == pytest.approx(acc.mean(), rel=1e-12)
        lo, hi = stats.t.interval(0.95, acc.size - 1, loc=acc.mean(), scale=stats.sem(acc))
        assert (e["accuracy_ci_low"], e["accuracy_ci_high"]) == pytest.approx((lo, hi), rel=1e-12)
    for e in rep["paired"]:
        a, b = y[w == e["omega0"]], y[w == 20.0]  # rows are sorted by seed within ω₀
        res = stats.ttest_rel(a, b)
        assert e["mean_difference"] == pytest.approx((a - b).mean(), rel=1e-12)
        assert e["t_pvalue"] == pytest.approx(res.pvalue, rel=1e-10)
        assert e["ci_low"] == pytest.approx(res.confidence_interval().low, rel=1e-10)
        assert e["wilcoxon_pvalue"] == pytest.approx(stats.wilcoxon(a, b).pvalue, rel=1e-10)
    entries = {e["quantity"]: e for e in rep["correlations"]["accuracy"]}
    for q in ("qe", "laplace.qe", "share_past_half_period"):
        qv = _col(rows, f"stage2.overall.{q}")
        raw = stats.spearmanr(qv, y)
        assert entries[q]["raw"]["r"] == pytest.approx(raw.statistic, rel=1e-12)
        assert entries[q]["raw"]["p"] == pytest.approx(raw.pvalue, rel=1e-10)
        # partial Spearman on log ω₀ = Pearson correlation of rank residuals
        ry, rq, rz = stats.rankdata(y), stats.rankdata(qv), stats.rankdata(np.log(w))
        res_y = ry - np.polyval(np.polyfit(rz, ry, 1), rz)
        res_q = rq - np.polyval(np.polyfit(rz, rq, 1), rz)
        r = float(np.corrcoef(res_y, res_q)[0, 1])
        assert entries[q]["partial"]["r"] == pytest.approx(r, rel=1e-9)
        t = r * math.sqrt((len(y) - 3) / (1 - r * r))
        assert entries[q]["partial"]["p"] == pytest.approx(2 * stats.t.sf(abs(t), len(y) - 3), rel=1e-8)
    df = pd.DataFrame({"y": y, "omega0": w, "seed": _col(rows, "seed")})
    table = anova_lm(smf.ols("y ~ C(omega0) + C(seed)", data=df).fit(), typ=2)
    total = float(((y - y.mean()) ** 2).sum())
    assert rep["variance"]["omega0"] == pytest.approx(table.loc["C(omega0)", "sum_sq"] / total, rel=1e-10)
    assert rep["variance"]["seed"] == pytest.approx(table.loc["C(seed)", "sum_sq"] / total, rel=1e-10)
    # balanced design: the three shares add up to one
    v = rep["variance"]
    assert v["omega0"] + v["seed"] + v["residual"] == pytest.approx(1.0, abs=1e-12)
    json.dumps(rep, allow_nan=False)
    assert "paired differences" in render_text(rep)


def test_report_without_switch_or_val(rng: np.random.Generator) -> None:
    rows = _rows(rng, drop=False)
    rep = study_report(rows, reference=2.0)
    assert rep["reference"] == 2.0 and rep["correlations"]["switch_drop"] == []
    with pytest.raises(ValueError, match="no stage2_val_accuracy"):
        study_report(rows, accuracy="val")
    with pytest.raises(ValueError, match="not in the study's grid"):
        study_report(rows, reference=3.0)
    with pytest.raises(ValueError, match="no completed trial"):
        study_report([])


@given(
    st.lists(st.integers(-1000, 1000), min_size=6, max_size=30, unique=True),
    st.floats(0.1, 10.0),
)
def test_partial_spearman_is_invariant_under_monotone_maps(values: list[float], k: float) -> None:
    """Rank statistics: a strictly increasing map of y, q or z leaves (r, p) unchanged."""
    g = np.random.default_rng(len(values))
    y = np.asarray(values, dtype=float)
    q = y + g.normal(0, 1, y.size)
    z = g.normal(0, 1, y.size)
    base = partial_spearman(y, q, z)
    moved = partial_spearman(np.exp(y / 1e3) * k, q**3, z + 5)
    if base["r"] is None:
        assert moved["r"] is None
    else:
        assert moved["r"] == pytest.approx(base["r"], abs=1e-9)
        assert -1.0 <= base["r"] <= 1.0


def test_write_report_files(tmp_path: Any, rng: np.random.Generator) -> None:
    rows = _rows(rng)
    rep = study_report(rows)
    paths = write_report(rep, rows, tmp_path / "out", name="demo")
    names = sorted(p.name for p in paths)
    assert names == ["demo.csv", "demo.pdf", "demo.png", "report.json"]
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == json.loads(json.dumps(rep))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        write_report(rep, rows, tmp_path / "file")


@pytest.mark.parametrize("name", ["digits", "fashion-mnist"])
def test_committed_study_report_is_its_export_recomputed(name: str) -> None:
    """studies/<name>/report.json (quoted in the README and the docs) is what `study report`
    computes from the committed export, and report.txt its text."""
    from pathlib import Path

    from biper_theory.study.export import read_rows

    folder = Path(__file__).resolve().parents[1] / "studies" / name
    rows = read_rows((folder / "export.json").read_text(encoding="utf-8"), "json")
    rep = json.loads(json.dumps(study_report(rows)))
    assert rep == json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert render_text(rep).strip() == (folder / "report.txt").read_text(encoding="utf-8").strip()
