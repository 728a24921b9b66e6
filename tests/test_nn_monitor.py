"""QEMonitor and layer_records: numbers against numpy, flip ratio, official layout, JSON, README loop."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="biper_theory.nn needs the optional torch extra")

from torch import nn  # noqa: E402

from biper_theory import closed_form as cf  # noqa: E402
from biper_theory import laws  # noqa: E402
from biper_theory import weights as wt  # noqa: E402
from biper_theory.nn import QEMonitor, layer_records  # noqa: E402
from biper_theory.nn.layers import iter_biper_layers  # noqa: E402
from biper_theory.nn.models import build_model  # noqa: E402
from biper_theory.phase import phase_statistics  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"


def small_model(seed: int = 0, omega0: float = 20.0) -> nn.Module:
    gen0 = torch.Generator().manual_seed(seed)
    model = build_model("resnet-small", num_classes=10, in_channels=1, omega0=omega0, generator=gen0)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # α away from its mean-abs initialisation, signs included
        for _, layer in iter_biper_layers(model):
            layer.alpha.copy_(torch.randn(layer.alpha.shape, generator=gen) * 0.3 + 0.5)
    return model


def direct(w: np.ndarray, alpha: np.ndarray, omega0: float) -> dict[str, Any]:
    """The row's quantities from numpy alone (w of shape (out, ...), alpha of shape (out,))."""
    flat = w.reshape(-1)
    h = np.sin(omega0 * flat)
    gamma = np.mean(np.abs(h))
    rows = np.sin(omega0 * w.reshape(w.shape[0], -1))
    gamma_c = np.abs(rows).mean(axis=1)
    b, sigma = np.mean(np.abs(flat)), np.sqrt(np.mean(flat**2))
    n = flat.size
    return {
        "n": n,
        "second_moment": np.mean(h**2),
        "gamma_star": gamma,
        "qe_measured": np.mean((h - gamma * np.sign(h)) ** 2),  # E(ŵ − γ* sign ŵ)², computed directly
        "share_past_half_period": np.mean(np.abs(omega0 * flat) > np.pi / 2),
        "share_sign_flipped": np.mean((np.sign(h) != np.sign(flat)) & (flat != 0)),
        "alpha_mean": alpha.mean(),
        "gamma_star_channel_mean": gamma_c.mean(),
        "alpha_over_gamma_star": alpha.mean() / gamma_c.mean(),
        "qe_alpha": np.mean((rows - alpha[:, None] * np.sign(rows)) ** 2),
        "qe_channel_optimal": np.mean((rows - gamma_c[:, None] * np.sign(rows)) ** 2),
        "laplace": {
            "scale": b,
            "a": b * omega0,
            "aic": 2 - 2 * np.sum(-np.abs(flat) / b - np.log(2 * b)),
            "gamma_star_model": float(cf.optimal_gamma(b=b, omega0=omega0)),
            "qe_model": float(cf.quantization_error(b=b, omega0=omega0)),
            "share_past_half_period_model": float(wt.laplace_share_past_half_period(b=b, omega0=omega0)),
        },
        "gaussian": {
            "scale": sigma,
            "a": sigma * omega0,
            "aic": 2 - 2 * np.sum(-(flat**2) / (2 * sigma**2) - 0.5 * np.log(2 * np.pi * sigma**2)),
            "gamma_star_model": float(wt.gaussian_optimal_gamma(sigma=sigma, omega0=omega0)),
            "qe_model": float(
                wt.gaussian_second_moment(sigma=sigma, omega0=omega0)
                - wt.gaussian_optimal_gamma(sigma=sigma, omega0=omega0) ** 2
            ),
            "share_past_half_period_model": float(
                wt.gaussian_share_past_half_period(sigma=sigma, omega0=omega0)
            ),
        },
    }


def assert_row_matches(row: dict[str, Any], ref: dict[str, Any], w: np.ndarray, omega0: float) -> None:
    # the fits equal biper_theory.laws' own MLE, and the phase block biper_theory.phase on the weights
    fits = {name: laws.fit(name, w) for name in ("laplace", "gaussian")}
    for name, law in fits.items():
        got = row["laws"][name]
        assert got["scale"] == pytest.approx(law.scale, rel=1e-12)
        assert got["params"] == pytest.approx(law.params, rel=1e-12)
        assert got["aic"] == pytest.approx(law.aic, rel=1e-12)
        assert got["a"] == pytest.approx(float(law.dimensionless(omega0)), rel=1e-12)
        assert got["crest_share_model"] == pytest.approx(float(law.crest_share(omega0=omega0)), rel=1e-10)
        assert got["cos2_mean_model"] == pytest.approx(
            float(law.cos2_mean(omega0=omega0)), rel=1e-10, abs=1e-14
        )
    best = laws.best_by_aic(fits)
    assert row["best_law"] == best and row["phase"]["law"] == best
    phase = phase_statistics(w, omega0=omega0, law=fits[best]).as_dict()
    for key, value in phase.items():
        if isinstance(value, float):
            assert row["phase"][key] == pytest.approx(value, rel=1e-9, abs=1e-13), key
        else:
            assert row["phase"][key] == value, key
    for key, value in ref.items():
        if key in ("laplace", "gaussian"):
            for k, v in value.items():
                assert row["laws"][key][k] == pytest.approx(v, rel=1e-11, abs=1e-14), (key, k)
        else:
            assert row[key] == pytest.approx(value, rel=1e-11, abs=1e-14), key


def test_layer_records_equal_a_direct_numpy_computation() -> None:
    omega0 = 20.0
    model = small_model(omega0=omega0)
    rows = layer_records(model)
    layers = list(iter_biper_layers(model))
    assert [r["layer"] for r in rows] == [name for name, _ in layers] + ["overall"]
    refs = []
    for (_, layer), row in zip(layers, rows, strict=False):
        w = layer.weight.detach().double().numpy()
        alpha = layer.alpha.detach().double().reshape(-1).numpy()
        ref = direct(w, alpha, omega0)
        assert_row_matches(row, ref, w, omega0)
        assert row["omega0"] == omega0
        refs.append(ref)
    # overall: n-weighted means of the layers, AIC summed
    overall = rows[-1]
    n = np.array([r["n"] for r in refs], dtype=float)
    assert overall["n"] == n.sum()
    for key in ("qe_measured", "share_past_half_period", "qe_alpha", "alpha_over_gamma_star"):
        assert overall[key] == pytest.approx(np.dot(n, [r[key] for r in refs]) / n.sum(), rel=1e-12)
    phases = [r["phase"] for r in rows[:-1]]
    for key in ("crest_share", "cos2_mean", "crest_share_model", "cos2_mean_model"):
        assert overall["phase"][key] == pytest.approx(
            np.dot(n, [p[key] for p in phases]) / n.sum(), rel=1e-12
        )
    assert overall["phase"]["p_value"] is None
    for law in ("laplace", "gaussian"):
        assert overall["laws"][law]["aic"] == pytest.approx(sum(r[law]["aic"] for r in refs), rel=1e-12)
        assert overall["laws"][law]["qe_model"] == pytest.approx(
            np.dot(n, [r[law]["qe_model"] for r in refs]) / n.sum(), rel=1e-12
        )


def test_alpha_identity_qe_alpha_minus_channel_optimum() -> None:
    """QE(α) − QE(γ*_c) = mean_c (α_c − γ*_c)² when no ŵ is exactly 0 (equal channel sizes)."""
    model = small_model(seed=3)
    for row, (_, layer) in zip(layer_records(model), iter_biper_layers(model), strict=False):
        w = layer.weight.detach().double()
        rows = torch.sin(20.0 * w.reshape(w.shape[0], -1))
        gap = ((layer.alpha.detach().double().reshape(-1) - rows.abs().mean(1)) ** 2).mean()
        assert row["qe_alpha"] - row["qe_channel_optimal"] == pytest.approx(float(gap), rel=1e-9)


def test_flip_ratio_exact_on_a_constructed_change() -> None:
    omega0 = 20.0
    model = small_model()
    layers = list(iter_biper_layers(model))
    monitor = QEMonitor(model)
    first = monitor.record(epoch=0)
    assert all(r["flip_ratio"] is None for r in first)  # nothing to compare with yet
    name, layer = layers[2]
    k = 37
    with torch.no_grad():
        flat = layer.weight.view(-1)
        assert bool((torch.sin(omega0 * flat[:k]) != 0).all())
        flat[:k] = -flat[:k]  # sin is odd: exactly these k binary weights change sign
        layers[4][1].weight.mul_(1.0 + 1e-7)  # moves weights without crossing a zero of sin
    rows = {r["layer"]: r for r in monitor.record(epoch=1, step=10)}
    assert rows[name]["flip_ratio"] == k / layer.weight.numel()
    assert all(rows[n]["flip_ratio"] == 0.0 for n, _ in layers if n != name)
    total = sum(lay.weight.numel() for _, lay in layers)
    assert rows["overall"]["flip_ratio"] == pytest.approx(k / total, rel=1e-15)
    assert (rows["overall"]["epoch"], rows["overall"]["step"]) == (1, 10)
    assert len(monitor.history) == 2 * (len(layers) + 1)


def test_history_is_strict_json() -> None:
    model = small_model()
    monitor = QEMonitor(model)
    monitor.record(epoch=0)
    monitor.record(epoch=1)
    text = json.dumps(monitor.history, allow_nan=False)
    assert json.loads(text) == monitor.history


def test_every_controls_the_hooks() -> None:
    model = small_model()
    per_epoch = QEMonitor(model)
    assert per_epoch.on_step(5) is None and per_epoch.on_epoch_end(1) is not None
    per_steps = QEMonitor(model, every=3)
    recorded = [s for s in range(1, 10) if per_steps.on_step(s, epoch=1) is not None]
    assert recorded == [3, 6, 9] and per_steps.on_epoch_end(1) is None
    assert {r["step"] for r in per_steps.history} == {3, 6, 9}


class _OfficialBlock(nn.Module):
    """The official code's layout: block convolutions named conv1/conv2 with an ``alpha`` parameter."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, bias=False)
        self.conv1.alpha = nn.Parameter(torch.full((c, 1, 1), 0.4))  # type: ignore[assignment]
        self.conv2 = nn.Conv2d(c, c, 3, bias=False)


class _OfficialNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)  # the stem: never binarized
        self.layer1 = nn.Sequential(_OfficialBlock(4))
        self.fc = nn.Linear(4, 10)


def test_official_layout_with_omega0() -> None:
    torch.manual_seed(0)
    model = _OfficialNet()
    with pytest.raises(ValueError, match="give omega0"):
        QEMonitor(model)
    rows = QEMonitor(model, omega0=30.0).record(epoch=0)
    assert [r["layer"] for r in rows] == ["layer1.0.conv1", "layer1.0.conv2", "overall"]
    w = model.layer1[0].conv1.weight.detach().double().numpy()
    alpha = model.layer1[0].conv1.alpha.detach().double().reshape(-1).numpy()  # 0.4 in float32
    assert_row_matches(rows[0], direct(w, alpha, 30.0), w, 30.0)
    assert rows[1]["qe_alpha"] is None and rows[2]["qe_alpha"] is None  # conv2 has no α
    assert rows[1]["qe_measured"] > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"every": 0}, "every must be", id="every-0"),
        pytest.param({"every": "batch"}, "every must be", id="every-str"),
        pytest.param({"laws": ("cauchy",)}, "laws must be", id="law"),
        pytest.param({"laws": ("empirical",)}, "laws must be", id="empirical-has-no-fit"),
        pytest.param({"laws": ("laplace", "laplace")}, "laws must be", id="repeated"),
        pytest.param({"laws": ()}, "laws must be", id="no-law"),
        pytest.param({"omega0": 30.0}, "layer layer1.0.conv1 has omega0 = 20", id="omega0-mismatch"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        QEMonitor(small_model(), **kwargs)


def test_full_precision_model_is_refused() -> None:
    fp = build_model("resnet-small", num_classes=10, in_channels=1, full_precision=True)
    with pytest.raises(ValueError, match="no biper_theory BiPer layer"):
        layer_records(fp)
    with pytest.raises(ValueError, match="omega0 must be finite"):
        layer_records(fp, omega0=math.inf)


def _readme_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- monitor-snippet -->\s*```python\n(.*?)```", text, flags=re.S)
    assert match is not None, "README lost the monitor snippet"
    return match.group(1)


def test_readme_plain_loop_records_per_epoch_rows() -> None:
    code = _readme_snippet()
    assert len([line for line in code.splitlines() if line.strip()]) <= 15  # a 15-line plain loop
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the project's own README
    monitor = namespace["monitor"]
    overall = [r for r in monitor.history if r["layer"] == "overall"]
    assert [r["epoch"] for r in overall] == [0, 1, 2, 3]
    assert overall[0]["flip_ratio"] is None and all(0 <= r["flip_ratio"] <= 1 for r in overall[1:])
    json.dumps(monitor.history, allow_nan=False)


def test_heavier_laws_on_request_are_laws_fit() -> None:
    torch.manual_seed(1)
    model = _OfficialNet()
    rows = layer_records(model, omega0=20.0, laws=("gennorm", "t", "laplace"))
    w = model.layer1[0].conv2.weight.detach().double().numpy()
    for name in ("gennorm", "t"):
        law = laws.fit(name, w)
        got = rows[1]["laws"][name]
        assert got["params"] == pytest.approx(law.params, rel=1e-12)
        assert got["aic"] == pytest.approx(law.aic, rel=1e-12)
        assert got["qe_model"] == pytest.approx(float(law.quantization_error(omega0=20.0)), rel=1e-10)
    assert rows[1]["best_law"] == laws.best_by_aic({n: laws.fit(n, w) for n in ("gennorm", "t", "laplace")})
    json.dumps(rows, allow_nan=False)
