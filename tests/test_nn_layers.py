"""Tests of biper_theory.nn.layers: stage semantics, α, activation normalisation, helpers."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from biper_theory.nn.functional import approx_sign_surrogate  # noqa: E402
from biper_theory.nn.layers import (  # noqa: E402
    BiPerConv2d,
    BiPerLinear,
    init_latent_weights,
    iter_biper_layers,
    set_stage,
    share_past_half_period,
)

OMEGA0 = 20.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _global_rng_kept_local() -> Iterator[None]:
    """Tests that seed the global RNG (layer construction draws from it) leave it as they found it."""
    with torch.random.fork_rng(devices=[]):
        yield


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _conv(**kwargs: object) -> BiPerConv2d:
    torch.manual_seed(0)  # layer construction draws from the global generator, as nn.Conv2d does
    layer = BiPerConv2d(3, 5, 3, padding=1, omega0=OMEGA0, **kwargs)  # type: ignore[arg-type]
    init_latent_weights(layer, "kaiming-normal", generator=_gen(1))
    return layer


def _input(shape: tuple[int, ...] = (2, 3, 6, 6), seed: int = 2) -> torch.Tensor:
    return torch.randn(shape, generator=_gen(seed))


# -- stage semantics ------------------------------------------------------------------------
def test_stage1_forward_uses_alpha_times_sine() -> None:
    layer = _conv()
    x = _input()
    w_hat = torch.sin(OMEGA0 * layer.weight) * layer.alpha
    expected = F.conv2d(torch.sign(x), w_hat, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)


def test_stage2_forward_uses_alpha_times_binary_weights() -> None:
    layer = _conv(stage=2)
    x = _input()
    binary = torch.sign(torch.sin(OMEGA0 * layer.weight))
    assert set(binary.unique().tolist()) == {-1.0, 1.0}
    expected = F.conv2d(torch.sign(x), binary * layer.alpha, padding=1)
    out = layer(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # ±1 inputs times ±1 weights: each output divided by its channel's α is an integer count
    counts = out / layer.alpha.reshape(1, -1, 1, 1)
    torch.testing.assert_close(counts, counts.round(), rtol=0, atol=1e-4)


def test_stage2_weight_gradient_goes_through_the_sine() -> None:
    layer = _conv(stage=2)
    x = _input()
    upstream = torch.randn(2, 5, 6, 6, generator=_gen(9))
    layer(x).backward(upstream)
    # reference: gradient w.r.t. the effective binary weight, then dW_q/dw := α·ω₀cos(ω₀w)
    w = layer.weight.detach()
    wq = (torch.sign(torch.sin(OMEGA0 * w)) * layer.alpha.detach()).requires_grad_()
    F.conv2d(torch.sign(x), wq, padding=1).backward(upstream)
    expected = wq.grad * layer.alpha.detach() * OMEGA0 * torch.cos(OMEGA0 * w)
    torch.testing.assert_close(layer.weight.grad, expected, rtol=1e-5, atol=1e-5)


def test_stage_switch_changes_only_the_weight_map() -> None:
    layer = _conv()
    x = _input()
    y1 = layer(x)
    layer.stage = 2
    y2 = layer(x)
    assert not torch.allclose(y1, y2)
    layer.stage = 1
    torch.testing.assert_close(layer(x), y1, rtol=0, atol=0)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(0, id="zero"),
        pytest.param(3, id="three"),
        pytest.param(True, id="bool"),
        pytest.param("1", id="string"),
        pytest.param(1.5, id="fraction"),
    ],
)
def test_stage_is_validated(bad: object) -> None:
    layer = _conv()
    with pytest.raises(ValueError, match="stage"):
        layer.stage = bad  # type: ignore[assignment]
    with pytest.raises(ValueError, match="stage"):
        BiPerConv2d(1, 1, 1, stage=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stage"):
        set_stage(nn.Sequential(layer), bad)  # type: ignore[arg-type]
    assert layer.stage == 1


def test_real_activations_option() -> None:
    layer = _conv(binary_activations=False)
    x = _input()
    expected = F.conv2d(x, torch.sin(OMEGA0 * layer.weight) * layer.alpha, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)


def test_linear_stage_semantics_and_alpha_shape() -> None:
    torch.manual_seed(0)
    layer = BiPerLinear(6, 4, omega0=OMEGA0)
    assert layer.alpha.shape == (4, 1)
    assert layer.bias is not None
    x = torch.randn(3, 6, generator=_gen(4))
    expected = F.linear(torch.sign(x), torch.sin(OMEGA0 * layer.weight) * layer.alpha, layer.bias)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)
    layer.stage = 2
    expected = F.linear(torch.sign(x), torch.sign(torch.sin(OMEGA0 * layer.weight)) * layer.alpha, layer.bias)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)


# -- alpha --------------------------------------------------------------------------------
def test_alpha_default_is_channel_mean_abs_sine() -> None:
    layer = _conv()
    assert layer.alpha.shape == (5, 1, 1, 1)
    expected = torch.sin(OMEGA0 * layer.weight).abs().mean(dim=(1, 2, 3)).reshape(5, 1, 1, 1)
    torch.testing.assert_close(layer.alpha.detach(), expected, rtol=0, atol=0)
    assert layer.alpha.requires_grad


def test_alpha_uniform_and_ones() -> None:
    torch.manual_seed(0)
    uniform = BiPerConv2d(3, 64, 3, alpha_init="uniform")
    assert torch.all((uniform.alpha >= 0) & (uniform.alpha < 1))
    assert uniform.alpha.detach().std() > 0.1
    ones = BiPerConv2d(3, 4, 3, alpha_init="ones")
    torch.testing.assert_close(ones.alpha.detach(), torch.ones(4, 1, 1, 1))
    with pytest.raises(ValueError, match="alpha_init"):
        BiPerConv2d(3, 4, 3, alpha_init="random")


# -- activation normalisation -----------------------------------------------------------
def _x_with_grad(seed: int = 11) -> torch.Tensor:
    g = _gen(seed)
    # per-sample scales far from 1 and nonzero means, so that normalisation matters
    x = torch.randn(4, 3, 6, 6, generator=g) * torch.tensor([0.2, 0.5, 3.0, 5.0]).reshape(4, 1, 1, 1)
    return (x + 0.3).requires_grad_()


def test_act_norm_scale_changes_only_the_backward() -> None:
    plain, scaled = _conv(), _conv(act_norm=True)
    assert scaled.act_norm == "scale"
    upstream = torch.randn(4, 5, 6, 6, generator=_gen(12))
    x1, x2 = _x_with_grad(), _x_with_grad()
    y1, y2 = plain(x1), scaled(x2)
    torch.testing.assert_close(y1, y2, rtol=0, atol=0)  # sign(x/s) = sign(x) for s > 0
    y1.backward(upstream)
    y2.backward(upstream)
    assert not torch.allclose(x1.grad, x2.grad)  # surrogate evaluated at x/s instead of x
    # the backward is exactly that of F(x/s(x)), F the ApproxSign surrogate, s per sample and not
    # detached (the chain rule through s included), as the official code's a / sqrt(var + 1e-5)
    x3 = _x_with_grad()
    s = torch.sqrt(x3.var(dim=(1, 2, 3), keepdim=True) + 1e-5)
    F.conv2d(approx_sign_surrogate(x3 / s), scaled.quantized_weight(), padding=1).backward(upstream)
    torch.testing.assert_close(x2.grad, x3.grad)
    # eval mode: the official code skips the scaling; forward and backward are the plain layer's
    scaled.eval()
    x4 = _x_with_grad()
    y4 = scaled(x4)
    torch.testing.assert_close(y4, y1, rtol=0, atol=0)
    y4.backward(upstream)
    torch.testing.assert_close(x4.grad, x1.grad, rtol=0, atol=0)


def test_act_norm_standardize_moves_the_threshold() -> None:
    plain, standardized = _conv(), _conv(act_norm="standardize")
    x = _x_with_grad().detach()
    dims = (1, 2, 3)
    z = (x - x.mean(dim=dims, keepdim=True)) / torch.sqrt(x.var(dim=dims, keepdim=True) + 1e-5)
    expected = F.conv2d(torch.sign(z), torch.sin(OMEGA0 * plain.weight) * plain.alpha, padding=1)
    torch.testing.assert_close(standardized(x), expected, rtol=0, atol=0)
    assert not torch.allclose(standardized(x), plain(x))


def test_act_norm_is_validated() -> None:
    with pytest.raises(ValueError, match="act_norm"):
        BiPerConv2d(1, 1, 1, act_norm="batch")  # type: ignore[arg-type]
    assert BiPerConv2d(1, 1, 1, act_norm=False).act_norm is None


def test_omega0_is_validated() -> None:
    with pytest.raises(ValueError, match="omega0"):
        BiPerConv2d(1, 1, 1, omega0=0.0)
    layer = BiPerLinear(2, 2)
    with pytest.raises(ValueError, match="omega0"):
        layer.omega0 = -3.0
    assert layer.omega0 == 20.0


# -- model-level helpers --------------------------------------------------------------------
class _Wrapper(nn.Module):
    """Stands in for DistributedDataParallel: the real model sits in ``.module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def _toy() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        BiPerConv2d(4, 4, 3),
        nn.Sequential(nn.ReLU(), BiPerConv2d(4, 8, 3, stage=2)),
        nn.Flatten(),
        BiPerLinear(8, 2),
        nn.Linear(2, 2),
    )


def test_iter_biper_layers_and_set_stage() -> None:
    model = _toy()
    names = [n for n, _ in iter_biper_layers(model)]
    assert names == ["1", "2.1", "4"]
    assert [n for n, _ in iter_biper_layers(_Wrapper(model))] == names
    assert set_stage(model, 2) == 3
    assert all(layer.stage == 2 for _, layer in iter_biper_layers(model))
    assert set_stage(nn.Linear(2, 2), 1) == 0


def test_share_past_half_period_counts_exactly() -> None:
    layer = BiPerLinear(4, 1, omega0=10.0)
    with torch.no_grad():
        # |ω₀w| = 1.0, 1.6, 3.0, 1.5 against π/2 ≈ 1.5708: two of four are past it
        layer.weight.copy_(torch.tensor([[0.1, -0.16, 0.3, -0.15]]))
    assert share_past_half_period(layer) == 0.5
    with pytest.raises(ValueError, match="no BiPer layer"):
        share_past_half_period(nn.Linear(2, 2))


def test_laplace_init_matches_theory_and_is_reproducible() -> None:
    # Monte Carlo check (tolerances are k·SE, k = 5, kept apart from exact checks above)
    layer = BiPerConv2d(64, 64, 3, omega0=OMEGA0)
    b = 0.05  # a = b·ω₀ = 1
    init_latent_weights(layer, "laplace", b=b, generator=_gen(21))
    w = layer.weight.detach().double().flatten()
    n = w.numel()
    mean_abs = w.abs().mean().item()  # |W| ~ Exp(b): mean b, sd b
    assert abs(mean_abs - b) < 5 * b / math.sqrt(n)
    p = math.exp(-math.pi / (2 * b * OMEGA0))  # P(|ω₀W| > π/2) = e^{-π/(2a)}
    assert abs(share_past_half_period(layer) - p) < 5 * math.sqrt(p * (1 - p) / n)
    torch.testing.assert_close(  # α was refreshed from the new weights
        layer.alpha.detach(),
        torch.sin(OMEGA0 * layer.weight).abs().mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1),
    )
    again = BiPerConv2d(64, 64, 3, omega0=OMEGA0)
    init_latent_weights(again, "laplace", b=b, generator=_gen(21))
    torch.testing.assert_close(again.weight, layer.weight, rtol=0, atol=0)


def test_init_schemes_scale() -> None:
    layer = BiPerConv2d(32, 32, 3)
    fan_in = 32 * 9
    init_latent_weights(layer, "torch-default", generator=_gen(1))
    assert layer.weight.abs().max() <= 1 / math.sqrt(fan_in)
    init_latent_weights(layer, "kaiming-normal", generator=_gen(1))
    std = layer.weight.detach().std().item()
    assert abs(std / math.sqrt(2 / fan_in) - 1) < 0.05  # 9216 draws: relative SE of sd ≈ 0.7 %
    assert init_latent_weights(_toy(), generator=_gen(2)) == 3


@pytest.mark.parametrize(
    ("scheme", "b"),
    [
        pytest.param("laplace", None, id="laplace-without-b"),
        pytest.param("kaiming-normal", 0.1, id="b-without-laplace"),
        pytest.param("laplace", -1.0, id="negative-b"),
        pytest.param("xavier", None, id="unknown-scheme"),
    ],
)
def test_init_latent_weights_validates(scheme: str, b: float | None) -> None:
    with pytest.raises(ValueError):
        init_latent_weights(_toy(), scheme, b=b)
