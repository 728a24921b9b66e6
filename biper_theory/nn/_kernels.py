r"""One-pass CPU kernel for the ApproxSign backward, bitwise equal to the torch expression.

The backward of :class:`~biper_theory.nn.functional.ApproxSign` is
:math:`g\,\max(0,\, 2 - 2|x|)` on every activation entering a binary convolution. Written
with torch operators it is five passes over activation-sized tensors (``abs``, ``mul_``,
``add_``, ``clamp_``, ``mul_``); on a CPU those passes are memory-bound, and they were the
largest single cost the BiPer layers add to a training step (benchmark 8). Here the same
arithmetic runs as one loop compiled by numba: one read of ``x`` and ``grad``, one write.

Same bits, by construction: each element is computed with the operations of the torch
expression, in its order and in the tensor's own precision (the constants are passed in that
dtype, so float32 stays float32 and nothing is contracted into an FMA; numba does not use
``fastmath`` here): ``d = 2 - 2|x|`` (``2|x|`` is exact, one rounding in the subtraction),
``d = 0`` where ``d < 0`` (+0, as ``clamp_(min=0)`` gives), then ``d * g``. NaNs propagate as
in torch (``clamp`` keeps NaN; ``NaN < 0`` is false here). ``tests/test_nn_functional.py``
checks bitwise equality with the torch expression on random and special values (±0, ±1,
±inf, NaN, subnormals), in float32 and float64.

numba is optional (it comes with the ``nn`` extra). Without it, or for tensors the loop does
not cover (not on the CPU, not float32/float64, dtypes or shapes that differ, not
contiguous), :func:`approx_sign_backward` evaluates the torch expression. Not in the paper.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["approx_sign_backward", "fused_available"]

_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


@functools.cache
def _compiled() -> Callable[..., None] | None:
    """The numba loop, compiled on first use (cached on disk); None without numba."""
    try:
        import numba  # optional, and ~0.3 s to import: only when a backward runs
    except ImportError:
        return None

    def triangle_times_grad(x: Any, grad: Any, out: Any, two: Any, zero: Any) -> None:
        for i in range(x.size):
            d = two - two * abs(x[i])  # 2 − 2|x| in the array's precision (two has its dtype)
            if d < zero:  # clamp(min=0); NaN stays NaN
                d = zero
            out[i] = d * grad[i]

    try:  # compiled code cached next to this file, or in the user's cache folder
        return numba.njit(cache=True, nogil=True, boundscheck=False)(triangle_times_grad)
    except RuntimeError:  # no writable cache location (read-only install and home): compile per process
        return numba.njit(cache=False, nogil=True, boundscheck=False)(triangle_times_grad)


def fused_available() -> bool:
    """Whether the one-pass kernel is available (numba installed)."""
    return _compiled() is not None


def _torch_expression(x: Tensor, grad: Tensor) -> Tensor:
    # 2 − 2|x| on |x| < 1, else 0, times grad: (−2|x|) + 2 rounds as 2 − 2|x| (2|x| is exact)
    return torch.abs(x).mul_(-2.0).add_(2.0).clamp_(min=0.0).mul_(grad)


def approx_sign_backward(x: Tensor, grad: Tensor, *, fused: bool = True) -> Tensor:
    r""":math:`g\,\max(0,\, 2 - 2|x|)`, the ApproxSign surrogate times the incoming gradient.

    Parameters
    ----------
    x : Tensor
        Input of the activation sign (saved by the forward pass).
    grad : Tensor
        Gradient with respect to the sign's output, same shape as ``x``.
    fused : bool
        Use the one-pass numba loop where it applies (default). ``False`` forces the torch
        expression (the reference the tests compare against).

    Returns
    -------
    Tensor
        A new tensor, bitwise equal whichever route computed it. Not recorded by autograd
        (the numba route cannot be); under ``create_graph=True`` use the out-of-place torch
        expression instead, as :class:`~biper_theory.nn.functional.ApproxSign` does.
    """
    kernel = _compiled() if fused else None
    np_dtype = _DTYPES.get(x.dtype)
    if (
        kernel is None
        or np_dtype is None
        or x.device.type != "cpu"
        or grad.device.type != "cpu"
        or grad.dtype != x.dtype
        or grad.shape != x.shape
        or not (x.is_contiguous() and grad.is_contiguous())
    ):
        return _torch_expression(x, grad)
    out = torch.empty_like(grad, memory_format=torch.contiguous_format)
    if out.numel():
        kernel(
            x.detach().view(-1).numpy(),
            grad.detach().view(-1).numpy(),
            out.view(-1).numpy(),
            np_dtype(2.0),
            np_dtype(0.0),
        )
    return out
