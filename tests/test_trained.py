"""The trained-weights route: every number equals a direct numpy/scipy computation from the
weights, the JSON is strict, and the route is skipped cleanly (no torch, ``--no-train``) or
run on given checkpoints."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from biper_theory import reproduce as R
from biper_theory import trained as T
from biper_theory.cli import main

OMEGA0 = 20.0
#: Periods summed on each side in the periodic-sum routes below (X = ω₀W spans a few of them).
_K = 400
FAST_MC = 20_000
#: Bin probabilities against the cdf route: Gauss–Legendre on a closed-form pdf of ŵ, or on
#: the numerical pdf of ŵ of gennorm and t (accurate to ~1e-10 relative, see their modules).
_ATOL = {"laplace": 1e-12, "gaussian": 1e-12, "gennorm": 1e-11, "t": 1e-11}


def _scipy_law(law: T.LawFindings) -> Any:
    """The fitted law as a frozen scipy.stats distribution of W (an independent route)."""
    p = law.params
    if law.law == "laplace":
        return stats.laplace(scale=p["b"])
    if law.law == "gaussian":
        return stats.norm(scale=p["sigma"])
    if law.law == "gennorm":
        return stats.gennorm(p["beta"], scale=p["scale"])
    if law.law == "t":
        return stats.t(p["df"], scale=p["scale"])
    raise AssertionError(f"no scipy twin for {law.law}")


def _hat_w_cdf(dist: Any, y: np.ndarray, omega0: float) -> np.ndarray:
    # P[sin X ≤ sin θ] = Σ_k P[(2k+1)π − θ ≤ X ≤ (2k+2)π + θ], X = ω₀W, θ = arcsin y
    th = np.arcsin(np.asarray(y, dtype=np.float64))[:, None]
    k = np.arange(-_K, _K + 1)[None, :] * 2.0 * np.pi
    hi = dist.cdf((k + 2.0 * np.pi + th) / omega0)
    lo = dist.cdf((k + np.pi - th) / omega0)
    return np.sum(hi - lo, axis=1)


def _phase_cdf_diff(dist: Any, edges: np.ndarray, omega0: float) -> np.ndarray:
    # P[θ ∈ [e_j, e_{j+1})], θ = ((X + π/2) mod π) − π/2: Σ_k P[kπ + e_j ≤ X < kπ + e_{j+1}]
    k = np.arange(-_K, _K + 1)[None, :] * np.pi
    c = dist.cdf((k + edges[:, None]) / omega0)
    return np.sum(c[1:] - c[:-1], axis=1)


def _expect(dist: Any, g: Any, omega0: float) -> float:
    """E g(ω₀W) by Gauss–Legendre on every half-period within 60 periods of 0, plus the tail
    mass times the period average of g (g has period π here)."""
    nodes, weights = np.polynomial.legendre.leggauss(48)
    k = np.arange(-120, 120)
    a = k * np.pi
    x = a[:, None] + 0.5 * np.pi * (nodes[None, :] + 1.0)
    inner = float(np.sum(g(x) * dist.pdf(x / omega0) / omega0 * 0.5 * np.pi * weights[None, :]))
    tail = 2.0 * float(dist.sf(120 * np.pi / omega0))
    xs = np.linspace(0.0, np.pi, 20001)
    mean_g = float(np.mean(g(xs[:-1])))
    return inner + tail * mean_g


def _crest_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weights like trained ones: a smooth bulk plus a pile next to the crests ω₀w ≈ ±π/2."""
    bulk = rng.laplace(0.0, 0.05, size=n // 2)
    crest = np.pi / (2 * OMEGA0) * rng.choice([-1.0, 1.0], size=n - n // 2) + rng.normal(0, 0.004, n - n // 2)
    return np.concatenate([bulk, crest]).reshape(-1, 3, 3)


@pytest.fixture(scope="module")
def layer() -> tuple[np.ndarray, T.LayerFindings]:
    w = _crest_weights(np.random.default_rng(7), 1800)
    return w, T.analyze_layer(w, omega0=OMEGA0, layer="conv", source="s")


# ----------------------------------------------------------------------------------------
# Bins and bin probabilities
# ----------------------------------------------------------------------------------------


def test_hat_w_bins_are_equal_in_arcsin() -> None:
    edges = T.hat_w_bin_edges()
    assert edges.size == T.HIST_BINS + 1 and edges[0] == -1.0 and edges[-1] == 1.0
    assert edges[T.HIST_BINS // 2] == 0.0
    np.testing.assert_allclose(np.diff(np.arcsin(edges)), np.pi / T.HIST_BINS, rtol=1e-12)
    with pytest.raises(ValueError, match="bins"):
        T.hat_w_bin_edges(1)


def test_law_bin_probabilities_equal_cdf_differences(layer: tuple[np.ndarray, T.LayerFindings]) -> None:
    # Gauss–Legendre over the law's pdf of ŵ against the periodic sums of scipy's cdf of W
    _, lf = layer
    edges = T.hat_w_bin_edges()
    for law in lf.laws.values():
        exact = np.diff(_hat_w_cdf(_scipy_law(law), edges, OMEGA0))
        np.testing.assert_allclose(law.bin_probabilities, exact, rtol=0, atol=_ATOL[law.law], err_msg=law.law)
        assert abs(law.bin_probabilities.sum() - 1.0) < 40 * _ATOL[law.law]


def test_law_phase_probabilities_equal_cdf_differences(layer: tuple[np.ndarray, T.LayerFindings]) -> None:
    _, lf = layer
    for law in lf.laws.values():
        exact = _phase_cdf_diff(_scipy_law(law), T.phase_bin_edges(), OMEGA0)
        np.testing.assert_allclose(
            law.phase_probabilities, exact, rtol=0, atol=_ATOL[law.law], err_msg=law.law
        )


# ----------------------------------------------------------------------------------------
# Every number of a layer, recomputed with numpy/scipy from the weights
# ----------------------------------------------------------------------------------------


def test_measured_numbers_equal_numpy(layer: tuple[np.ndarray, T.LayerFindings]) -> None:
    w, lf = layer
    x = w.ravel()
    s = np.sin(OMEGA0 * x)
    assert lf.n == x.size and lf.omega0 == OMEGA0
    assert lf.second_moment == pytest.approx(np.mean(s**2), rel=1e-13)
    assert lf.optimal_gamma == pytest.approx(np.mean(np.abs(s)), rel=1e-13)
    assert lf.quantization_error == pytest.approx(np.mean(s**2) - np.mean(np.abs(s)) ** 2, rel=1e-12)
    assert lf.share_past_half_period == np.count_nonzero(np.abs(OMEGA0 * x) > np.pi / 2) / x.size
    assert lf.crest_share == np.count_nonzero(np.abs(s) > 0.9) / x.size
    assert lf.cos2_mean == pytest.approx(np.mean(np.cos(2 * OMEGA0 * x)), rel=1e-12, abs=1e-15)
    counts, _ = np.histogram(s, bins=np.sin(np.linspace(-np.pi / 2, np.pi / 2, T.HIST_BINS + 1)))
    np.testing.assert_array_equal(lf.hat_w_counts, counts)
    theta = np.mod(OMEGA0 * x + np.pi / 2, np.pi) - np.pi / 2
    np.testing.assert_array_equal(lf.phase_counts, np.histogram(theta, bins=T.phase_bin_edges())[0])
    assert lf.hat_w_counts.sum() == x.size and lf.phase_counts.sum() == x.size


def test_law_numbers_equal_scipy(layer: tuple[np.ndarray, T.LayerFindings]) -> None:
    w, lf = layer
    x = w.ravel()
    aics = {}
    for name, law in lf.laws.items():
        dist = _scipy_law(law)
        k = len(law.params)
        aics[name] = 2 * k - 2 * float(np.sum(dist.logpdf(x)))
        assert law.aic == pytest.approx(aics[name], rel=1e-9), name
        # KS distance of w (the layer is below the KS subsample size, so all weights are used)
        assert law.ks_statistic == pytest.approx(stats.kstest(x, dist.cdf).statistic, rel=1e-9), name
        # the model's E ŵ², γ*, QE* and E cos 2ω₀W by quadrature of the definitions
        m2 = _expect(dist, lambda t: np.sin(t) ** 2, OMEGA0)
        g = _expect(dist, lambda t: np.abs(np.sin(t)), OMEGA0)
        assert law.second_moment == pytest.approx(m2, rel=1e-8), name
        assert law.optimal_gamma == pytest.approx(g, rel=1e-8), name
        assert law.quantization_error == pytest.approx(m2 - g * g, rel=1e-7), name
        cos2 = _expect(dist, lambda t: np.cos(2 * t), OMEGA0)
        assert law.cos2_mean == pytest.approx(cos2, abs=1e-8)
        # the phase test: z-test of the mean of cos 2ω₀w against the law's, sample variance
        c = np.cos(2 * OMEGA0 * x)
        z = (c.mean() - cos2) / (c.std(ddof=1) / np.sqrt(x.size))
        assert law.phase_p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6, abs=1e-300)
        # crest share P[|sin X| > 0.9] = P[sin X > 0.9] + P[sin X < −0.9]
        cdf = _hat_w_cdf(dist, np.array([-0.9, 0.9]), OMEGA0)
        assert law.crest_share == pytest.approx(cdf[0] + 1.0 - cdf[1], rel=1e-9), name
        # Pearson chi-square of the ŵ histogram against the bin probabilities
        p = np.diff(_hat_w_cdf(dist, T.hat_w_bin_edges(), OMEGA0))
        o = lf.hat_w_counts
        chi2 = float(np.sum((o - x.size * p) ** 2 / (x.size * p)))
        df = T.HIST_BINS - 1 - k
        assert law.gof.statistic == pytest.approx(chi2, rel=1e-9), name
        assert law.gof.df == df
        assert law.gof.p_value == pytest.approx(stats.chi2.sf(chi2, df), rel=1e-6, abs=1e-300)
        assert law.gof.tv_distance == pytest.approx(0.5 * np.sum(np.abs(o / x.size - p)), rel=1e-9)
        assert law.gof.min_expected == pytest.approx(x.size * p.min(), rel=1e-9)
    best = min(aics, key=lambda k: aics[k])
    assert lf.best_law == best
    for name, law in lf.laws.items():
        assert law.delta_aic == pytest.approx(aics[name] - aics[best], abs=1e-6)


def test_chi_square_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        T.hat_w_chi_square([1, 2], [0.5, 0.25, 0.25], n_params=0)
    with pytest.raises(ValueError, match="> 0"):
        T.hat_w_chi_square([1, 2, 3], [0.5, 0.5, 0.0], n_params=0)
    with pytest.raises(ValueError, match="degree of freedom"):
        T.hat_w_chi_square([1, 2, 3], [0.2, 0.3, 0.5], n_params=2)


def test_analyze_layer_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="omega0"):
        T.analyze_layer(np.ones(10), omega0=0.0)
    with pytest.raises(ValueError, match="w"):
        T.analyze_layer(np.array([0.1, np.nan]), omega0=OMEGA0)
    with pytest.raises(ValueError, match="sources"):
        T.analyze({})


def test_json_is_strict_rounded_and_complete(layer: tuple[np.ndarray, T.LayerFindings]) -> None:
    w, lf = layer
    findings = T.analyze({"s": T.WeightSet(layers={"conv": w}, omega0=OMEGA0, info={"kind": "test"})})
    data = findings.to_json()
    text = json.dumps(data, allow_nan=False)  # strict: raises on NaN/inf
    assert json.loads(text) == data
    assert data["status"] == "done" and data["goodness_of_fit"] == T.GOF_TEST
    assert data["sources"] == {"s": {"omega0": OMEGA0, "kind": "test"}}
    (row,) = data["layers"]
    assert row["measured"]["quantization_error"] == float(f"{lf.quantization_error:.10g}")
    assert set(row["laws"]) == set(T.LAWS)
    for law in row["laws"].values():
        assert set(law) == {
            "params",
            "aic",
            "delta_aic",
            "ks_statistic_w",
            "hat_w_chi_square",
            "model",
            "phase",
        }
        assert set(law["phase"]) == {"crest_share_model", "cos2_mean_model", "p_value"}
    assert T.skipped("why").to_json() == {"status": "skipped", "reason": "why"}


# ----------------------------------------------------------------------------------------
# Where the weights come from (torch), and the route inside reproduce
# ----------------------------------------------------------------------------------------


def _tiny_checkpoint(path: Path, *, stage: int = 2, omega0: float = OMEGA0) -> Path:
    torch = pytest.importorskip("torch")
    from biper_theory.nn import build_model, init_latent_weights, save_checkpoint

    gen = torch.Generator().manual_seed(3)
    model = build_model(
        "resnet-small", num_classes=10, in_channels=1, omega0=omega0, stage=stage, generator=gen
    )
    init_latent_weights(model, "laplace", generator=gen, b=0.05)
    meta = {"omega0": omega0, "stage": stage, "arch": "resnet-small", "dataset": "digits", "seed": 3}
    save_checkpoint(path, model, meta)
    return path


def test_checkpoint_route_equals_numpy_on_its_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from biper_theory.nn import load_latent_weights

    ckpt = _tiny_checkpoint(tmp_path / "tiny.pt")
    rc = main(["reproduce", "--out", str(tmp_path / "out"), "--no-figures", "--quiet", "--format", "json",
               "--mc-samples", str(FAST_MC), "--checkpoint", str(ckpt)])  # fmt: skip
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    on_disk = json.loads((tmp_path / "out" / "reproduce.json").read_text(encoding="utf-8"))
    tw = on_disk["trained_weights"]
    assert payload["trained_weights"] == tw and tw["status"] == "done"
    assert list(tw["sources"]) == ["stage2"] and tw["sources"]["stage2"]["path"] == str(ckpt)
    lw = load_latent_weights(ckpt)
    assert [r["layer"] for r in tw["layers"]] == list(lw.layers)
    for row in tw["layers"]:
        x = lw.layers[row["layer"]].ravel()
        s = np.sin(OMEGA0 * x)
        m = row["measured"]
        assert row["n"] == x.size
        assert m["second_moment"] == pytest.approx(np.mean(s**2), rel=1e-9)
        assert m["optimal_gamma"] == pytest.approx(np.mean(np.abs(s)), rel=1e-9)
        assert m["quantization_error"] == pytest.approx(np.mean(s**2) - np.mean(np.abs(s)) ** 2, rel=1e-9)
        assert m["crest_share"] == pytest.approx(np.mean(np.abs(s) > 0.9), rel=1e-9)
        assert m["cos2_mean"] == pytest.approx(np.mean(np.cos(2 * OMEGA0 * x)), rel=1e-9, abs=1e-12)
        lap = row["laws"]["laplace"]
        assert lap["params"]["b"] == pytest.approx(np.mean(np.abs(x)), rel=1e-9)
        g = row["laws"]["gaussian"]
        assert g["params"]["sigma"] == pytest.approx(np.sqrt(np.mean(x * x)), rel=1e-9)
    assert payload["passed"] is True  # findings never change the verdict


def test_checkpoint_route_writes_fig8(tmp_path: Path) -> None:
    from biper_theory import figures as F

    ckpt = _tiny_checkpoint(tmp_path / "tiny.pt", stage=1)
    ((label, ws),) = T.read_checkpoints([ckpt]).items()
    assert label == "stage1"
    two = dict(list(ws.layers.items())[:2])  # two rows are enough to draw (and fast)
    findings = T.analyze({label: T.WeightSet(layers=two, omega0=ws.omega0, info=ws.info)})
    files = F.write_trained_weights(tmp_path / "figs", findings)
    names = {p.name for p in files}
    assert names == {
        "fig8_trained_weights.pdf",
        "fig8_trained_weights.png",
        "fig8_trained_weights.csv",
        "fig8_trained_weights_phase.csv",
        "fig8_trained_weights_pdf.csv",
    }
    header = (tmp_path / "figs" / "fig8_trained_weights.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["bin_low", "bin_high"]
    assert len(header) == 2 + len(findings.layers) * (1 + len(T.LAWS))


def test_no_train_skips_the_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["reproduce", "--out", str(tmp_path), "--no-figures", "--no-train", "--mc-samples", str(FAST_MC)]
    )
    captured = capsys.readouterr()
    assert rc == 0
    assert "Trained weights: skipped: skipped on request (--no-train)" in captured.out
    assert "trained weights: skipped" in captured.err
    data = json.loads((tmp_path / "reproduce.json").read_text(encoding="utf-8"))
    assert data["trained_weights"] == {"status": "skipped", "reason": "skipped on request (--no-train)"}
    assert not list(tmp_path.glob("fig8*"))


def test_without_torch_the_route_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert "torch is not installed" in (T.torch_missing() or "")
    report = R.run(tmp_path, mc_samples=FAST_MC, figures=False)
    assert report.passed
    tw = json.loads((tmp_path / "reproduce.json").read_text(encoding="utf-8"))["trained_weights"]
    assert tw["status"] == "skipped" and "torch is not installed" in tw["reason"]
    with pytest.raises(ValueError, match="checkpoints need torch"):
        R.run(tmp_path, mc_samples=FAST_MC, figures=False, checkpoints=["x.pt"])


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(
            ["--no-train", "--checkpoint", "x.pt"], "exclude each other", id="no-train-and-checkpoint"
        ),
        pytest.param(["--omega0", "20"], "--checkpoint files only", id="omega0-alone"),
        pytest.param(["--checkpoint", "does-not-exist.pt"], "does-not-exist.pt", id="missing-file"),
    ],
)
def test_bad_options_exit_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    out = tmp_path / "out"
    rc = main(["reproduce", "--out", str(out), "--quiet", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing written


def test_training_route_is_seeded_and_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    # the same seed twice through reproduce: the same findings, byte for byte
    R.run(tmp_path / "a", mc_samples=FAST_MC, figures=False, train_epochs=1)
    R.run(tmp_path / "b", mc_samples=FAST_MC, figures=False, train_epochs=1)
    a = (tmp_path / "a" / "reproduce.json").read_bytes()
    assert a == (tmp_path / "b" / "reproduce.json").read_bytes()
    tw = json.loads(a)["trained_weights"]
    assert tw["status"] == "done" and list(tw["sources"]) == ["stage1", "stage2"]
    for stage, info in tw["sources"].items():
        assert info["epochs"] == 1 and info["stage"] == int(stage[-1]) and info["seed"] == T.TRAIN_SEED
        assert info["dataset"] == "digits" and info["omega0"] == 20.0
    # stage 2 starts from stage 1 and trains on: the same layers, other weights
    s1 = [r for r in tw["layers"] if r["source"] == "stage1"]
    s2 = [r for r in tw["layers"] if r["source"] == "stage2"]
    assert [r["layer"] for r in s1] == [r["layer"] for r in s2] and s1
    assert tw["sources"]["stage1"]["state_dict_sha256"] != tw["sources"]["stage2"]["state_dict_sha256"]
    assert all(math.isfinite(r["measured"]["quantization_error"]) for r in tw["layers"])
