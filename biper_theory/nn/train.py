r"""Two-stage training of BiPer networks, deterministic and ready for DistributedDataParallel.

The recipe of Vargas et al. (2024, Sec. 3.1, "Training Details and Procedures"): SGD with momentum 0.9 and
a cosine learning-rate schedule; **stage 1** trains with real weights
:math:`\alpha\sin(\omega_0 w)` and binary activations, **stage 2** starts from the stage-1
latent weights (warm start, same :math:`\omega_0`) and trains the fully binary network
:math:`\alpha\operatorname{sign}(\sin(\omega_0 w))`. The paper uses learning rate 0.1 in
stage 1 and 0.01 in stage 2; those are the defaults here too. A full-precision baseline
(real weights and activations, same architecture) is trained by the same loop.

What this module adds to the recipe (not in the paper)
------------------------------------------------------
- **Reproducibility.** The same :class:`TrainConfig` gives bitwise the same weights: the
  initial weights, the latent-weight re-initialisation and the data order each come from
  their own ``torch.Generator``, seeded from ``seed`` through
  :class:`numpy.random.SeedSequence`; the caller's global RNG state is left unchanged;
  ``torch.use_deterministic_algorithms`` is switched on and the intra-op thread count is
  fixed (``num_threads``, default 1) for the duration of the run, then restored.
- **Half-period report.** For every binarized layer the share of latent weights with
  :math:`|\omega_0 w| > \pi/2` (past the first half-period of the sine, where
  :math:`\hat w = \sin(\omega_0 w)` stops being monotone), the share whose binary value
  differs from ``sign(w)`` (:math:`|\omega_0 w| > \pi` modulo the period), and the Laplace
  maximum-likelihood scale :math:`\hat b = \operatorname{mean}|w|` with :math:`a = \hat b\omega_0`
  and the Laplace predictions :math:`P(|X| > \pi/2) = e^{-\pi/(2a)}` and the sign-flip
  probability :math:`1/(1 + e^{\pi/a})`, before and after each stage.
- **Scale-out.** Under ``torchrun --nproc_per_node=N`` (environment variables ``RANK`` and
  ``WORLD_SIZE``) the loop initialises a process group (gloo on CPU, nccl on CUDA), wraps the
  model in :class:`~torch.nn.parallel.DistributedDataParallel`, shards the training set with a
  seeded :class:`~torch.utils.data.DistributedSampler` (``batch_size`` is the global batch,
  split evenly over the ranks), shards the test set and sums its counts, broadcasts the
  BatchNorm buffers of rank 0 after every epoch so that all ranks hold identical state, and
  lets only rank 0 write files.

The other defaults (20 epochs per run, global batch 64, weight decay 5e-4 on every parameter,
Kaiming-normal latent init as in the official code, no activation normalisation) are not in
the paper: they were chosen so that ``biper-theory train`` (digits, ``resnet-small``) runs
in well under a minute on two CPU cores and its stage-2 binary network passes 95 % test
accuracy. The paper's learning rates train well on digits as they are. Not included: the
official CIFAR scripts add :math:`\tau\,\operatorname{mean}\sin^2(\omega_0 w)` per binary
layer to the loss (:math:`\tau = 10^{-3}` by default); the paper does not mention it. Stage 2
without a warm start is allowed here (with a warning); the official stage-2 script refuses it.

Honest evaluation (not in the paper): a validation set is held out of the *training* files
(``val_fraction`` of each class, drawn from ``split_seed``, which is independent of ``seed``);
the validation accuracy is measured after every epoch, the weights of the epoch with the best
validation accuracy (the earliest, on ties) are kept, and the test set is evaluated **once**, at
the end, with those weights: ``test_accuracy_at_best``. The checkpoint and every report after
training hold the best-validation weights. With ``val_fraction=0`` nothing is selected: the last
epoch is the result. For a stage 2 warm-started from stage 1 the run also evaluates, before any
stage-2 step, the stage-1 weights under the stage-2 (binary) forward and under the stage-1 forward
on the validation and test sets: the accuracy right after the stage switch and the drop it causes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import torch.utils.deterministic as det
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset

from .. import closed_form
from .._io import write_json
from .checkpoint import find_config_omega0, load_checkpoint, save_checkpoint, to_model_state_dict
from .data import DATASETS, load_splits
from .layers import ACT_NORMS, LATENT_INITS, init_latent_weights, iter_biper_layers, set_stage
from .models import ARCHS, build_model
from .monitor import QEMonitor

__all__ = [
    "SCRATCH_STAGE2_WARNING",
    "STAGE_LR",
    "TrainConfig",
    "TrainResult",
    "TwoStageResult",
    "WARM_FROM_MEMORY",
    "derived_seeds",
    "deterministic_torch",
    "half_period_report",
    "state_dict_sha256",
    "train",
    "train_two_stage",
]

#: Default learning rate per stage (Vargas et al., 2024, Sec. 3.1: 0.1 in stage 1, 0.01 in stage 2).
#: The full-precision baseline uses the stage-1 value.
STAGE_LR: Mapping[int, float] = {1: 0.1, 2: 0.01}

#: ``TrainResult.warm_start`` of a stage 2 that :func:`train_two_stage` warm-started in memory.
WARM_FROM_MEMORY = "stage-1 model (in memory)"
#: the :class:`UserWarning` of a stage-2 run without a warm start.
SCRATCH_STAGE2_WARNING = (
    "stage 2 without init_from trains the binary network from a fresh initialisation; the paper's "
    "recipe warm-starts stage 2 from a stage-1 checkpoint (init_from, CLI --init-from)"
)

_HALF_PERIOD = math.pi / 2  # |ω₀w| beyond which sin(ω₀w) is past its first (monotone) half-period


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (and, with the same machine, its weights).

    Parameters
    ----------
    dataset : {"digits", "mnist5k", "mnist", "fashion-mnist", "cifar10"}
        See :func:`biper_theory.nn.data.load_splits`.
    arch : str
        One of :data:`biper_theory.nn.models.ARCHS`.
    omega0 : float
        Frequency :math:`\\omega_0 > 0` of the binarizer (paper: 20), the same in both stages.
    stage : {1, 2}
        1: real weights :math:`\\alpha\\sin(\\omega_0 w)`; 2: binary weights.
    init_from : path, optional
        Checkpoint to warm-start from (stage 2 from stage 1). Its ω₀ must equal ``omega0``
        and its architecture ``arch``; a mismatch is refused. Stage 2 without it trains the
        binary network from a fresh initialisation, which is *not* the paper's recipe:
        :func:`train` then issues a :class:`UserWarning` and records ``warm_start = None``
        in the result, ``metrics.json`` and the checkpoint metadata.
    epochs : int
        Number of passes over the training set (≥ 1).
    seed : int
        Seed of the initialisation and the data order (not of the splits: ``split_seed``).
    out : path, optional
        Folder for ``checkpoint.pt`` and ``metrics.json``; ``None`` writes nothing.
    lr : float, optional
        Peak learning rate of the cosine schedule; ``None`` takes :data:`STAGE_LR`.
    momentum, weight_decay : float
        SGD momentum (paper: 0.9) and L2 weight decay applied to every parameter.
    batch_size : int
        Global mini-batch size (split over the ranks under DDP; must divide evenly).
    full_precision : bool
        Train the full-precision baseline (real weights and activations) instead.
    act_norm : bool or {"scale", "standardize"}
        Per-sample activation normalisation before the sign, see
        :class:`biper_theory.nn.layers.BiPerConv2d`.
    init : {"kaiming-normal", "torch-default", "laplace"}
        Latent-weight initialisation of the binarized layers
        (:func:`biper_theory.nn.layers.init_latent_weights`); ignored with ``init_from``.
    init_b : float, optional
        Laplace scale ``b`` for ``init="laplace"`` (then :math:`a = b\\omega_0`); only there.
    num_workers : int
        DataLoader worker processes (0: load in the main process; the data sit in memory).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (under DDP, ``"cuda"`` means ``cuda:LOCAL_RANK``).
    progress : bool
        Show a tqdm progress bar (only on rank 0 and only when stderr is a terminal).
    data_dir : path, optional
        Folder with the files of ``mnist``, ``fashion-mnist`` (default: Debian's folder,
        :data:`biper_theory.nn.data.FASHION_MNIST_DIR`) or ``cifar10``.
    num_threads : int
        Intra-op CPU threads during the run (fixed for reproducibility; restored afterwards).
    val_fraction : float
        Share of each class of the training files held out for validation, in ``[0, 1)``
        (default 0.1). The best epoch is the one with the best validation accuracy; ``0`` holds
        nothing out and takes the last epoch.
    split_seed : int
        Seed of the test split (digits, mnist5k), the training subset and the validation split.
    train_subset : int, optional
        Train on a stratified subset of this many training-file images (validation included);
        see :func:`biper_theory.nn.data.load_splits`.
    monitor : bool
        Record :func:`biper_theory.nn.monitor.layer_records` rows (measured and model QE,
        fitted laws, α vs γ*, shares, flip ratio) before training and after every epoch into
        ``TrainResult.monitor`` (default True; ignored by the full-precision baseline).
    """

    dataset: str = "digits"
    arch: str = "resnet-small"
    omega0: float = 20.0
    stage: int = 1
    init_from: str | os.PathLike[str] | None = None
    epochs: int = 20
    seed: int = 0
    out: str | os.PathLike[str] | None = None
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    full_precision: bool = False
    act_norm: bool | Literal["scale", "standardize"] = False
    init: str = "kaiming-normal"
    init_b: float | None = None
    num_workers: int = 0
    device: str = "cpu"
    progress: bool = True
    data_dir: str | os.PathLike[str] | None = None
    num_threads: int = 1
    val_fraction: float = 0.1
    split_seed: int = 0
    train_subset: int | None = None
    monitor: bool = True

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {self.dataset!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {self.arch!r}")
        _check_positive("omega0", self.omega0)
        if isinstance(self.stage, bool) or self.stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2; got {self.stage!r}")
        _check_int("epochs", self.epochs, 1)
        _check_int("seed", self.seed, 0)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("num_workers", self.num_workers, 0)
        _check_int("num_threads", self.num_threads, 1)
        _check_int("split_seed", self.split_seed, 0)
        if (
            isinstance(self.val_fraction, bool)
            or not isinstance(self.val_fraction, int | float)
            or not (0.0 <= self.val_fraction < 1.0)
        ):
            raise ValueError(f"val_fraction must be in [0, 1); got {self.val_fraction!r}")
        if self.train_subset is not None:
            _check_int("train_subset", self.train_subset, 10)
        if self.lr is not None:
            _check_positive("lr", self.lr)
        if not (isinstance(self.momentum, int | float) and 0.0 <= self.momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1); got {self.momentum!r}")
        if not (isinstance(self.weight_decay, int | float) and 0.0 <= self.weight_decay < math.inf):
            raise ValueError(f"weight_decay must be finite and in [0, inf); got {self.weight_decay!r}")
        if self.act_norm not in (False, True, *ACT_NORMS):
            raise ValueError(f"act_norm must be False, True or one of {ACT_NORMS}; got {self.act_norm!r}")
        if self.init not in LATENT_INITS:
            raise ValueError(f"init must be one of {', '.join(LATENT_INITS)}; got {self.init!r}")
        if (self.init == "laplace") != (self.init_b is not None):
            raise ValueError("init_b (Laplace scale b > 0) is required with init='laplace' and only there")
        if self.init_b is not None:
            _check_positive("init_b", self.init_b)
        if self.full_precision and (self.stage != 1 or self.init_from is not None):
            raise ValueError("full_precision trains the real-valued baseline: use stage=1 and no init_from")
        if not isinstance(self.device, str) or not self.device.startswith(("cpu", "cuda")):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}")
        for name in ("out", "init_from", "data_dir"):  # paths are kept as str (JSON-friendly)
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, os.fspath(value))

    @property
    def effective_lr(self) -> float:
        """The learning rate used: ``lr``, or :data:`STAGE_LR` of the stage (stage 1 for the baseline)."""
        return float(self.lr) if self.lr is not None else STAGE_LR[1 if self.full_precision else self.stage]

    @property
    def label(self) -> str:
        """``"stage1"``, ``"stage2"`` or ``"full-precision"``."""
        return "full-precision" if self.full_precision else f"stage{self.stage}"


@dataclass
class TrainResult:
    """Outcome of :func:`train`; :meth:`TrainResult.to_dict` is what ``metrics.json`` holds.

    ``warm_start`` says where the weights came from: the ``init_from`` checkpoint, the
    in-memory stage-1 model of :func:`train_two_stage` (:data:`WARM_FROM_MEMORY`), or ``None``
    for a fresh initialisation.

    ``best_epoch`` (1-based) is chosen on the validation accuracy (``selection="val"``), or is
    the last epoch when there is no validation set (``selection="last"``);
    ``best_val_accuracy`` is its validation accuracy and ``test_accuracy_at_best`` its test
    accuracy, the only test evaluation of the run. ``epochs`` holds per epoch the training loss
    and accuracy and the validation loss and accuracy, never a test number.

    The ``switch_*`` fields are set for a stage 2 warm-started from stage 1 (``None``
    otherwise): accuracy of the stage-1 weights under the stage-2 binary forward before any
    stage-2 step (``switch_val_accuracy``, ``switch_test_accuracy``), the same weights under
    the stage-1 forward (``switch_stage1_val_accuracy``, ``switch_stage1_test_accuracy``), and
    the drops ``stage-1 forward − binary forward`` (``switch_val_drop``, ``switch_test_drop``).

    ``monitor`` is the :class:`biper_theory.nn.monitor.QEMonitor` history: one row per
    binarized layer and an ``overall`` row at epoch 0 (before training) and after every epoch
    (the weights of that epoch, before the best epoch is restored); empty for the
    full-precision baseline or with ``monitor=False``.
    """

    config: TrainConfig
    best_val_accuracy: float | None
    test_accuracy_at_best: float
    test_loss_at_best: float
    best_epoch: int
    selection: str
    epochs: list[dict[str, float]]
    timings: dict[str, float]
    half_period_init: dict[str, Any] | None
    half_period: dict[str, Any] | None
    state_dict_sha256: str
    dataset_info: dict[str, Any]
    world_size: int
    rank: int
    checkpoint: str | None = None
    metrics: str | None = None
    warm_start: str | None = None
    switch_val_accuracy: float | None = None
    switch_test_accuracy: float | None = None
    switch_stage1_val_accuracy: float | None = None
    switch_stage1_test_accuracy: float | None = None
    switch_val_drop: float | None = None
    switch_test_drop: float | None = None
    monitor: list[dict[str, Any]] = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (everything except the model)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        d["config"] = dataclasses.asdict(self.config)
        d["label"] = self.config.label
        d["lr"] = self.config.effective_lr
        return d


@dataclass
class TwoStageResult:
    """Outcome of :func:`train_two_stage`: stage 1, warm-started stage 2, optional baseline."""

    stage1: TrainResult
    stage2: TrainResult
    full_precision: TrainResult | None
    total_seconds: float

    def runs(self) -> list[TrainResult]:
        """The results in order stage 1, stage 2, baseline (if trained)."""
        return [r for r in (self.stage1, self.stage2, self.full_precision) if r is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary of all runs."""
        return {
            "stage1": self.stage1.to_dict(),
            "stage2": self.stage2.to_dict(),
            "full_precision": None if self.full_precision is None else self.full_precision.to_dict(),
            "total_seconds": self.total_seconds,
        }


# --------------------------------------------------------------------------------------------
# public helpers


def state_dict_sha256(model_or_state_dict: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a state_dict (DDP wrapper looked through).

    Two models with the same hash hold bitwise identical parameters and buffers.
    """
    if isinstance(model_or_state_dict, nn.Module):
        inner = getattr(model_or_state_dict, "module", None)
        sd = (inner if isinstance(inner, nn.Module) else model_or_state_dict).state_dict()
    else:
        sd = dict(model_or_state_dict)
    h = hashlib.sha256()
    for name in sorted(sd):
        t = sd[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@torch.no_grad()
def half_period_report(model: nn.Module) -> dict[str, Any] | None:
    r"""Where the latent weights sit relative to the period of :math:`\sin(\omega_0 w)`.

    For each binarized layer (and over all of them, ``overall``): ``n`` weights,
    ``share_past_half_period`` = share with :math:`|\omega_0 w| > \pi/2`, ``share_sign_flipped``
    = share with :math:`\operatorname{sign}\sin(\omega_0 w) \ne \operatorname{sign} w`, the
    Laplace maximum-likelihood scale ``b_mle`` = mean :math:`|w|` (location fixed at 0),
    ``a`` = ``b_mle``·ω₀, and what a Laplace(0, b) law with that ``a`` predicts for the two
    shares: :math:`e^{-\pi/(2a)}` and :math:`1/(1+e^{\pi/a})`
    (:func:`biper_theory.closed_form.sign_flip_probability`). Not in the paper.

    Returns ``None`` for a model without BiPer layers (the full-precision baseline).
    """
    layers: dict[str, dict[str, float]] = {}
    tot_n = tot_past = tot_flip = 0
    tot_abs = 0.0
    omega0 = math.nan
    for name, layer in iter_biper_layers(model):
        w = layer.weight.detach().to("cpu", torch.float64)
        omega0 = float(layer.omega0)
        n = w.numel()
        past = int((torch.abs(omega0 * w) > _HALF_PERIOD).sum())
        flip = int(((torch.sign(torch.sin(omega0 * w)) != torch.sign(w)) & (w != 0)).sum())
        sum_abs = float(w.abs().sum())
        layers[name] = _share_row(n, past, flip, sum_abs, omega0)
        tot_n, tot_past, tot_flip, tot_abs = tot_n + n, tot_past + past, tot_flip + flip, tot_abs + sum_abs
    if tot_n == 0:
        return None
    return {
        "omega0": omega0,
        "overall": _share_row(tot_n, tot_past, tot_flip, tot_abs, omega0),
        "layers": layers,
    }


def _share_row(n: int, past: int, flip: int, sum_abs: float, omega0: float) -> dict[str, float]:
    b = sum_abs / n
    a = b * omega0
    row: dict[str, float] = {
        "n": n,
        "share_past_half_period": past / n,
        "share_sign_flipped": flip / n,
        "b_mle": b,
        "a": a,
    }
    if a > 0:
        row["laplace_share_past_half_period"] = math.exp(-_HALF_PERIOD / a)  # P(|X| > π/2), X ~ Laplace(0, a)
        row["laplace_sign_flip_probability"] = float(closed_form.sign_flip_probability(a=a))
    return row


# --------------------------------------------------------------------------------------------
# training


def train(config: TrainConfig) -> TrainResult:
    """Train one stage (or the full-precision baseline) as ``config`` says.

    Writes ``checkpoint.pt`` (state_dict and metadata: ω₀, stage, arch, dataset, seed,
    accuracy, epochs, config; via :func:`biper_theory.nn.checkpoint.save_checkpoint`) and
    ``metrics.json`` to ``config.out`` on rank 0 when ``out`` is set. Runs unchanged under
    ``torchrun`` (see the module docstring).

    Raises
    ------
    ValueError
        A warm-start checkpoint with another ω₀, architecture or kind of model, an
        unavailable device, or a bad DDP environment.

    Warns
    -----
    UserWarning
        :data:`SCRATCH_STAGE2_WARNING`, for ``stage=2`` without ``init_from`` (a stage 2 trained
        from a fresh initialisation instead of the paper's warm start).
    """
    with _distributed(config.device) as ctx:
        return _train(config, ctx, warm=None)


def train_two_stage(
    config: TrainConfig | None = None, *, baseline: bool = True, **overrides: Any
) -> TwoStageResult:
    """Stage 1, then stage 2 warm-started from it (same ω₀), then the full-precision baseline.

    ``config`` (default :class:`TrainConfig`) with ``overrides`` applied; its ``stage``,
    ``init_from`` and ``full_precision`` are set per run, and ``lr=None`` gives each stage its
    default from :data:`STAGE_LR`. With ``out`` set, the runs go to ``out/stage1``,
    ``out/stage2`` and ``out/full-precision`` and a ``summary.json`` to ``out``. The stage-2
    warm start is taken from the stage-1 model in memory (identical to its checkpoint).
    """
    base = TrainConfig() if config is None else config
    base = dataclasses.replace(base, **overrides)
    if base.full_precision or base.init_from is not None:
        raise ValueError("train_two_stage sets full_precision and init_from itself; leave them unset")
    t0 = time.perf_counter()
    out = Path(base.out) if base.out is not None else None

    def sub(name: str) -> str | None:
        return None if out is None else str(out / name)

    with _distributed(base.device) as ctx:
        r1 = _train(dataclasses.replace(base, stage=1, out=sub("stage1")), ctx, warm=None)
        assert r1.model is not None
        warm = (_unwrap(r1.model).state_dict(), _checkpoint_meta(r1))
        cfg2 = dataclasses.replace(base, stage=2, out=sub("stage2"), init_from=r1.checkpoint)
        r2 = _train(cfg2, ctx, warm=warm)
        r_fp = None
        if baseline:
            r_fp = _train(
                dataclasses.replace(base, full_precision=True, out=sub("full-precision")), ctx, None
            )
        result = TwoStageResult(r1, r2, r_fp, time.perf_counter() - t0)
        if out is not None and ctx.rank == 0:
            write_json(out / "summary.json", result.to_dict())
    return result


@dataclass(frozen=True)
class _Dist:
    rank: int
    world: int
    local_rank: int


def derived_seeds(seed: int) -> tuple[int, int, int]:
    """The generators' seeds of a run with ``seed``: initial weights, latent re-initialisation and
    data order, drawn from :class:`numpy.random.SeedSequence` (each its own stream)."""
    build, init, data = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
    return int(build), int(init), int(data)


@contextlib.contextmanager
def deterministic_torch(num_threads: int) -> Iterator[None]:
    """Run the block with deterministic algorithms, ``num_threads`` intra-op threads and no
    filling of fresh tensors; restore all three afterwards.

    ``torch.use_deterministic_algorithms`` also fills every newly allocated tensor with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``) so that a kernel that reads memory
    it never wrote shows up as NaN. No kernel used here does (``tests/test_nn_train.py`` checks
    that the weights are bitwise equal with and without the fill), and the fill was ~4 % of a
    training step on a CPU (measured, benchmark 8), so it is switched off.
    """
    prev = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        det.fill_uninitialized_memory,  # type: ignore[attr-defined]  # a property of the module's class
    )
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    det.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        torch.set_num_threads(prev[0])
        torch.use_deterministic_algorithms(prev[1], warn_only=prev[2])
        det.fill_uninitialized_memory = prev[3]  # type: ignore[attr-defined]


@contextlib.contextmanager
def _distributed(device: str) -> Iterator[_Dist]:
    """Join (or set up, from RANK/WORLD_SIZE, and later tear down) the process group."""
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank()
        yield _Dist(rank, dist.get_world_size(), _env_int("LOCAL_RANK", rank))
        return
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        yield _Dist(0, 1, 0)
        return
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if "RANK" not in os.environ:
        raise ValueError("WORLD_SIZE > 1 but RANK is not set; launch with torchrun")
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    try:
        yield _Dist(rank, world, local_rank)
    finally:
        dist.destroy_process_group()


def _train(
    config: TrainConfig, ctx: _Dist, warm: tuple[Mapping[str, torch.Tensor], Mapping[str, Any]] | None
) -> TrainResult:
    t_start = time.perf_counter()
    device = _resolve_device(config.device, ctx)
    if config.batch_size % ctx.world:
        raise ValueError(
            f"batch_size ({config.batch_size}) must be divisible by the world size ({ctx.world})"
        )
    warm_start: str | None = None if warm is None else WARM_FROM_MEMORY
    if config.init_from is not None:
        warm_start = os.fspath(config.init_from)
    if config.stage == 2 and warm_start is None:
        warnings.warn(SCRATCH_STAGE2_WARNING, UserWarning, stacklevel=3)  # stack: caller → train → _train
    build_seed, init_seed, data_seed = derived_seeds(config.seed)

    with deterministic_torch(config.num_threads):
        train_set, val_set, test_set, info = load_splits(
            config.dataset,
            data_dir=config.data_dir,
            split_seed=config.split_seed,
            val_fraction=config.val_fraction,
            train_subset=config.train_subset,
        )
        model = _build(config, info, build_seed, init_seed, warm).to(device)
        half_init = half_period_report(model)
        val_loader = None if val_set is None else _eval_loader(val_set, ctx, data_seed)
        test_loader = _eval_loader(test_set, ctx, data_seed)
        switch: dict[str, float] = {}
        if config.stage == 2 and warm_start is not None:
            switch = _switch_accuracy(model, val_loader, test_loader, device, ctx)
        t_setup = time.perf_counter() - t_start
        monitor = QEMonitor(model) if config.monitor and not config.full_precision else None
        epochs, best, t_train, t_eval = _fit(
            config, ctx, model, train_set, val_loader, device, data_seed, monitor
        )
        t0 = time.perf_counter()
        test_loss, test_accuracy = _evaluate(model, test_loader, device, ctx)  # the only test evaluation
        t_test = time.perf_counter() - t0

    result = TrainResult(
        config=config,
        best_val_accuracy=None if val_loader is None else epochs[best]["val_accuracy"],
        test_accuracy_at_best=test_accuracy,
        test_loss_at_best=test_loss,
        best_epoch=best + 1,
        selection="last" if val_loader is None else "val",
        epochs=epochs,
        timings={
            "setup_s": t_setup,
            "train_s": t_train,
            "eval_s": t_eval,
            "test_s": t_test,
            "total_s": time.perf_counter() - t_start,
        },
        half_period_init=half_init,
        half_period=half_period_report(model),
        state_dict_sha256=state_dict_sha256(model),
        dataset_info=info,
        world_size=ctx.world,
        rank=ctx.rank,
        warm_start=warm_start,
        monitor=[] if monitor is None else monitor.history,
        model=model,
        **switch,  # type: ignore[arg-type]  # only the float switch_* fields
    )
    if config.out is not None:
        out = Path(config.out)
        if ctx.rank == 0:
            result.checkpoint = str(out / "checkpoint.pt")
            result.metrics = str(out / "metrics.json")
            save_checkpoint(result.checkpoint, _unwrap(model), _checkpoint_meta(result))
            result.timings["total_s"] = time.perf_counter() - t_start
            write_json(result.metrics, result.to_dict())
        else:  # other ranks report where rank 0 wrote
            result.checkpoint, result.metrics = str(out / "checkpoint.pt"), str(out / "metrics.json")
        if ctx.world > 1:
            dist.barrier()
    return result


def _build(
    config: TrainConfig,
    info: Mapping[str, Any],
    build_seed: int,
    init_seed: int,
    warm: tuple[Mapping[str, torch.Tensor], Mapping[str, Any]] | None,
) -> nn.Module:
    model = build_model(  # with a generator, build_model leaves the global RNG alone
        config.arch,
        num_classes=int(info["num_classes"]),
        in_channels=int(info["in_channels"]),
        omega0=config.omega0,
        stage=config.stage,
        full_precision=config.full_precision,
        act_norm=config.act_norm,
        generator=torch.Generator().manual_seed(build_seed),  # the initial weights
    )
    if config.init_from is not None and warm is None:
        state, meta, kind = load_checkpoint(config.init_from)
        if kind != "biper-theory":  # official .pth.tar or plain state_dict: ω₀ from config.txt
            meta = {**meta, "omega0": meta.get("omega0") or find_config_omega0(config.init_from)}
            state = to_model_state_dict(state, model)
        warm = (state, meta)
    if warm is not None:
        _warm_start(model, config, *warm)
    elif not config.full_precision:
        gen = torch.Generator().manual_seed(init_seed)
        init_latent_weights(model, config.init, generator=gen, b=config.init_b)
    return model


def _warm_start(
    model: nn.Module, config: TrainConfig, state: Mapping[str, Any], meta: Mapping[str, Any]
) -> None:
    src = config.init_from or "the stage-1 model"
    omega0 = meta.get("omega0")
    if omega0 is None:
        raise ValueError(
            f"{src}: the checkpoint records no omega0 (nor a config.txt with a 'freq:' line beside it); "
            f"cannot check that it equals {config.omega0:g}"
        )
    if not math.isclose(float(omega0), config.omega0, rel_tol=1e-12, abs_tol=0.0):
        raise ValueError(
            f"{src}: checkpoint omega0 = {float(omega0):g} but this run uses omega0 = {config.omega0:g}; "
            "both BiPer stages must share omega0"
        )
    if meta.get("full_precision"):
        raise ValueError(f"{src}: is a full-precision checkpoint; warm-start BiPer from a stage-1 checkpoint")
    arch = meta.get("arch")
    if arch is not None and arch != config.arch:
        raise ValueError(f"{src}: checkpoint architecture {arch!r} differs from arch {config.arch!r}")
    try:
        model.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(f"{src}: weights do not fit {config.arch}: {' '.join(first[:2])}") from exc
    set_stage(model, config.stage)


def _fit(
    config: TrainConfig,
    ctx: _Dist,
    model: nn.Module,
    train_set: TensorDataset,
    val_loader: DataLoader[Any] | None,
    device: torch.device,
    data_seed: int,
    monitor: QEMonitor | None,
) -> tuple[list[dict[str, float]], int, float, float]:
    """Train for ``config.epochs``; leave ``model`` holding the weights of the best epoch.

    Returns the per-epoch rows, the 0-based best epoch (best validation accuracy, earliest on
    ties; the last epoch without a validation set), and the training and evaluation seconds
    (validation and monitor records; each row's ``monitor_s`` is the record's share).
    """
    per_rank = config.batch_size // ctx.world
    gen = torch.Generator().manual_seed(data_seed)
    sampler: DistributedSampler[Any] | None = None
    if ctx.world > 1:
        sampler = DistributedSampler(
            train_set, num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=config.seed, drop_last=False
        )
    drop_last = len(train_set) // ctx.world > per_rank  # avoid a 1-sample BatchNorm batch at the end
    loader = DataLoader(
        train_set,
        batch_size=per_rank,
        shuffle=sampler is None,
        sampler=sampler,
        generator=gen,  # data order (without DDP) and worker seeds: never the global RNG
        drop_last=drop_last,
        num_workers=config.num_workers,
    )
    net: nn.Module = model
    if ctx.world > 1:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    steps = len(loader)
    if steps == 0:
        raise ValueError(
            f"batch_size {config.batch_size} leaves no training step on {len(train_set)} samples"
        )
    optimizer = torch.optim.SGD(
        net.parameters(), lr=config.effective_lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps)
    bar = _progress(config, ctx, config.epochs * steps)
    lines = config.progress and ctx.rank == 0 and not sys.stderr.isatty()  # one line per epoch instead
    history: list[dict[str, float]] = []
    best, best_state = config.epochs - 1, None
    t_train = t_eval = 0.0
    if monitor is not None:
        monitor.record(epoch=0, step=0)
    try:
        for epoch in range(config.epochs):
            if sampler is not None:
                sampler.set_epoch(epoch)
            t0 = time.perf_counter()
            lr0 = optimizer.param_groups[0]["lr"]
            net.train()
            sums = torch.zeros(3, dtype=torch.float64)  # loss·n, correct, n
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                logits = net(x)
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                with torch.no_grad():
                    sums += torch.tensor(
                        [float(loss) * len(y), float((logits.argmax(1) == y).sum()), len(y)],
                        dtype=torch.float64,
                    )
                bar.update(1)
            if not math.isfinite(float(sums[0])):
                raise FloatingPointError(f"training loss is not finite in epoch {epoch + 1}; lower lr")
            if ctx.world > 1:
                dist.all_reduce(sums)
                for buf in model.buffers():  # BatchNorm running statistics: take rank 0's
                    dist.broadcast(buf, src=0)
            t1 = time.perf_counter()
            row = {
                "epoch": epoch + 1,
                "lr": lr0,
                "train_loss": float(sums[0] / sums[2]),
                "train_accuracy": float(sums[1] / sums[2]),
            }
            if val_loader is not None:
                row["val_loss"], row["val_accuracy"] = _evaluate(model, val_loader, device, ctx)
                # every rank sees the same summed counts, so every rank keeps the same epoch
                if best_state is None or row["val_accuracy"] > history[best]["val_accuracy"]:
                    best = epoch
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if monitor is not None:
                t_mon = time.perf_counter()
                monitor.record(epoch=epoch + 1, step=(epoch + 1) * steps)
                row["monitor_s"] = time.perf_counter() - t_mon
            t2 = time.perf_counter()
            t_train, t_eval = t_train + (t1 - t0), t_eval + (t2 - t1)
            row["seconds"] = t2 - t0
            history.append(row)
            val_text = "" if val_loader is None else f", val_acc {row['val_accuracy']:.4f}"
            bar.set_postfix_str(f"loss {row['train_loss']:.3f}{val_text}")
            if lines:
                print(
                    f"{config.label} epoch {epoch + 1}/{config.epochs}: loss {row['train_loss']:.4f}, "
                    f"train_acc {row['train_accuracy']:.4f}{val_text}, {row['seconds']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        bar.close()
    if best_state is not None and best != config.epochs - 1:
        model.load_state_dict(best_state)
    return history, best, t_train, t_eval


def _eval_loader(dataset: TensorDataset, ctx: _Dist, data_seed: int) -> DataLoader[Any]:
    """Evaluation batches of this rank's shard (rank r takes samples r, r + world, …)."""
    return DataLoader(
        Subset(dataset, range(ctx.rank, len(dataset), ctx.world)),
        batch_size=512,
        generator=torch.Generator().manual_seed(data_seed),  # unused for order; keeps the global RNG out
    )


def _switch_accuracy(
    model: nn.Module,
    val_loader: DataLoader[Any] | None,
    test_loader: DataLoader[Any],
    device: torch.device,
    ctx: _Dist,
) -> dict[str, float]:
    """Accuracy of warm-started stage-1 weights before any stage-2 step, binary and real forward."""
    acc: dict[str, float] = {}
    for stage, prefix in ((2, "switch"), (1, "switch_stage1")):
        set_stage(model, stage)
        if val_loader is not None:
            acc[f"{prefix}_val_accuracy"] = _evaluate(model, val_loader, device, ctx)[1]
        acc[f"{prefix}_test_accuracy"] = _evaluate(model, test_loader, device, ctx)[1]
    set_stage(model, 2)
    for split in ("val", "test"):
        binary, real = acc.get(f"switch_{split}_accuracy"), acc.get(f"switch_stage1_{split}_accuracy")
        if binary is not None and real is not None:
            acc[f"switch_{split}_drop"] = real - binary
    return acc


@torch.no_grad()
def _evaluate(
    model: nn.Module, loader: DataLoader[Any], device: torch.device, ctx: _Dist
) -> tuple[float, float]:
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = F.cross_entropy(logits, y, reduction="sum")
        sums += torch.tensor([float(loss), float((logits.argmax(1) == y).sum()), len(y)], dtype=torch.float64)
    if ctx.world > 1:
        dist.all_reduce(sums)
    return float(sums[0] / sums[2]), float(sums[1] / sums[2])


# --------------------------------------------------------------------------------------------
# small helpers


def _progress(config: TrainConfig, ctx: _Dist, total: int) -> Any:
    from tqdm import tqdm

    enabled = config.progress and ctx.rank == 0 and sys.stderr.isatty()
    return tqdm(total=total, desc=config.label, unit="step", disable=not enabled, leave=False)


def _checkpoint_meta(result: TrainResult) -> dict[str, Any]:
    cfg = result.config
    return {
        "omega0": float(cfg.omega0),
        "stage": int(cfg.stage),
        "arch": cfg.arch,
        "dataset": cfg.dataset,
        "seed": int(cfg.seed),
        "accuracy": float(result.test_accuracy_at_best),
        "val_accuracy": result.best_val_accuracy,
        "best_epoch": int(result.best_epoch),
        "epochs": int(cfg.epochs),
        "full_precision": bool(cfg.full_precision),
        "warm_start": result.warm_start,
        "num_classes": int(result.dataset_info["num_classes"]),
        "in_channels": int(result.dataset_info["in_channels"]),
        "state_dict_sha256": result.state_dict_sha256,
        "config": dataclasses.asdict(cfg),
    }


def _unwrap(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model


def _resolve_device(device: str, ctx: _Dist) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", ctx.local_rank if ctx.world > 1 else torch.cuda.current_device())
    return dev


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer; got {raw!r}") from exc


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
        raise ValueError(f"{name} must be finite and in (0, inf); got {value!r}")


def _check_int(name: str, value: Any, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
