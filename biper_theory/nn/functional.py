"""Binarizers of BiPer networks as autograd functions: forward map and surrogate derivative.

Each binarizer is a pair, as in larq: a ``torch.autograd.Function`` whose forward pass is
the hard (piecewise-constant) map and whose backward pass is a chosen surrogate
derivative, plus a plain differentiable function whose *true* derivative is that
surrogate. The smooth partner is what the Function pretends to be in the backward pass;
it makes the surrogate testable with ``torch.autograd.gradcheck`` in float64.

- ``biper_sign(w, omega0)``: forward :math:`\\operatorname{sign}\\sin(\\omega_0 w)`,
  backward :math:`\\omega_0\\cos(\\omega_0 w)`; smooth partner ``biper_sine``.
- ``approx_sign(x)``: forward :math:`\\operatorname{sign} x`, backward
  :math:`\\max(0, 2 - 2|x|)` (Bi-Real ApproxSign); smooth partner ``approx_sign_surrogate``.

Value at zero
-------------
Both forwards use ``torch.sign``, so an input of exactly zero maps to 0 (a ternary
value), not to +1. This is what the official BiPer code does (its ``BinaryQuantize``
and ``BinaryQuantize_a`` call ``torch.sign``), so a network evaluated here gives the
same outputs as the official code on the same checkpoint. For weights the event has
probability zero under any continuous latent distribution, and in floating point
sin(ω₀w) rounds to zero only at w = 0 (no nonzero float is an exact multiple of π).
Activations hit 0 only on exact zeros (e.g. zero padding, which the convolution
contributes as 0 in both codes anyway).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "BiPerSign",
    "ApproxSign",
    "biper_sign",
    "biper_sine",
    "approx_sign",
    "approx_sign_surrogate",
]


def _check_omega0(omega0: float) -> float:
    try:
        value = float(omega0)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"omega0 must be a real number in (0, inf); got {omega0!r}") from exc
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"omega0 must be finite and in (0, inf); got {omega0!r}")
    return value


class BiPerSign(torch.autograd.Function):
    r"""Hard BiPer weight binarizer with the sine as its backward surrogate.

    Forward: :math:`w_q = \operatorname{sign}(\sin(\omega_0 w))`.
    Backward: :math:`\partial L/\partial w = \omega_0 \cos(\omega_0 w)\,\partial L/\partial w_q`,
    i.e. the derivative of :math:`\hat w = \sin(\omega_0 w)` (Sec. 2 of Vargas et al., 2024).
    Use it through :func:`biper_sign`.
    """

    @staticmethod
    def forward(w: Tensor, omega0: float) -> Tensor:
        return torch.sign(torch.sin(omega0 * w))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        w, omega0 = inputs
        ctx.save_for_backward(w)
        ctx.omega0 = omega0

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> tuple[Tensor | None, None]:
        (grad,) = grad_outputs
        (w,) = ctx.saved_tensors
        omega0 = ctx.omega0
        grad_w = None
        if ctx.needs_input_grad[0]:
            grad_w = grad * (omega0 * torch.cos(omega0 * w))  # d/dw sin(ω₀w) = ω₀cos(ω₀w)
        return grad_w, None


class ApproxSign(torch.autograd.Function):
    r"""Activation sign with the ApproxSign (triangle) surrogate of Bi-Real Net.

    Forward: :math:`\operatorname{sign}(x)`. Backward:
    :math:`\partial L/\partial x = \max(0,\, 2 - 2|x|)\,\partial L/\partial y`, the derivative of
    the piecewise quadratic :func:`approx_sign_surrogate` (Liu et al., 2018, eq. 5). The official
    BiPer code uses the same surrogate. Use it through :func:`approx_sign`.
    """

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return torch.sign(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> Tensor:
        (grad,) = grad_outputs
        (x,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward (create_graph=True): out-of-place, recordable
            return grad * torch.clamp(2.0 - 2.0 * torch.abs(x), min=0.0)  # 2 − 2|x| on |x| < 1, else 0
        # Same value bit for bit with one buffer instead of four: (−2|x|) + 2 rounds as 2 − 2|x|
        # (2|x| is exact), and the product commutes. Backward is where this layer's time went.
        return torch.abs(x).mul_(-2.0).add_(2.0).clamp_(min=0.0).mul_(grad)


def biper_sign(w: Tensor, omega0: float) -> Tensor:
    r"""Binary BiPer weights :math:`\operatorname{sign}(\sin(\omega_0 w))` with a sine surrogate.

    Parameters
    ----------
    w : Tensor
        Latent (real) weights.
    omega0 : float
        Frequency :math:`\omega_0 > 0` of the periodic binarizer.

    Returns
    -------
    Tensor
        Values in {-1, 0, +1} (0 only where :math:`\sin(\omega_0 w) = 0` exactly, e.g. w = 0;
        ``torch.sign`` convention, as in the official code), same shape and dtype as ``w``.

    Notes
    -----
    Forward map and surrogate derivative (stage 2 of Vargas et al., 2024, Sec. 2):

    .. math::

        w_q = \operatorname{sign}(\sin(\omega_0 w)), \qquad
        \frac{\partial w_q}{\partial w} := \omega_0 \cos(\omega_0 w).

    The backward pass is exact for :func:`biper_sine`, the stage-1 weight
    :math:`\hat w = \sin(\omega_0 w)`; the official code gets the same gradient with a
    straight-through ``sign`` applied to :math:`\hat w`.

    Raises
    ------
    ValueError
        If ``omega0`` is not finite and positive.
    """
    return BiPerSign.apply(w, _check_omega0(omega0))


def biper_sine(w: Tensor, omega0: float) -> Tensor:
    r"""Stage-1 BiPer weights :math:`\hat w = \sin(\omega_0 w)` (plain autograd).

    Notes
    -----
    .. math:: \hat w = \sin(\omega_0 w), \qquad \frac{\partial \hat w}{\partial w} = \omega_0\cos(\omega_0 w).

    This is the smooth partner of :func:`biper_sign`: same derivative, and
    :math:`\operatorname{sign}\hat w` is the forward of :func:`biper_sign`.

    Raises
    ------
    ValueError
        If ``omega0`` is not finite and positive.
    """
    return torch.sin(_check_omega0(omega0) * w)


def approx_sign(x: Tensor) -> Tensor:
    r"""Binary activations :math:`\operatorname{sign}(x)` with the ApproxSign surrogate.

    Notes
    -----
    .. math::

        y = \operatorname{sign}(x), \qquad
        \frac{\partial y}{\partial x} :=
        \begin{cases} 2 - 2|x| & |x| < 1 \\ 0 & \text{otherwise} \end{cases}

    (Bi-Real Net's ApproxSign; not in the BiPer paper, used by its official code). The
    surrogate is the exact derivative of :func:`approx_sign_surrogate`. ``sign(0) = 0``.
    """
    return ApproxSign.apply(x)


def approx_sign_surrogate(x: Tensor) -> Tensor:
    r"""Smooth (C¹) partner of :func:`approx_sign`: a piecewise quadratic clip to [-1, 1].

    Notes
    -----
    .. math::

        F(x) = 2c - c|c|, \quad c = \operatorname{clip}(x, -1, 1), \qquad
        F'(x) = \max(0,\, 2 - 2|x|)

    i.e. :math:`F = -1` for :math:`x \le -1`, :math:`x^2 + 2x` on [-1, 0],
    :math:`2x - x^2` on [0, 1] and 1 for :math:`x \ge 1` (Liu et al., 2018, eq. 5).
    Plain autograd, so ``torch.autograd.gradcheck`` applies in float64.
    """
    c = torch.clamp(x, -1.0, 1.0)
    return 2.0 * c - c * torch.abs(c)  # F(x) = 2c − c|c|
