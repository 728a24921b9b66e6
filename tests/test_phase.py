"""biper_theory.phase: phase statistics equal a direct numpy computation; the test is calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from biper_theory import laws, phase


def test_numbers_equal_direct_numpy(rng: np.random.Generator) -> None:
    w = rng.laplace(0, 0.05, size=(64, 9))
    law = laws.fit("gaussian", w)
    ps = phase.phase_statistics(w, omega0=20.0, law=law)
    x = w.reshape(-1) * 20.0
    c = np.cos(2 * x)
    assert ps.crest_share == np.mean(np.abs(np.sin(x)) > 0.9)
    assert ps.cos2_mean == pytest.approx(np.mean(c), rel=1e-13)
    assert ps.cos2_mean_model == pytest.approx(np.exp(-2 * (law.sigma * 20) ** 2), rel=1e-13)
    assert ps.crest_share_model == float(law.crest_share(omega0=20.0))
    z = (np.mean(c) - ps.cos2_mean_model) / (np.std(c, ddof=1) / np.sqrt(c.size))
    assert ps.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-10)
    assert ps.n == w.size
    d = ps.as_dict()
    assert set(d) == {
        "crest_share",
        "crest_share_model",
        "cos2_mean",
        "cos2_mean_model",
        "p_value",
        "n",
        "test",
    }


@pytest.mark.parametrize(
    "law", [laws.Laplace(b=0.05), laws.Gaussian(sigma=0.07)], ids=["laplace", "gaussian"]
)
def test_p_value_is_uniform_under_the_null(law: laws.Law) -> None:
    gen = np.random.default_rng(2024)
    draw = {
        "laplace": lambda n: gen.laplace(0, law.scale, n),
        "gaussian": lambda n: gen.normal(0, law.scale, n),
    }
    ps = [phase.phase_statistics(draw[law.name](400), omega0=20.0, law=law).p_value for _ in range(400)]
    ks = stats.kstest(ps, "uniform")
    assert ks.pvalue > 0.01, ks
    assert 0.02 < np.mean(np.asarray(ps) < 0.05) < 0.09


def test_detects_weights_piled_at_the_crests(rng: np.random.Generator) -> None:
    w = rng.laplace(0, 0.05, size=5000)
    crest = np.pi / 2 / 20.0 * np.sign(w) * (1 + 2 * np.floor(np.abs(w) * 20 / np.pi))
    piled = np.where(rng.random(w.size) < 0.3, crest, w)
    ps = phase.phase_statistics(piled, omega0=20.0, law=laws.fit("laplace", piled))
    assert ps.p_value < 1e-6 and ps.crest_share > ps.crest_share_model


def test_phase_histogram_and_model_density(rng: np.random.Generator) -> None:
    w = rng.laplace(0, 0.05, size=4000)
    edges, dens = phase.phase_histogram(w, omega0=20.0, bins=30)
    assert edges[0] == -np.pi / 2 and edges[-1] == np.pi / 2
    assert np.sum(dens * np.diff(edges)) == pytest.approx(1.0)
    th = phase.phase(w, omega0=20.0)
    assert np.all((th >= -np.pi / 2) & (th < np.pi / 2))
    np.testing.assert_allclose(np.sin(th) ** 2, np.sin(20.0 * w) ** 2, atol=1e-12)
    law = laws.Laplace(b=0.05)
    total, _ = integrate.quad(
        lambda t: float(phase.phase_density(law, t, omega0=20.0)), -np.pi / 2, np.pi / 2
    )
    assert total == pytest.approx(1.0, abs=1e-10)
    # E cos 2θ under the model density is the law's E cos 2ω₀W
    m, _ = integrate.quad(
        lambda t: np.cos(2 * t) * float(phase.phase_density(law, t, omega0=20.0)), -np.pi / 2, np.pi / 2
    )
    assert m == pytest.approx(float(law.cos2_mean(omega0=20.0)), abs=1e-10)


def test_bad_input() -> None:
    law = laws.Laplace(b=1.0)
    with pytest.raises(ValueError, match="omega0"):
        phase.phase_statistics([1.0, 2.0], omega0=-1.0, law=law)
    with pytest.raises(ValueError, match="empty"):
        phase.phase_statistics([], omega0=1.0, law=law)
    with pytest.raises(ValueError, match="bins"):
        phase.phase_histogram([1.0], omega0=1.0, bins=0)
