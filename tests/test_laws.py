"""biper_theory.laws: the registry, fitting and AIC comparison."""

from __future__ import annotations

import numpy as np
import pytest

from biper_theory import laws


def test_registry_names_and_errors() -> None:
    assert laws.NAMES == ("laplace", "gaussian", "gennorm", "t", "empirical")
    assert laws.get("laplace") is laws.Laplace
    with pytest.raises(
        ValueError, match="law must be one of laplace, gaussian, gennorm, t, empirical; got 'cauchy'"
    ):
        laws.get("cauchy")


def test_best_by_aic_picks_the_generating_law(rng: np.random.Generator) -> None:
    lap = laws.fit_all(rng.laplace(0, 0.05, 20_000), names=("laplace", "gaussian", "empirical"))
    assert laws.best_by_aic(lap) == "laplace"
    gau = laws.fit_all(rng.normal(0, 0.05, 20_000), names=("laplace", "gaussian"))
    assert laws.best_by_aic(gau) == "gaussian"
    with pytest.raises(ValueError, match="at least one fitted"):
        laws.best_by_aic({"empirical": lap["empirical"]})


def test_fit_size_subsamples_the_same_weights_for_every_law(rng: np.random.Generator) -> None:
    w = rng.laplace(0, 0.05, 50_000)
    fits = laws.fit_all(w, names=("laplace", "gaussian"), fit_size=1000, rng=3)
    assert {f.n for f in fits.values()} == {1000}
    sub = np.sort(np.random.default_rng(3).choice(w.size, 1000, replace=False, shuffle=False))
    assert fits["laplace"].b == pytest.approx(np.mean(np.abs(w[sub])), rel=1e-13)
    with pytest.raises(ValueError, match="fit_size"):
        laws.fit("laplace", w, fit_size=1)
