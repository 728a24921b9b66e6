r"""What the binarized weights do during training: QE, fitted laws, α vs γ*, flip ratio.

:func:`layer_records` measures, for every binarized layer of a model and over all of them, the
quantities of the paper's QE analysis on the *current* latent weights :math:`w` and
:math:`\hat w = \sin(\omega_0 w)`; :class:`QEMonitor` calls it at a chosen interval, adds the
**flip ratio** (the share of binary weights :math:`\operatorname{sign}\hat w` that changed since
the previous record, as larq's ``FlipRatio`` metric does for :math:`\operatorname{sign} w`) and
keeps the rows in :attr:`QEMonitor.history`, ready for :func:`json.dumps` (no NaN, no infinity).

A plain training loop needs three lines::

    monitor = QEMonitor(model)              # any model with BiPer layers
    monitor.record(epoch=0)                 # before training (the first flip ratio needs it)
    ...                                     # after each epoch of the loop:
    monitor.record(epoch=epoch)

An official-layout BiPer model (the official code's residual networks, whose binarized
convolutions are the block convolutions ``layerX.Y.convZ`` / ``binary_conv`` and carry an
``alpha`` parameter) works as well when ω₀ is given: ``QEMonitor(model, omega0=20)``.

What one row holds (``layer`` is the layer's qualified name or ``"overall"``)
--------------------------------------------------------------------------
``n``, ``omega0``
    number of latent weights and the layer's ω₀.
``second_moment``, ``gamma_star``, ``qe_measured``
    :math:`E\hat w^2`, the optimal scalar scale :math:`\gamma^* = E|\hat w|` (eq. (8) of
    Vargas et al., 2024, applied to the empirical law of the layer) and the measured
    :math:`QE^* = E\hat w^2 - \gamma^{*2}` (eq. (7) at :math:`\gamma^*`), means over the layer.
``alpha_mean``, ``gamma_star_channel_mean``, ``alpha_over_gamma_star``, ``qe_alpha``, ``qe_channel_optimal``
    the learned per-output-channel scale :math:`\alpha_c` against the per-channel optimum
    :math:`\gamma^*_c = E_c|\hat w|`: their means over the channels, the ratio of the means,
    :math:`QE(\alpha) = E(\hat w - \alpha_c\operatorname{sign}\hat w)^2` and the per-channel
    optimum :math:`E(\hat w - \gamma^*_c\operatorname{sign}\hat w)^2`. In stage 2 the forward
    weight is :math:`\alpha_c\operatorname{sign}\hat w`, so :math:`QE(\alpha)` is the error of
    the learned binarization; in stage 1 :math:`\alpha_c` multiplies :math:`\hat w` itself and
    the comparison says how far it sits from the scale the binarization would want. ``None``
    where the layer has no ``alpha``. Not in the paper.
``share_past_half_period``, ``share_sign_flipped``
    shares of weights with :math:`|\omega_0 w| > \pi/2` and with
    :math:`\operatorname{sign}\hat w \ne \operatorname{sign} w` (``w ≠ 0``).
``flip_ratio``
    (:class:`QEMonitor` only) share of :math:`\operatorname{sign}\hat w` changed since the
    previous record; ``None`` at the first record.
``laws``
    per fitted law (default Laplace and Gaussian, location fixed at 0, maximum likelihood
    in closed form): ``scale`` (:math:`\hat b = E|w|`, :math:`\hat\sigma = \sqrt{Ew^2}`),
    ``a`` (scale·ω₀), ``aic`` and the law's predictions ``gamma_star_model``, ``qe_model`` and
    ``share_past_half_period_model``; ``best_law`` is the one with the lowest AIC.

The ``overall`` row is the ``n``-weighted mean of the layer rows for every per-weight
quantity (for the shares and the flip ratio that is the pooled share), so its ``qe_measured``
is the mean QE with each layer at its own :math:`\gamma^*`; its AIC is the sum over the
layers and its ``best_law`` the lowest summed AIC.

Cost: one pass of numpy over the latent weights (float64 copies) and closed forms per layer;
at one record per epoch it is a small share of an epoch (see ``benchmarks/bench_monitor.py``).

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks using a
   Periodic Function", CVPR 2024, arXiv:2404.01278, Sec. 2.1, eqs. (7)–(8).
.. [2] larq, ``larq.callbacks``/``larq.metrics.FlipRatio``: the share of binary weights that
   changed between two evaluations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from .. import closed_form
from ..weights import gaussian_optimal_gamma, gaussian_second_moment, gaussian_share_past_half_period
from .layers import iter_biper_layers

__all__ = ["DEFAULT_LAWS", "MONITOR_LAWS", "QEMonitor", "layer_records"]

#: laws fitted by default (closed-form maximum likelihood, cheap enough for every epoch).
DEFAULT_LAWS: tuple[str, ...] = ("laplace", "gaussian")
#: laws :func:`layer_records` can fit.
MONITOR_LAWS: tuple[str, ...] = ("laplace", "gaussian")

_HALF_PERIOD = math.pi / 2
_ALPHA_KEYS = (
    "alpha_mean",
    "gamma_star_channel_mean",
    "alpha_over_gamma_star",
    "qe_alpha",
    "qe_channel_optimal",
)
# a residual-block convolution of the official layout (as biper_theory.nn.checkpoint reads it)
_OFFICIAL_BLOCK = re.compile(r"^layer\d+\.\d+\.(?:conv\d+|binary_conv)$")


@dataclass(frozen=True)
class _Binarized:
    """One binarized layer: its name, latent weights, per-output-channel α (or None) and ω₀."""

    name: str
    weight: torch.Tensor
    alpha: torch.Tensor | None
    omega0: float


def _binarized_layers(model: nn.Module, omega0: float | None) -> list[_Binarized]:
    """Our BiPer layers, or the official layout's block convolutions when ``omega0`` is given."""
    ours = list(iter_biper_layers(model))
    if ours:
        out = []
        for name, layer in ours:
            if omega0 is not None and not math.isclose(layer.omega0, omega0, rel_tol=1e-12):
                raise ValueError(f"omega0 = {omega0:g} but layer {name} has omega0 = {layer.omega0:g}")
            out.append(_Binarized(name, layer.weight, layer.alpha, float(layer.omega0)))
        return out
    if omega0 is None:
        raise ValueError(
            "model has no biper_theory BiPer layer; for an official-layout BiPer model give omega0 "
            "(the official code's freq)"
        )
    if not (isinstance(omega0, int | float) and 0 < omega0 < math.inf):
        raise ValueError(f"omega0 must be finite and in (0, inf); got {omega0!r}")
    inner = getattr(model, "module", None)
    root = inner if isinstance(inner, nn.Module) else model
    out = []
    for name, module in root.named_modules():
        weight = getattr(module, "weight", None)
        if _OFFICIAL_BLOCK.match(name) and isinstance(weight, torch.Tensor):
            alpha = getattr(module, "alpha", None)
            ok = isinstance(alpha, torch.Tensor) and alpha.numel() == weight.shape[0]
            out.append(_Binarized(name, weight, alpha if ok else None, float(omega0)))
    if not out:
        raise ValueError(
            "model has no binarized layer (neither BiPer layers nor official block convolutions)"
        )
    return out


def _check_laws(laws: Iterable[str]) -> tuple[str, ...]:
    names = tuple(laws)
    bad = [n for n in names if n not in MONITOR_LAWS]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"laws must be distinct names from {MONITOR_LAWS}; got {names!r}")
    return names


def _law_row(name: str, w: npt.NDArray[np.float64], omega0: float) -> dict[str, float]:
    """Closed-form MLE fit (location 0) of one law and what it predicts at ``omega0``."""
    n = w.size
    if name == "laplace":
        b = float(np.mean(np.abs(w)))  # MLE of the Laplace(0, b) scale: mean |w|
        a = b * omega0
        loglik = -n * (math.log(2 * b) + 1.0)  # Σ log(e^{-|w|/b} / 2b) at b = mean|w|
        gamma = float(closed_form.optimal_gamma(a=a))
        qe = float(closed_form.quantization_error(a=a))
        past = math.exp(-_HALF_PERIOD / a)  # P(|X| > π/2), X ~ Laplace(0, a)
        scale = b
    else:
        sigma = float(np.sqrt(np.mean(w * w)))  # MLE of the N(0, σ²) scale: root mean square
        a = sigma * omega0
        loglik = -0.5 * n * (math.log(2 * math.pi * sigma * sigma) + 1.0)
        gamma = float(gaussian_optimal_gamma(s=a))
        qe = float(gaussian_second_moment(s=a)) - gamma * gamma  # QE* = E ŵ² − γ*² (eq. 7 at γ*)
        past = float(gaussian_share_past_half_period(s=a))
        scale = sigma
    return {
        "scale": scale,
        "a": a,
        "aic": 2.0 - 2.0 * loglik,  # one free parameter (the scale)
        "gamma_star_model": gamma,
        "qe_model": qe,
        "share_past_half_period_model": past,
    }


def _layer_row(layer: _Binarized, laws: Sequence[str]) -> dict[str, Any]:
    w64 = layer.weight.detach().to("cpu", torch.float64)
    w = w64.reshape(-1).numpy()
    omega0 = layer.omega0
    w_hat = np.sin(omega0 * w)
    abs_hat = np.abs(w_hat)
    sign_hat = np.sign(w_hat)
    second = float(np.mean(w_hat * w_hat))
    gamma = float(np.mean(abs_hat))
    row: dict[str, Any] = {
        "layer": layer.name,
        "n": int(w.size),
        "omega0": omega0,
        "second_moment": second,
        "gamma_star": gamma,
        "qe_measured": max(second - gamma * gamma, 0.0),  # QE* = E ŵ² − (E|ŵ|)², eq. (7) at γ*
        "share_past_half_period": float(np.mean(np.abs(omega0 * w) > _HALF_PERIOD)),
        "share_sign_flipped": float(np.mean((sign_hat != np.sign(w)) & (w != 0))),
    }
    row.update(_alpha_fields(layer, w_hat.reshape(w64.shape[0], -1)))
    fits = {name: _law_row(name, w, omega0) for name in laws}
    row["laws"] = fits
    row["best_law"] = min(fits, key=lambda k: fits[k]["aic"])
    return row


def _alpha_fields(layer: _Binarized, w_hat: npt.NDArray[np.float64]) -> dict[str, float | None]:
    """α_c against γ*_c = mean_c |ŵ| (rows of ``w_hat`` are the output channels)."""
    keys = (
        "alpha_mean",
        "gamma_star_channel_mean",
        "alpha_over_gamma_star",
        "qe_alpha",
        "qe_channel_optimal",
    )
    if layer.alpha is None:
        return dict.fromkeys(keys)
    alpha = layer.alpha.detach().to("cpu", torch.float64).reshape(-1, 1).numpy()
    gamma_c = np.mean(np.abs(w_hat), axis=1, keepdims=True)
    sign_hat = np.sign(w_hat)
    alpha_mean, gamma_mean = float(np.mean(alpha)), float(np.mean(gamma_c))
    return {
        "alpha_mean": alpha_mean,
        "gamma_star_channel_mean": gamma_mean,
        "alpha_over_gamma_star": alpha_mean / gamma_mean if gamma_mean > 0 else None,
        "qe_alpha": float(np.mean((w_hat - alpha * sign_hat) ** 2)),  # E(ŵ − α_c sign ŵ)²
        "qe_channel_optimal": float(np.mean((w_hat - gamma_c * sign_hat) ** 2)),  # at α_c = γ*_c
    }


def _overall(rows: Sequence[dict[str, Any]], laws: Sequence[str]) -> dict[str, Any]:
    """n-weighted means of the layer rows (AIC summed); None where any layer has None."""
    n = np.array([r["n"] for r in rows], dtype=np.float64)
    weights = n / n.sum()

    def mean(values: list[Any]) -> float | None:
        if any(v is None for v in values):
            return None
        return float(np.dot(weights, np.asarray(values, dtype=np.float64)))

    out: dict[str, Any] = {"layer": "overall", "n": int(n.sum())}
    omegas = {r["omega0"] for r in rows}
    out["omega0"] = omegas.pop() if len(omegas) == 1 else mean([r["omega0"] for r in rows])
    skip = {"layer", "n", "omega0", "laws", "best_law"}
    for key in rows[0]:
        if key not in skip:
            out[key] = mean([r[key] for r in rows])
    fits: dict[str, dict[str, Any]] = {}
    for law in laws:
        fit: dict[str, Any] = {k: mean([r["laws"][law][k] for r in rows]) for k in rows[0]["laws"][law]}
        fit["aic"] = float(sum(r["laws"][law]["aic"] for r in rows))  # independent layers: AICs add
        fits[law] = fit
    out["laws"] = fits
    out["best_law"] = min(fits, key=lambda k: fits[k]["aic"])
    return out


@torch.no_grad()
def layer_records(
    model: nn.Module, *, omega0: float | None = None, laws: Iterable[str] = DEFAULT_LAWS
) -> list[dict[str, Any]]:
    r"""One row per binarized layer and an ``overall`` row, from the current weights (no state).

    Parameters
    ----------
    model : nn.Module
        A model with :class:`~biper_theory.nn.layers.BiPerConv2d`/``BiPerLinear`` layers (a DDP
        wrapper is looked through), or an official-layout BiPer model together with ``omega0``.
    omega0 : float, optional
        ω₀ of an official-layout model; for ours, if given, it must equal every layer's ω₀.
    laws : iterable of {"laplace", "gaussian"}
        Laws to fit per layer (closed-form maximum likelihood, location fixed at 0).

    Returns
    -------
    list of dict
        JSON-ready rows as described in the module docstring; the ``overall`` row is last.

    Raises
    ------
    ValueError
        A model without binarized layers (and no ``omega0``), a mismatching ``omega0``, or an
        unknown law.

    Notes
    -----
    Per layer, with :math:`\hat w = \sin(\omega_0 w)`:

    .. math::
        \gamma^* = E|\hat w|, \qquad QE^* = E\hat w^2 - \gamma^{*2}, \qquad
        QE(\alpha) = E\big(\hat w - \alpha_c \operatorname{sign}\hat w\big)^2

    (eqs. (7)–(8) of Vargas et al., 2024, on the layer's empirical law; :math:`QE(\alpha)` is
    not in the paper). Model predictions use :func:`biper_theory.closed_form` (Laplace) and
    the Gaussian closed forms of :mod:`biper_theory.weights`, at the fitted dimensionless scale.
    """
    names = _check_laws(laws)
    rows = [_layer_row(layer, names) for layer in _binarized_layers(model, omega0)]
    return [*rows, _overall(rows, names)]


class QEMonitor:
    """Record :func:`layer_records` rows and the flip ratio during training.

    Parameters
    ----------
    model : nn.Module
        As in :func:`layer_records`. The layers are found once, here.
    omega0 : float, optional
        As in :func:`layer_records`.
    every : "epoch" or int
        When :meth:`on_epoch_end` / :meth:`on_step` record: ``"epoch"`` (default) at every
        :meth:`on_epoch_end`; an integer ``k ≥ 1`` at every :meth:`on_step` whose step is a
        multiple of ``k``. :meth:`record` always records.
    laws : iterable of {"laplace", "gaussian"}
        As in :func:`layer_records`.

    Attributes
    ----------
    history : list of dict
        Every row recorded so far, each with ``epoch`` and ``step`` (``None`` if not given)
        and ``flip_ratio``; JSON-ready.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        omega0: float | None = None,
        every: str | int = "epoch",
        laws: Iterable[str] = DEFAULT_LAWS,
    ) -> None:
        if every != "epoch" and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be 'epoch' or an integer >= 1; got {every!r}")
        self.model = model
        self.omega0 = omega0
        self.every = every
        self.laws = _check_laws(laws)
        self._layers = _binarized_layers(model, omega0)
        self._signs: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []

    @torch.no_grad()
    def record(self, *, epoch: int | None = None, step: int | None = None) -> list[dict[str, Any]]:
        """Measure now; append the rows to :attr:`history` and return them (``overall`` last)."""
        layers = _binarized_layers(self.model, self.omega0)  # parameters may have been replaced
        rows = [_layer_row(layer, self.laws) for layer in layers]
        # the binary weights as the forward pass computes them (in the weights' own dtype)
        signs = {
            layer.name: torch.sign(torch.sin(layer.omega0 * layer.weight.detach())).to("cpu", torch.int8)
            for layer in layers
        }
        for layer, row in zip(layers, rows, strict=True):
            prev = None if self._signs is None else self._signs.get(layer.name)
            if prev is None or prev.shape != signs[layer.name].shape:
                row["flip_ratio"] = None
            else:
                row["flip_ratio"] = int((prev != signs[layer.name]).sum()) / row["n"]
        self._signs = signs
        rows.append(_overall(rows, self.laws))
        for row in rows:
            row["epoch"], row["step"] = epoch, step
        self.history.extend(rows)
        return rows

    def on_epoch_end(self, epoch: int, step: int | None = None) -> list[dict[str, Any]] | None:
        """Record if ``every == "epoch"``; return the rows, or ``None`` when nothing was due."""
        return self.record(epoch=epoch, step=step) if self.every == "epoch" else None

    def on_step(self, step: int, epoch: int | None = None) -> list[dict[str, Any]] | None:
        """Record if ``every`` is an integer dividing ``step``; else return ``None``."""
        if isinstance(self.every, int) and step % self.every == 0:
            return self.record(epoch=epoch, step=step)
        return None
