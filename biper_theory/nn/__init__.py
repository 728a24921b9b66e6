"""PyTorch side of biper-theory: binarizers, BiPer layers, models, checkpoints, training.

Importing this package imports torch; ``import biper_theory`` alone never does. The
submodules are :mod:`~biper_theory.nn.functional` (autograd binarizers),
:mod:`~biper_theory.nn.layers` (``BiPerConv2d``, ``BiPerLinear``, stage switching),
:mod:`~biper_theory.nn.models` (``build_model``), :mod:`~biper_theory.nn.checkpoint`
(saving ours, reading ours and the official code's ``.pth.tar`` files safely),
:mod:`~biper_theory.nn.data` (offline datasets), :mod:`~biper_theory.nn.monitor`
(``QEMonitor``: QE, laws, α vs γ* and flip ratio during training), :mod:`~biper_theory.nn.heap`
(``steady_heap``: glibc keeps a training process's freed buffers) and
:mod:`~biper_theory.nn.train` (the two-stage training loop, DDP-ready; not imported here,
import it directly).
"""

from __future__ import annotations

from .checkpoint import (
    LatentWeights,
    UntrustedCheckpointError,
    load_checkpoint,
    load_latent_weights,
    save_checkpoint,
)
from .functional import approx_sign, approx_sign_surrogate, biper_sign, biper_sine
from .heap import steady_heap
from .layers import (
    BiPerConv2d,
    BiPerLinear,
    init_latent_weights,
    iter_biper_layers,
    set_stage,
    share_past_half_period,
)
from .models import ARCHS, binarized_layer_names, build_model, count_parameters
from .monitor import QEMonitor, layer_records

__all__ = [
    "ARCHS",
    "BiPerConv2d",
    "BiPerLinear",
    "LatentWeights",
    "QEMonitor",
    "UntrustedCheckpointError",
    "approx_sign",
    "approx_sign_surrogate",
    "binarized_layer_names",
    "biper_sign",
    "biper_sine",
    "build_model",
    "count_parameters",
    "init_latent_weights",
    "iter_biper_layers",
    "layer_records",
    "load_checkpoint",
    "load_latent_weights",
    "save_checkpoint",
    "set_stage",
    "share_past_half_period",
    "steady_heap",
]
