"""Tests of biper_theory.nn.functional: forward maps and surrogate derivatives of the binarizers."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

from biper_theory.nn.functional import (  # noqa: E402
    approx_sign,
    approx_sign_surrogate,
    biper_sign,
    biper_sine,
)

OMEGAS = [
    pytest.param(1.0, id="omega0=1"),
    pytest.param(20.0, id="omega0=20"),
    pytest.param(30.0, id="omega0=30"),
]
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _weights(dtype: torch.dtype) -> torch.Tensor:
    """Latent weights with exact zeros, both signs, and values past the first half-period."""
    g = torch.Generator().manual_seed(7)
    w = 0.2 * torch.randn(200, generator=g, dtype=dtype)
    w[:5] = 0.0  # exact zeros
    w[5:10] = -0.0
    return w


@pytest.mark.parametrize("omega0", OMEGAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_biper_sign_forward_is_sign_of_sine(omega0: float, dtype: torch.dtype) -> None:
    w = _weights(dtype)
    out = biper_sign(w, omega0)
    assert out.dtype == dtype and out.shape == w.shape
    torch.testing.assert_close(out, torch.sign(torch.sin(omega0 * w)), rtol=0, atol=0)
    # torch.sign convention (as the official code): exact zeros stay 0, everything else is ±1
    assert torch.all(out[:10] == 0)
    assert torch.all(out[10:].abs() == 1)


@pytest.mark.parametrize("omega0", OMEGAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_biper_sign_gradient_is_omega0_cos(omega0: float, dtype: torch.dtype) -> None:
    w = _weights(dtype).requires_grad_()
    upstream = torch.linspace(-2.0, 3.0, w.numel(), dtype=dtype)
    biper_sign(w, omega0).backward(upstream)
    expected = upstream * (omega0 * torch.cos(omega0 * w.detach()))
    torch.testing.assert_close(w.grad, expected, rtol=0, atol=0)
    # at the exact zeros the surrogate derivative is ω₀·cos 0 = ω₀
    torch.testing.assert_close(w.grad[:10], upstream[:10] * omega0, rtol=0, atol=0)


@pytest.mark.parametrize("omega0", OMEGAS)
def test_biper_sign_backward_matches_autograd_of_sine(omega0: float) -> None:
    w1 = _weights(torch.float64).requires_grad_()
    w2 = w1.detach().clone().requires_grad_()
    upstream = torch.cos(torch.arange(w1.numel(), dtype=torch.float64))
    biper_sign(w1, omega0).backward(upstream)
    biper_sine(w2, omega0).backward(upstream)
    torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-15, atol=1e-15)


def test_biper_sign_agrees_with_sign_inside_first_half_period() -> None:
    omega0 = 20.0
    w = torch.linspace(-0.999, 0.999, 1001, dtype=torch.float64) * (math.pi / 2) / omega0
    torch.testing.assert_close(biper_sign(w, omega0), torch.sign(w), rtol=0, atol=0)
    # one half-period further the sign flips: sin(ω₀w) < 0 for π < ω₀w < 2π
    w_far = torch.tensor([1.5 * math.pi / omega0], dtype=torch.float64)
    assert biper_sign(w_far, omega0).item() == -1.0


def test_biper_sine_values() -> None:
    w = torch.tensor([0.0, math.pi / 40, -math.pi / 40], dtype=torch.float64)
    torch.testing.assert_close(biper_sine(w, 20.0), torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64))


def test_gradcheck_sine_surrogate_float64() -> None:
    g = torch.Generator().manual_seed(3)
    w = (0.3 * torch.randn(12, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: biper_sine(t, 20.0), (w,), eps=1e-7, atol=1e-8)


def test_gradcheck_approx_sign_surrogate_float64() -> None:
    g = torch.Generator().manual_seed(4)
    x = (2.0 * torch.rand(24, generator=g, dtype=torch.float64) - 1.0) * 1.8  # inside and outside |x| < 1
    x.requires_grad_()
    assert torch.autograd.gradcheck(approx_sign_surrogate, (x,), eps=1e-7, atol=1e-8)


def test_approx_sign_forward_and_triangle_backward() -> None:
    x = torch.tensor([-2.0, -1.0, -0.75, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5], dtype=torch.float64)
    x.requires_grad_()
    out = approx_sign(x)
    torch.testing.assert_close(out, torch.sign(x.detach()), rtol=0, atol=0)
    assert out[4].item() == 0.0  # sign(0) = 0, as torch.sign and the official code
    out.backward(torch.ones_like(out))
    expected = torch.tensor([0.0, 0.0, 0.5, 1.5, 2.0, 1.5, 1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)


def test_approx_sign_backward_is_derivative_of_surrogate() -> None:
    g = torch.Generator().manual_seed(5)
    x1 = (3.0 * torch.rand(500, generator=g, dtype=torch.float64) - 1.5).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    upstream = torch.randn(500, generator=g, dtype=torch.float64)
    approx_sign(x1).backward(upstream)
    approx_sign_surrogate(x2).backward(upstream)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize(
    ("x", "value"),
    [
        pytest.param(-3.0, -1.0, id="below-clip"),
        pytest.param(-1.0, -1.0, id="minus-one"),
        pytest.param(-0.5, -0.75, id="negative-branch"),
        pytest.param(0.0, 0.0, id="zero"),
        pytest.param(0.5, 0.75, id="positive-branch"),
        pytest.param(1.0, 1.0, id="one"),
        pytest.param(4.0, 1.0, id="above-clip"),
    ],
)
def test_approx_sign_surrogate_values(x: float, value: float) -> None:
    # F = x² + 2x on [-1, 0], 2x − x² on [0, 1], clipped to ±1 outside
    out = approx_sign_surrogate(torch.tensor(x, dtype=torch.float64))
    assert out.item() == value


@pytest.mark.parametrize(
    "omega0",
    [
        pytest.param(0.0, id="zero"),
        pytest.param(-1.0, id="negative"),
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="inf"),
        pytest.param("abc", id="not-a-number"),
    ],
)
def test_bad_omega0_is_rejected(omega0: object) -> None:
    w = torch.zeros(3)
    with pytest.raises(ValueError, match="omega0"):
        biper_sign(w, omega0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="omega0"):
        biper_sine(w, omega0)  # type: ignore[arg-type]


class _ReferenceApproxSign(torch.autograd.Function):
    """The out-of-place ApproxSign backward as first written: the fused one must equal it bit for bit."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def, override]
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def, override]
        (x,) = ctx.saved_tensors
        return grad * torch.clamp(2.0 - 2.0 * torch.abs(x), min=0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels-last"])
def test_approx_sign_backward_is_bitwise_the_reference(dtype: torch.dtype, channels_last: bool) -> None:
    g = torch.Generator().manual_seed(11)
    x = 1.5 * torch.randn(4, 8, 9, 9, generator=g, dtype=dtype)
    x.view(-1)[:6] = torch.tensor([-1.0, 1.0, 0.0, -0.0, 0.5, -0.5], dtype=dtype)  # kinks and zeros
    upstream = torch.randn(4, 8, 9, 9, generator=g, dtype=dtype)
    if channels_last:
        x, upstream = x.to(memory_format=torch.channels_last), upstream.to(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out1, out2 = approx_sign(x1), _ReferenceApproxSign.apply(x2)
    assert torch.equal(out1, out2)
    out1.backward(upstream)
    out2.backward(upstream)
    assert x1.grad is not None and x2.grad is not None
    assert torch.equal(x1.grad, x2.grad)  # bitwise: same values, same signs of zero aside
    assert torch.equal(torch.signbit(x1.grad), torch.signbit(x2.grad))


def test_approx_sign_double_backward_still_records_a_graph() -> None:
    x = torch.tensor([-0.5, 0.25, 2.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(approx_sign(x).sum(), x, create_graph=True)
    torch.testing.assert_close(grad, torch.tensor([1.0, 1.5, 0.0], dtype=torch.float64), rtol=0, atol=0)
    assert grad.requires_grad  # the surrogate's own derivative is defined (−2 sign x on |x| < 1)
