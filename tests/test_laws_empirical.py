"""biper_theory.laws.empirical: quantities are sample means of the weights."""

from __future__ import annotations

import numpy as np
import pytest

from biper_theory import laws, weights


def test_quantities_are_sample_means(rng: np.random.Generator) -> None:
    w = rng.laplace(0, 0.05, size=(30, 40))
    law = laws.Empirical(w)
    om = 20.0
    s = np.sin(om * w.reshape(-1))
    q = law.quantities(omega0=om)
    assert float(q.second_moment) == pytest.approx(np.mean(s * s), rel=1e-13)
    assert float(q.optimal_gamma) == pytest.approx(np.mean(np.abs(s)), rel=1e-13)
    assert float(q.sign_flip_probability) == np.mean(s * w.reshape(-1) < 0)
    assert float(q.share_past_half_period) == np.mean(np.abs(om * w) > np.pi / 2)
    assert float(law.crest_share(omega0=om)) == np.mean(np.abs(s) > 0.9)
    assert float(law.cos2_mean(omega0=om)) == pytest.approx(np.mean(np.cos(2 * om * w)), rel=1e-12)
    assert law.n == 1200 and law.n_params == 0 and law.aic is None
    # the same means as the one-pass analysis (float64 route there with exact=True)
    emp = weights.empirical_quantities(w, omega0=om, exact=True)
    assert float(emp.quantization_error) == pytest.approx(float(q.quantization_error), rel=1e-12)


def test_broadcasts_over_omega0_and_invariance(rng: np.random.Generator) -> None:
    w = rng.normal(0, 0.1, size=500)
    law = laws.Empirical(w)
    om = np.array([1.0, 10.0, 100.0])
    m2 = law.second_moment(omega0=om)
    assert m2.shape == (3,)
    np.testing.assert_allclose(m2, [np.mean(np.sin(o * w) ** 2) for o in om], rtol=1e-12)
    np.testing.assert_allclose(law.with_scale(3 * law.scale).second_moment(omega0=om / 3), m2, rtol=1e-12)


def test_pdf_hat_is_the_histogram_density(rng: np.random.Generator) -> None:
    w = rng.normal(0, 0.1, size=2000)
    law = laws.Empirical(w, bins=20)
    dens, edges = np.histogram(np.sin(5.0 * w), bins=20, range=(-1, 1), density=True)
    mids = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_allclose(law.pdf_hat(mids, omega0=5.0), dens, rtol=1e-12)


def test_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="empty"):
        laws.Empirical(np.array([]))
    with pytest.raises(ValueError, match="non-finite"):
        laws.Empirical(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="all weights are 0"):
        laws.Empirical(np.zeros(3))
    with pytest.raises(ValueError, match="real numbers"):
        laws.Empirical(np.array([True, False]))
