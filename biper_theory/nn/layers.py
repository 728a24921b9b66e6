r"""BiPer layers: convolution and linear maps with periodic binary weights and binary activations.

A BiPer layer keeps a real *latent* weight :math:`w` and a learnable per-output-channel
scale :math:`\alpha`; what it multiplies its input by depends on the training stage
(Vargas et al., 2024, Sec. 2):

- stage 1: :math:`\alpha\,\hat w` with :math:`\hat w = \sin(\omega_0 w)` (real, smooth);
- stage 2: :math:`\alpha\,\operatorname{sign}(\sin(\omega_0 w))` (binary), back-propagated
  through :math:`\hat w` (:func:`~biper_theory.nn.functional.biper_sign`).

With ``binary_activations=True`` the input is binarized by
:func:`~biper_theory.nn.functional.approx_sign` (ApproxSign surrogate) first, optionally
after a per-sample normalisation (``act_norm``, see :class:`BiPerConv2d`).

The official code applies :math:`\alpha` to the convolution output; we scale the weight
instead. The two are identical when the layer has no bias (every binary convolution of the
official models); with a bias the official order is :math:`\alpha(Wx + b)`, ours
:math:`(\alpha W)x + b`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .functional import _check_omega0, approx_sign, biper_sign, biper_sine

__all__ = [
    "ACT_NORMS",
    "ALPHA_INITS",
    "LATENT_INITS",
    "BiPerConv2d",
    "BiPerLinear",
    "init_latent_weights",
    "iter_biper_layers",
    "set_stage",
    "share_past_half_period",
]

#: accepted values of ``act_norm`` (``True`` means ``"scale"``, ``False``/``None`` means off).
ACT_NORMS = ("scale", "standardize")
#: accepted values of ``alpha_init``.
ALPHA_INITS = ("mean-abs", "uniform", "ones")
#: accepted ``scheme`` values of :func:`init_latent_weights`.
LATENT_INITS = ("kaiming-normal", "torch-default", "laplace")

_ACT_EPS = 1e-5  # added to the per-sample variance, as in the official code

ActNorm = Literal["scale", "standardize"] | bool | None


def _check_stage(stage: object) -> int:
    if isinstance(stage, bool) or stage not in (1, 2):
        raise ValueError(f"stage must be 1 (real sin(omega0*w)) or 2 (binary sign); got {stage!r}")
    return 1 if stage == 1 else 2


def _check_act_norm(act_norm: object) -> str | None:
    if act_norm is None or act_norm is False:
        return None
    if act_norm is True:
        return "scale"
    if act_norm in ACT_NORMS:
        return str(act_norm)
    raise ValueError(f"act_norm must be False, True (= 'scale') or one of {ACT_NORMS}; got {act_norm!r}")


class _BiPerMixin:
    """Stage switch, ω₀, α and activation binarization shared by the BiPer layers."""

    weight: Tensor
    alpha: nn.Parameter
    training: bool
    _stage: int
    _omega0: float
    _act_norm: str | None
    binary_activations: bool

    def _setup_biper(
        self, omega0: float, stage: int, binary_activations: bool, act_norm: ActNorm, alpha_init: str
    ) -> None:
        self.omega0 = omega0
        self.stage = stage
        self.binary_activations = bool(binary_activations)
        self._act_norm = _check_act_norm(act_norm)
        if alpha_init not in ALPHA_INITS:
            raise ValueError(f"alpha_init must be one of {ALPHA_INITS}; got {alpha_init!r}")
        self.alpha_init = alpha_init
        self.reset_alpha()

    # -- validated attributes -------------------------------------------------------------
    @property
    def stage(self) -> int:
        """Training stage, 1 (real sine weights) or 2 (binary weights); validated on assignment."""
        return self._stage

    @stage.setter
    def stage(self, value: int) -> None:
        self._stage = _check_stage(value)

    @property
    def omega0(self) -> float:
        """Frequency :math:`\\omega_0 > 0` of the periodic binarizer."""
        return self._omega0

    @omega0.setter
    def omega0(self, value: float) -> None:
        self._omega0 = _check_omega0(value)

    @property
    def act_norm(self) -> str | None:
        """``None``, ``"scale"`` (official) or ``"standardize"``."""
        return self._act_norm

    # -- weights --------------------------------------------------------------------------
    def _alpha_shape(self) -> tuple[int, ...]:
        return (self.weight.shape[0],) + (1,) * (self.weight.dim() - 1)

    @torch.no_grad()
    def reset_alpha(self, generator: torch.Generator | None = None) -> None:
        r"""(Re)initialise :math:`\alpha` from the current latent weights (``alpha_init``).

        ``"mean-abs"`` (default): :math:`\alpha_c = \operatorname{mean}_{c}|\sin(\omega_0 w)|`, the
        empirical :math:`\gamma^* = E|\hat w|` of eq. (8) per output channel c;
        ``"uniform"``: :math:`U[0, 1)` as in the official code (``torch.rand``);
        ``"ones"``: 1.
        """
        shape = self._alpha_shape()
        if self.weight.is_meta:  # a model built for its shapes alone: no values to derive α from
            value = torch.empty(shape, dtype=self.weight.dtype, device="meta")
        elif self.alpha_init == "mean-abs":
            dims = tuple(range(1, self.weight.dim()))
            value = torch.sin(self.omega0 * self.weight).abs().mean(dim=dims).reshape(shape)
        elif self.alpha_init == "uniform":
            value = torch.rand(shape, generator=generator, dtype=self.weight.dtype, device=self.weight.device)
        else:
            value = torch.ones(shape, dtype=self.weight.dtype, device=self.weight.device)
        if isinstance(getattr(self, "alpha", None), nn.Parameter) and self.alpha.shape == value.shape:
            self.alpha.copy_(value)
        else:
            self.alpha = nn.Parameter(value.clone())

    def quantized_weight(self) -> Tensor:
        r"""Weight of the forward pass: :math:`\alpha\sin(\omega_0 w)` (stage 1) or
        :math:`\alpha\operatorname{sign}(\sin(\omega_0 w))` (stage 2), with its surrogate graph."""
        if self._stage == 1:
            q = biper_sine(self.weight, self._omega0)
        else:
            q = biper_sign(self.weight, self._omega0)
        return q * self.alpha

    def binary_weight(self) -> Tensor:
        r""":math:`\operatorname{sign}(\sin(\omega_0 w))` without :math:`\alpha` and without graph."""
        with torch.no_grad():
            return torch.sign(torch.sin(self._omega0 * self.weight))

    # -- activations ----------------------------------------------------------------------
    def _binarize_input(self, x: Tensor) -> Tensor:
        if not self.binary_activations:
            return x
        if self._act_norm is not None and x.dim() > 1:
            dims = tuple(range(1, x.dim()))
            if self._act_norm == "standardize":
                # (x − mean)/std per sample: the mean shift moves the sign threshold (forward changes)
                mean = x.mean(dim=dims, keepdim=True)
                x = (x - mean) / torch.sqrt(x.var(dim=dims, keepdim=True) + _ACT_EPS)
            elif self.training:
                # x/std per sample, training only (official): sign(x/s) = sign(x) for s > 0, so only
                # the surrogate's argument, hence the backward, changes
                x = x / torch.sqrt(x.var(dim=dims, keepdim=True) + _ACT_EPS)
        return approx_sign(x)

    def _biper_repr(self) -> str:
        parts = [f"omega0={self._omega0:g}", f"stage={self._stage}"]
        parts.append(f"binary_activations={self.binary_activations}")
        if self._act_norm is not None:
            parts.append(f"act_norm={self._act_norm!r}")
        return ", ".join(parts)


class BiPerConv2d(_BiPerMixin, nn.Conv2d):
    r"""2-D convolution with BiPer weights, per-channel scale and (optionally) binary inputs.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding, bias
        As :class:`torch.nn.Conv2d` (``bias`` defaults to False, as in every BiPer conv).
    omega0 : float, keyword-only
        Frequency :math:`\omega_0 > 0` (default 20; the official code's default is 30).
    stage : {1, 2}, keyword-only
        1: weights :math:`\alpha\sin(\omega_0 w)`; 2: :math:`\alpha\operatorname{sign}(\sin(\omega_0 w))`.
        Settable later through the validated :attr:`stage` property or :func:`set_stage`.
    binary_activations : bool, keyword-only
        Binarize the input with :func:`~biper_theory.nn.functional.approx_sign` (1W1A). False
        gives the 1W32A variant.
    act_norm : bool or {"scale", "standardize"}, keyword-only
        Per-sample normalisation of the input before the sign. ``True``/``"scale"`` is the
        official code's: :math:`x / \sqrt{\operatorname{Var}_{C,H,W}(x) + 10^{-5}}` in training
        mode only. Since :math:`\operatorname{sign}(x/s) = \operatorname{sign}(x)` for
        :math:`s > 0` it leaves the forward result unchanged and changes only the backward
        pass, which becomes that of :math:`F(x/s(x))` with :math:`F` the ApproxSign surrogate
        (:func:`~biper_theory.nn.functional.approx_sign_surrogate`): the factor
        :math:`\max(0, 2 - 2|x/s|)/s` per input (which inputs fall inside :math:`|x/s| < 1`)
        plus the term through :math:`s`, which depends on the whole sample (:math:`s` is not
        detached, as in the official code). In eval mode the layer is the plain one.
        ``"standardize"`` uses
        :math:`(x - \bar x)/s`: subtracting the per-sample mean moves the sign threshold from 0
        to :math:`\bar x`, so it changes the forward result too (applied in train and eval).
    alpha_init : {"mean-abs", "uniform", "ones"}, keyword-only
        Initial :math:`\alpha` (shape ``(out_channels, 1, 1, 1)``). ``"mean-abs"`` (default):
        per-channel mean of :math:`|\sin(\omega_0 w)|`, the empirical
        :math:`\gamma^*` of eq. (8), recomputed by :meth:`reset_alpha` after a re-initialisation
        of :math:`w`. The official code draws :math:`U[0, 1)` (``"uniform"``); since a
        BatchNorm follows every binary convolution in these networks the choice mostly
        matters for how :math:`\alpha` is read, not for accuracy.

    Notes
    -----
    .. math::

        y = \operatorname{conv}\big(\operatorname{sign}(x),\; \alpha \odot Q(w)\big), \qquad
        Q(w) = \begin{cases} \sin(\omega_0 w) & \text{stage 1} \\
        \operatorname{sign}(\sin(\omega_0 w)) & \text{stage 2} \end{cases}

    with surrogate derivatives :math:`\partial Q/\partial w = \omega_0\cos(\omega_0 w)` and
    :math:`\partial\operatorname{sign}(x)/\partial x := \max(0, 2 - 2|x|)`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        bias: bool = False,
        *,
        omega0: float = 20.0,
        stage: int = 1,
        binary_activations: bool = True,
        act_norm: ActNorm = False,
        alpha_init: str = "mean-abs",
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self._setup_biper(omega0, stage, binary_activations, act_norm, alpha_init)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(self._binarize_input(x), self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, {self._biper_repr()}"


class BiPerLinear(_BiPerMixin, nn.Linear):
    r"""Linear map with BiPer weights, per-output scale :math:`\alpha` (shape ``(out, 1)``).

    Parameters and semantics as :class:`BiPerConv2d` (``act_norm`` normalises over the
    feature dimension); ``bias`` defaults to True as in :class:`torch.nn.Linear`.

    Notes
    -----
    .. math:: y = (\alpha \odot Q(w))\operatorname{sign}(x) + b
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        omega0: float = 20.0,
        stage: int = 1,
        binary_activations: bool = True,
        act_norm: ActNorm = False,
        alpha_init: str = "mean-abs",
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._setup_biper(omega0, stage, binary_activations, act_norm, alpha_init)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self._binarize_input(x), self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, {self._biper_repr()}"


BiPerLayer = BiPerConv2d | BiPerLinear


def iter_biper_layers(model: nn.Module) -> Iterator[tuple[str, BiPerConv2d | BiPerLinear]]:
    """Yield ``(qualified_name, layer)`` for every BiPer layer of ``model``, in module order.

    A ``DistributedDataParallel``/``DataParallel`` wrapper is looked through, so names never
    carry the ``module.`` prefix.
    """
    inner = getattr(model, "module", None)
    root = inner if isinstance(inner, nn.Module) else model
    for name, module in root.named_modules():
        if isinstance(module, BiPerConv2d | BiPerLinear):
            yield name, module


def set_stage(model: nn.Module, stage: int) -> int:
    """Set the stage (1 or 2) of every BiPer layer of ``model``; return how many were set.

    Raises
    ------
    ValueError
        If ``stage`` is not 1 or 2 (checked even when the model has no BiPer layer).
    """
    stage = _check_stage(stage)
    count = 0
    for _, layer in iter_biper_layers(model):
        layer.stage = stage
        count += 1
    return count


@torch.no_grad()
def share_past_half_period(model: nn.Module) -> float:
    r"""Fraction of latent weights, over all BiPer layers, with :math:`|\omega_0 w| > \pi/2`.

    Inside the first half-period (:math:`|\omega_0 w| \le \pi/2`) the BiPer binarizer agrees
    with ``sign(w)``; past it, weights can sit on a different branch of the sine. Not in the
    paper.

    Raises
    ------
    ValueError
        If ``model`` has no BiPer layer.
    """
    total = 0
    past = 0
    for _, layer in iter_biper_layers(model):
        w = layer.weight
        total += w.numel()
        past += int((torch.abs(layer.omega0 * w) > math.pi / 2).sum())
    if total == 0:
        raise ValueError("model has no BiPer layer, so no latent weights to measure")
    return past / total


@torch.no_grad()
def init_latent_weights(
    model: nn.Module,
    scheme: str = "kaiming-normal",
    *,
    generator: torch.Generator | None = None,
    b: float | None = None,
) -> int:
    r"""Re-initialise the latent weights of every BiPer layer, then their :math:`\alpha`.

    Parameters
    ----------
    model : nn.Module
    scheme : {"kaiming-normal", "torch-default", "laplace"}
        ``"kaiming-normal"``: :math:`N(0, 2/\text{fan-in})`, what the official CIFAR ResNet code
        applies to every convolution. ``"torch-default"``: PyTorch's own
        :math:`U(-1/\sqrt{\text{fan-in}}, 1/\sqrt{\text{fan-in}})` (Kaiming-uniform with
        :math:`a=\sqrt5`). ``"laplace"``: i.i.d. Laplace(0, ``b``), the model of the paper's
        Sec. 2.1, so that :math:`a = b\,\omega_0` is set directly.
    generator : torch.Generator, optional
        Source of randomness (the global one if omitted).
    b : float, optional
        Laplace scale (> 0); required by, and only allowed with, ``scheme="laplace"``.

    Returns
    -------
    int
        Number of layers re-initialised.
    """
    if scheme not in LATENT_INITS:
        raise ValueError(f"scheme must be one of {LATENT_INITS}; got {scheme!r}")
    if (scheme == "laplace") != (b is not None):
        raise ValueError("b (Laplace scale, > 0) is required with scheme='laplace' and only there")
    if b is not None and not (b > 0 and math.isfinite(b)):
        raise ValueError(f"b must be finite and in (0, inf); got {b!r}")
    count = 0
    for _, layer in iter_biper_layers(model):
        w = layer.weight
        if scheme == "kaiming-normal":
            nn.init.kaiming_normal_(w, generator=generator)
        elif scheme == "torch-default":
            nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        else:
            assert b is not None
            # |w|/b ~ Exp(1) by inversion, −log(1 − r) with r ∈ [0, 1) (always finite); random sign
            r = torch.rand(w.shape, generator=generator, dtype=w.dtype, device=w.device)
            sign = torch.rand(w.shape, generator=generator, dtype=w.dtype, device=w.device) < 0.5
            w.copy_(torch.where(sign, -b, b) * -torch.log1p(-r))
        layer.reset_alpha(generator)
        count += 1
    return count
