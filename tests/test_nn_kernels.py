"""Tests of biper_theory.nn._kernels: the one-pass ApproxSign backward is bitwise the torch expression."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

from biper_theory.nn import _kernels  # noqa: E402
from biper_theory.nn._kernels import approx_sign_backward, fused_available  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-45, -1e-45, 1e-310, np.inf, -np.inf, np.nan, 3.0, -3.0]


def _bits_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same values, same signs of zero, NaN where the other has NaN (payloads aside)."""
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    if not torch.equal(nan_a, nan_b):
        return False
    keep = ~nan_a
    return torch.equal(a[keep], b[keep]) and torch.equal(torch.signbit(a[keep]), torch.signbit(b[keep]))


def test_the_nn_extra_brings_the_fused_kernel() -> None:
    # numba is part of the nn extra: without this the property below would only compare the
    # torch expression with itself
    assert fused_available()


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64], ids=["float32", "float64"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fused_route_is_bitwise_the_torch_expression(np_dtype: type, data: st.DataObject) -> None:
    elements = st.one_of(
        st.sampled_from(SPECIALS),
        st.floats(-4, 4, width=32 if np_dtype is np.float32 else 64, allow_subnormal=True),
    )
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=7), label="shape")
    x = data.draw(hnp.arrays(np_dtype, shape, elements=elements), label="x")
    g = data.draw(hnp.arrays(np_dtype, shape, elements=elements), label="grad")
    x_bytes, g_bytes = x.tobytes(), g.tobytes()
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)
    fused = approx_sign_backward(xt, gt)
    reference = approx_sign_backward(xt, gt, fused=False)
    assert fused.dtype == xt.dtype and fused.shape == xt.shape
    assert _bits_equal(fused, reference)
    assert not np.shares_memory(fused.numpy(), g) and not np.shares_memory(fused.numpy(), x)
    assert x.tobytes() == x_bytes and g.tobytes() == g_bytes  # inputs untouched


def test_large_tensor_goes_through_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = _kernels._compiled()
    assert real is not None

    def spy(*args: object) -> None:
        calls.append(1)
        real(*args)

    monkeypatch.setattr(_kernels, "_compiled", lambda: spy)
    g = torch.Generator().manual_seed(3)
    x, grad = torch.randn(8, 16, 28, 28, generator=g), torch.randn(8, 16, 28, 28, generator=g)
    assert _bits_equal(approx_sign_backward(x, grad), approx_sign_backward(x, grad, fused=False))
    assert calls == [1]


@pytest.mark.parametrize(
    "case",
    ["channels_last", "float16", "broadcast", "empty"],
)
def test_other_tensors_take_the_torch_expression(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(5)
    x, grad = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    if case == "channels_last":
        x, grad = x.to(memory_format=torch.channels_last), grad.to(memory_format=torch.channels_last)
    elif case == "float16":
        x, grad = x.half(), grad.half()
    elif case == "broadcast":
        grad = grad[:1].expand_as(x)
    else:
        x, grad = x[:0], grad[:0]
    used: list[int] = []
    real = _kernels._compiled()
    assert real is not None
    monkeypatch.setattr(_kernels, "_compiled", lambda: lambda *a: (used.append(1), real(*a)))
    out = approx_sign_backward(x, grad)
    if case == "empty":
        assert out.shape == x.shape and not used
        return
    assert not used
    assert torch.equal(out, approx_sign_backward(x, grad, fused=False))
