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
    per fitted law of :mod:`biper_theory.laws` (default Laplace and Gaussian, location fixed
    at 0, maximum likelihood in closed form, :math:`\hat b = E|w|`,
    :math:`\hat\sigma = \sqrt{Ew^2}`; ``"gennorm"`` and ``"t"`` on request, fitted by
    :func:`biper_theory.laws.fit`): ``scale``, ``params``, ``a`` (scale·ω₀), ``aic`` and the
    law's predictions ``gamma_star_model``, ``qe_model``, ``share_past_half_period_model``,
    ``crest_share_model`` and ``cos2_mean_model``; ``best_law`` has the lowest AIC.
``phase``
    :func:`biper_theory.phase.phase_statistics` of the layer against its best law
    (``crest_share``, ``crest_share_model``, ``cos2_mean``, ``cos2_mean_model``, ``p_value``,
    ``n``, ``test``, and ``law``), formed from the same pass over the weights
    (:math:`\cos 2\omega_0 w = 1 - 2\hat w^2`).

The ``overall`` row is the ``n``-weighted mean of the layer rows for every per-weight
quantity (for the shares and the flip ratio that is the pooled share), so its ``qe_measured``
is the mean QE with each layer at its own :math:`\gamma^*`; its AIC is the sum over the
layers and its ``best_law`` the lowest summed AIC; its ``phase`` block holds the n-weighted
means and no p-value (the layers are tested one by one).

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
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from .. import laws as _laws
from ..phase import phase_from_moments
from .layers import iter_biper_layers

__all__ = ["DEFAULT_LAWS", "MONITOR_LAWS", "QEMonitor", "layer_records"]

#: laws fitted by default (closed-form maximum likelihood, cheap enough for every epoch).
DEFAULT_LAWS: tuple[str, ...] = ("laplace", "gaussian")
#: laws :func:`layer_records` can fit: the parametric laws of :mod:`biper_theory.laws`.
MONITOR_LAWS: tuple[str, ...] = _laws.FITTED

_HALF_PERIOD = math.pi / 2
_CREST = 0.9  # |ŵ| above this is a crest weight (biper_theory.phase.CREST_THRESHOLD)
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


@dataclass(frozen=True)
class _Sums:
    """What one pass over a layer's weights forms: n and the means the fits and stats need."""

    n: int
    mean_abs: float  # E|w|
    mean_sq: float  # E w²


def _closed_form_fit(name: str, sums: _Sums) -> _laws.Law | None:
    """Laplace and Gaussian MLE (location 0) from the record's sums; ``None`` for other laws.

    The same scale, log-likelihood and AIC that :meth:`biper_theory.laws.Laplace.fit` and
    :meth:`~biper_theory.laws.Gaussian.fit` return (tested equal), without their copy of the
    weights and their KS test, which the per-epoch record does not need.
    """
    n = sums.n
    if name == "laplace":  # b̂ = E|w|; ℓ = −n(log 2b̂ + 1)
        scale, loglik = sums.mean_abs, -n * (math.log(2.0 * sums.mean_abs) + 1.0)
    elif name == "gaussian":  # σ̂² = E w²; ℓ = −n/2 (log 2πσ̂² + 1)
        scale, loglik = math.sqrt(sums.mean_sq), -0.5 * n * (math.log(2.0 * math.pi * sums.mean_sq) + 1.0)
    else:
        return None
    cls: Any = _laws.get(name)
    return cast(_laws.Law, cls(**{cls.scale_name: scale}, loglik=loglik, aic=2.0 - 2.0 * loglik, n=n))


_MODEL_FIELDS = {  # row key -> the law's method (all at the fitted scale and the layer's ω₀)
    "gamma_star_model": "optimal_gamma",
    "qe_model": "quantization_error",
    "share_past_half_period_model": "share_past_half_period",
    "crest_share_model": "crest_share",
    "cos2_mean_model": "cos2_mean",
}


def _law_columns(fits: Sequence[_laws.Law], omegas: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
    r"""Per layer: the fitted law's scale, parameters, a, AIC and its predictions at ω₀.

    The quantities depend on the scale and ω₀ only through :math:`a = \text{scale}\cdot\omega_0`
    (``Law.standardized``), so when the layers' laws differ only in scale (always for Laplace
    and Gaussian) each quantity is one vectorized call over the layers instead of one per layer.
    """
    shapes = [{k: v for k, v in f.params.items() if k != f.scale_name} for f in fits]
    a = np.array([f.scale for f in fits]) * omegas
    if all(sh == shapes[0] for sh in shapes):
        std = fits[0].standardized()
        model = {key: np.asarray(getattr(std, meth)(omega0=a)) for key, meth in _MODEL_FIELDS.items()}
    else:
        model = {
            key: np.array([float(getattr(f, meth)(omega0=om)) for f, om in zip(fits, omegas, strict=True)])
            for key, meth in _MODEL_FIELDS.items()
        }
    return [
        {
            "scale": f.scale,
            "params": f.params,
            "a": float(a[i]),
            "aic": f.aic,
            **{key: float(values[i]) for key, values in model.items()},
        }
        for i, f in enumerate(fits)
    ]


@dataclass(frozen=True)
class _Measured:
    """One layer after the pass over its weights: its row so far, fitted laws, phase moments."""

    row: dict[str, Any]
    fits: dict[str, _laws.Law]
    cos2_var: float
    crest_share: float


def _measure(layer: _Binarized, laws: Sequence[str]) -> _Measured:
    # One float64 copy and few full passes: the record runs after every epoch (benchmarked).
    # No np.dot: BLAS threads waiting for a busy core made it 100x slower on a loaded machine.
    w = layer.weight.detach().to("cpu", torch.float64).reshape(-1).numpy()
    n, omega0 = int(w.size), layer.omega0
    w_hat = np.sin(omega0 * w)
    abs_hat = np.abs(w_hat)
    sq_hat = np.square(w_hat)
    abs_w = np.abs(w)
    second = float(sq_hat.sum()) / n
    gamma = float(abs_hat.sum()) / n
    sums = _Sums(n, float(abs_w.sum()) / n, float(np.square(w).sum()) / n)
    row: dict[str, Any] = {
        "layer": layer.name,
        "n": n,
        "omega0": omega0,
        "second_moment": second,
        "gamma_star": gamma,
        "qe_measured": max(second - gamma * gamma, 0.0),  # QE* = E ŵ² − (E|ŵ|)², eq. (7) at γ*
        "share_past_half_period": np.count_nonzero(abs_w > _HALF_PERIOD / omega0) / n,  # |ω₀w| > π/2
        # sign ŵ ≠ sign w for w ≠ 0; sin(ω₀w) is 0 in float64 only at w = 0, so this is ŵ·w < 0
        "share_sign_flipped": np.count_nonzero(w_hat * w < 0) / n,
    }
    row.update(_alpha_fields(layer, abs_hat.reshape(layer.weight.shape[0], -1), second))
    fits = {name: _closed_form_fit(name, sums) or _laws.fit(name, w) for name in laws}
    # cos 2ω₀w = 1 − 2ŵ²: its mean is 1 − 2E ŵ² and its variance 4 Var(ŵ²) (divisor n − 1)
    var_sq = float(np.square(sq_hat - second).sum()) / (n - 1) if n > 1 else 0.0
    return _Measured(row, fits, 4.0 * var_sq, np.count_nonzero(abs_hat > _CREST) / n)


def _rows(layers: Sequence[_Binarized], laws: Sequence[str]) -> list[dict[str, Any]]:
    """The layer rows (laws, best law and phase statistics included) and the overall row."""
    measured = [_measure(layer, laws) for layer in layers]
    omegas = np.array([layer.omega0 for layer in layers])
    columns = {name: _law_columns([m.fits[name] for m in measured], omegas) for name in laws}
    rows = []
    for i, m in enumerate(measured):
        row = m.row
        row["laws"] = {name: columns[name][i] for name in laws}
        row["best_law"] = best = _laws.best_by_aic(m.fits)
        # phase statistics (biper_theory.phase) against the best law, from the moments above
        phase = phase_from_moments(
            n=row["n"],
            cos2_mean=1.0 - 2.0 * row["second_moment"],
            cos2_var=m.cos2_var,
            crest_share=m.crest_share,
            law=m.fits[best],
            omega0=row["omega0"],
            threshold=_CREST,
        )
        row["phase"] = {**phase.as_dict(), "law": best}
        rows.append(row)
    return [*rows, _overall(rows, laws)]


def _alpha_fields(
    layer: _Binarized, abs_hat: npt.NDArray[np.float64], second: float
) -> dict[str, float | None]:
    r"""α_c against γ*_c = mean_c |ŵ| (rows of ``abs_hat`` are the output channels).

    With equal channel sizes and :math:`z_c` the share of nonzero ŵ in channel c,
    :math:`E(\hat w - \alpha_c\operatorname{sign}\hat w)^2 = E\hat w^2
    - 2\,\overline{\alpha_c\gamma^*_c} + \overline{\alpha_c^2 z_c}` (means over channels),
    which needs no full-size temporary.
    """
    if layer.alpha is None:
        return dict.fromkeys(_ALPHA_KEYS)
    alpha = layer.alpha.detach().to("cpu", torch.float64).reshape(-1).numpy()
    gamma_c = abs_hat.mean(axis=1)
    nonzero_c = np.count_nonzero(abs_hat, axis=1) / abs_hat.shape[1]
    alpha_mean, gamma_mean = float(np.mean(alpha)), float(np.mean(gamma_c))

    def qe(scale: npt.NDArray[np.float64]) -> float:  # E(ŵ − s_c sign ŵ)², expanded as above
        return max(second - 2.0 * float(np.mean(scale * gamma_c)) + float(np.mean(scale**2 * nonzero_c)), 0.0)

    return {
        "alpha_mean": alpha_mean,
        "gamma_star_channel_mean": gamma_mean,
        "alpha_over_gamma_star": alpha_mean / gamma_mean if gamma_mean > 0 else None,
        "qe_alpha": qe(alpha),
        "qe_channel_optimal": qe(gamma_c),
    }


def _overall(rows: Sequence[dict[str, Any]], laws: Sequence[str]) -> dict[str, Any]:
    """n-weighted means of the layer rows (AIC summed); None where any layer has None."""
    n = np.array([r["n"] for r in rows], dtype=np.float64)
    weights = n / n.sum()

    def mean(values: list[Any]) -> float | None:
        if any(v is None for v in values):
            return None
        return float((weights * np.asarray(values, dtype=np.float64)).sum())

    out: dict[str, Any] = {"layer": "overall", "n": int(n.sum())}
    omegas = {r["omega0"] for r in rows}
    out["omega0"] = omegas.pop() if len(omegas) == 1 else mean([r["omega0"] for r in rows])
    skip = {"layer", "n", "omega0", "laws", "best_law", "phase"}
    for key in rows[0]:
        if key not in skip:
            out[key] = mean([r[key] for r in rows])
    fits: dict[str, dict[str, Any]] = {}
    for law in laws:
        per = [r["laws"][law] for r in rows]
        fit: dict[str, Any] = {k: mean([p[k] for p in per]) for k in per[0] if k != "params"}
        fit["params"] = {k: mean([p["params"][k] for p in per]) for k in per[0]["params"]}
        fit["aic"] = float(sum(p["aic"] for p in per))  # independent layers: log-likelihoods add
        fits[law] = fit
    out["laws"] = fits
    out["best_law"] = min(fits, key=lambda k: fits[k]["aic"])
    phases = [r["phase"] for r in rows]
    out["phase"] = {
        **{k: mean([p[k] for p in phases]) for k in ("crest_share", "crest_share_model", "cos2_mean")},
        "cos2_mean_model": mean([p["cos2_mean_model"] for p in phases]),
        "p_value": None,  # the layers are tested one by one (each against its own best law)
        "n": int(n.sum()),
        "test": "n-weighted means of the layers' values (models: each layer's best law); no pooled test",
        "law": None,
    }
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
    laws : iterable of {"laplace", "gaussian", "gennorm", "t"}
        Laws to fit per layer (maximum likelihood, location fixed at 0; Laplace and Gaussian
        in closed form from the record's own sums, the others by :func:`biper_theory.laws.fit`,
        which costs more per record).

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
    not in the paper). Model predictions are the fitted :mod:`biper_theory.laws` objects'
    (closed forms for Laplace and Gaussian), at the fitted dimensionless scale.
    """
    names = _check_laws(laws)
    return _rows(_binarized_layers(model, omega0), names)


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
    laws : iterable of {"laplace", "gaussian", "gennorm", "t"}
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
        _binarized_layers(model, omega0)  # refuse a model without binarized layers now
        self._signs: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []

    @torch.no_grad()
    def record(self, *, epoch: int | None = None, step: int | None = None) -> list[dict[str, Any]]:
        """Measure now; append the rows to :attr:`history` and return them (``overall`` last)."""
        layers = _binarized_layers(self.model, self.omega0)  # parameters may have been replaced
        rows = _rows(layers, self.laws)
        # the binary weights as the forward pass computes them (in the weights' own dtype)
        signs = {
            layer.name: torch.sign(torch.sin(layer.omega0 * layer.weight.detach())).to("cpu", torch.int8)
            for layer in layers
        }  # int8: a quarter of the float32 weights' memory between records
        changed: int | None = 0
        for layer, row in zip(layers, rows[:-1], strict=True):
            prev = None if self._signs is None else self._signs.get(layer.name)
            if prev is None or prev.shape != signs[layer.name].shape:
                row["flip_ratio"] = changed = None
            else:
                count = int((prev != signs[layer.name]).sum())
                row["flip_ratio"] = count / row["n"]
                changed = None if changed is None else changed + count
        rows[-1]["flip_ratio"] = None if changed is None else changed / rows[-1]["n"]  # pooled share
        self._signs = signs
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
