r"""Benchmark 5: ``BiPerConv2d`` forward + backward against a plain sign-STE convolution.

The reference is written here: the straight-through estimator of Courbariaux et al. /
Hubara et al., :math:`\mathrm{sign}` forward and :math:`\partial\,\mathrm{sign}(x)/\partial x
:= 1_{|x|\le1}` backward, applied to the weights (and, in the 1W1A cases, to the input),
with the same per-channel scale :math:`\alpha` as BiPer. Both layers have the same shape and
the same latent weights; the two are timed alternately so that a load change on a shared
machine hits both.
"""

from __future__ import annotations

import time
from typing import Any

from ._harness import Config, NotAvailable, Result, Timing, require

__all__ = ["bench_conv", "make_sign_ste_conv"]

_SEED = 20240401


def make_sign_ste_conv(
    in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int, *, binary_input: bool
) -> Any:
    """A ``torch.nn.Conv2d`` whose weight (and optionally input) pass through a sign STE."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class _SignSTE(torch.autograd.Function):
        @staticmethod
        def forward(x: torch.Tensor) -> torch.Tensor:
            return torch.sign(x)

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx: Any, *grad_outputs: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return grad_outputs[0] * (x.abs() <= 1).to(grad_outputs[0].dtype)

    class SignSTEConv2d(nn.Conv2d):
        def __init__(self) -> None:
            super().__init__(
                in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
            )
            self.alpha = nn.Parameter(torch.ones(out_channels, 1, 1, 1))
            self.binary_input = binary_input

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.binary_input:
                x = _SignSTE.apply(x)
            w = _SignSTE.apply(self.weight) * self.alpha
            return F.conv2d(x, w, None, self.stride, self.padding)

    return SignSTEConv2d()


def bench_conv(cfg: Config) -> Result:
    """Forward + backward time of BiPerConv2d / sign-STE conv, same shape and weights."""
    layers = require("biper_theory.nn.layers", "BiPerConv2d")
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the nn extra
        raise NotAvailable("torch is not installed (pip install -e '.[nn]')") from exc

    if cfg.quick:
        batch, ch, hw = 2, 8, 8
    else:
        batch, ch, hw = 8, 128, 16  # a ResNet-18 (CIFAR) stage-2 3x3 convolution, batch 8
    k, stride, pad = 3, 1, 1
    res = Result(
        name="conv",
        title=f"BiPerConv2d fwd+bwd vs sign-STE conv, x {batch}x{ch}x{hw}x{hw}, {ch}->{ch} 3x3, 1 thread",
        target="BiPerConv2d time <= 1.10 x sign-STE conv (stage 2, 1W1A)",
        ratio_label="BiPerConv2d time / sign-STE conv time",
    )
    gen = torch.Generator().manual_seed(_SEED)
    x0 = torch.randn(batch, ch, hw, hw, generator=gen)
    cases = [
        ("stage 2, 1W1A", 2, True),
        ("stage 1, 1W1A", 1, True),
        ("stage 2, 1W32A", 2, False),
    ]
    reps = cfg.repeats if cfg.quick else max(3 * cfg.repeats, 15)
    inner = 1 if cfg.quick else 2
    ratios: dict[str, float] = {}
    ratios_min: dict[str, float] = {}
    # One intra-op thread: on a shared 2-core machine OpenMP workers that wait for a busy
    # core make multi-threaded times erratic; both layers run under the same setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for label, stage, binary in cases:
            torch.manual_seed(_SEED)  # the layers' own init; weights are then copied across
            biper = layers.BiPerConv2d(
                ch, ch, k, stride, pad, omega0=20.0, stage=stage, binary_activations=binary
            )
            ref = make_sign_ste_conv(ch, ch, k, stride, pad, binary_input=binary)
            with torch.no_grad():
                ref.weight.copy_(biper.weight)
                ref.alpha.copy_(biper.alpha.detach().reshape(ref.alpha.shape))
            x = x0.clone().requires_grad_(True)
            grad_out = torch.ones(batch, ch, hw, hw)

            def step(layer: Any, x: torch.Tensor = x, grad_out: torch.Tensor = grad_out) -> None:
                for _ in range(inner):
                    layer.zero_grad(set_to_none=True)
                    x.grad = None
                    layer(x).backward(grad_out)

            samples: dict[str, list[float]] = {"biper": [], "ref": []}
            for layer in (biper, ref):  # warm-up
                step(layer)
            for _ in range(reps):
                for key, layer in (("biper", biper), ("ref", ref)):
                    t0 = time.perf_counter()
                    step(layer)
                    samples[key].append((time.perf_counter() - t0) / inner)
            t_b, t_r = Timing.of(samples["biper"]), Timing.of(samples["ref"])
            ratios[label] = t_b.median_s / t_r.median_s
            ratios_min[label] = t_b.min_s / t_r.min_s
            res.add(f"sign-STE conv, {label} (reference)", t_r, info="per fwd+bwd")
            res.add(f"BiPerConv2d, {label}", t_b, info=f"per fwd+bwd, {ratios[label]:.2f} x reference")
    finally:
        torch.set_num_threads(threads)
    res.ratio = ratios["stage 2, 1W1A"]
    res.ratio_min = ratios_min["stage 2, 1W1A"]
    res.met = res.ratio <= 1.10
    res.details = {
        "input_shape": [batch, ch, hw, hw],
        "kernel": [ch, ch, k, k],
        "omega0": 20.0,
        "torch_threads": 1,
        "ratios": ratios,
        "ratios_of_minima": ratios_min,
    }
    return res
