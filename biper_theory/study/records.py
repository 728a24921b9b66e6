r"""What a study records about one run: accuracies, the stage switch, and the weights at each stage's end.

The layer statistics come from :func:`biper_theory.nn.monitor.layer_records` (per binarized
layer and ``overall``: the law fits, the measured QE, the model QE per law, the share past the
half period, the sign flips) and are stored under stable flat names (:data:`LAYER_FIELDS`) so
that the export's columns do not depend on how the monitor nests them.

Names of the layer fields (per layer and ``overall``; not in the paper, these are the
toolkit's):

``n``
    number of latent weights.
``qe``
    measured :math:`QE^* = E\hat w^2 - (E|\hat w|)^2` with :math:`\hat w = \sin(\omega_0 w)`
    (Eq. (5)–(7) of Vargas et al. (2024) at the optimal γ, averaged over the weights).
``share_past_half_period``, ``sign_flipped``
    measured shares of weights with :math:`|\omega_0 w| > \pi/2` and with
    :math:`\operatorname{sign}\sin(\omega_0 w) \ne \operatorname{sign} w`.
``<law>.scale``, ``<law>.a``
    the fitted scale of each law (Laplace :math:`\hat b`, Gaussian :math:`\hat\sigma`, …) and
    the dimensionless :math:`a = \text{scale}\cdot\omega_0`.
``<law>.qe``, ``<law>.share_past_half_period``, ``<law>.sign_flip``
    what that fitted law predicts for the three measured quantities.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LAWS", "LAYER_FIELDS", "layer_fields", "stage_record", "switch_record"]

#: The laws whose fits each record carries.
LAWS: tuple[str, ...] = ("laplace", "gaussian")

#: The flat names of the per-layer fields (see the module docstring).
LAYER_FIELDS: tuple[str, ...] = (
    "n",
    "qe",
    "share_past_half_period",
    "sign_flipped",
    *(f"{law}.{q}" for law in LAWS for q in ("scale", "a", "qe", "share_past_half_period", "sign_flip")),
)


def _num(x: Any) -> float | None:
    """A finite float, or ``None`` (strict JSON has no NaN)."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def stage_record(result: Any) -> dict[str, Any]:
    """Accuracies, timing and layer statistics of one stage's :class:`~biper_theory.nn.train.TrainResult`.

    ``val_accuracy`` is the best validation accuracy and ``test_accuracy`` the test accuracy
    at that epoch when the loop holds out a validation split (``selection = "validation"``);
    without one, ``val_accuracy`` is ``None`` and ``test_accuracy`` is the final epoch's
    (``selection = "final epoch"``), never the best test epoch.
    """
    val = getattr(result, "best_val_accuracy", None)
    if val is not None:
        test = result.test_accuracy_at_best
        selection = "validation"
    else:
        test = result.final_test_accuracy
        selection = "final epoch"
    model = result.model
    omega0 = float(result.config.omega0)
    return {
        "val_accuracy": _num(val),
        "test_accuracy": _num(test),
        "final_test_accuracy": _num(result.final_test_accuracy),
        "best_epoch": int(result.best_epoch),
        "selection": selection,
        "epochs": [{k: _num(v) for k, v in row.items()} for row in result.epochs],
        "seconds": _num(result.timings.get("total_s")),
        "train_seconds": _num(result.timings.get("train_s")),
        "layers": layer_fields(model, omega0) if model is not None else {},
    }


def switch_record(result: Any, stage1: Mapping[str, Any]) -> dict[str, Any]:
    """Accuracy of the stage-1 weights binarized before any stage-2 step, and the drop it causes.

    ``drop_val`` / ``drop_test`` = stage-1 accuracy (at its chosen epoch) − switch accuracy;
    ``None`` where the training loop does not measure the switch.
    """
    s2 = result.stage2
    val = _num(getattr(s2, "switch_val_accuracy", None))
    test = _num(getattr(s2, "switch_test_accuracy", None))
    v1, t1 = stage1.get("val_accuracy"), stage1.get("test_accuracy")
    return {
        "val_accuracy": val,
        "test_accuracy": test,
        "drop_val": None if val is None or v1 is None else v1 - val,
        "drop_test": None if test is None or t1 is None else t1 - test,
    }


def layer_fields(model: Any, omega0: float) -> dict[str, dict[str, float | None]]:
    """Per binarized layer and ``overall``: the :data:`LAYER_FIELDS` of the latent weights."""
    try:
        from biper_theory.nn.monitor import layer_records
    except ImportError:
        return _from_weights(model, omega0)
    rows = layer_records(model, omega0=omega0, laws=LAWS)
    return {str(row["name"]): _flat(row) for row in rows}


def _flat(row: Mapping[str, Any]) -> dict[str, float | None]:
    """Map one row of ``layer_records`` onto :data:`LAYER_FIELDS`."""
    out: dict[str, float | None] = {"n": _num(row.get("n"))}
    out["qe"] = _num(_first(row, ("qe_measured", "measured_qe", "quantization_error")))
    out["share_past_half_period"] = _num(_first(row, ("share_past_half_period",)))
    out["sign_flipped"] = _num(_first(row, ("share_sign_flipped", "sign_flipped", "sign_flip")))
    laws = row.get("laws") or {}
    for law in LAWS:
        fit = laws.get(law, {}) if isinstance(laws, Mapping) else {}
        out[f"{law}.scale"] = _num(_first(fit, ("scale",)))
        out[f"{law}.a"] = _num(_first(fit, ("a", "dimensionless")))
        out[f"{law}.qe"] = _num(_first(fit, ("qe", "quantization_error", "qe_model")))
        out[f"{law}.share_past_half_period"] = _num(_first(fit, ("share_past_half_period",)))
        out[f"{law}.sign_flip"] = _num(_first(fit, ("sign_flip_probability", "sign_flip")))
    return out


def _first(d: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    return None


def _from_weights(model: Any, omega0: float) -> dict[str, dict[str, float | None]]:
    """The same fields from :func:`biper_theory.weights.analyze_layers` (Laplace and Gaussian fits)."""
    import numpy as np
    import torch

    from biper_theory import weights
    from biper_theory.nn.layers import iter_biper_layers

    with torch.no_grad():
        layers = {
            name: layer.weight.detach().to("cpu", torch.float64).numpy().ravel()
            for name, layer in iter_biper_layers(model)
        }
    if not layers:
        return {}
    layers["overall"] = np.concatenate(list(layers.values()))
    analyses = weights.analyze_layers(layers, omega0=omega0, centred_scale=False, exact=True)
    out: dict[str, dict[str, float | None]] = {}
    for name, an in analyses.items():
        w = layers[name]
        wh = np.sin(omega0 * w)
        row: dict[str, float | None] = {
            "n": float(w.size),
            "qe": _num(an.empirical.quantization_error),
            "share_past_half_period": _num(an.empirical.share_past_half_period),
            "sign_flipped": _num(np.mean((np.sign(wh) != np.sign(w)) & (w != 0))),
        }
        for law, fit, q in (
            ("laplace", an.fits.laplace, an.model),
            ("gaussian", an.fits.gaussian, an.gaussian_model),
        ):
            row[f"{law}.scale"] = _num(fit.scale)
            row[f"{law}.a"] = _num(float(fit.scale) * omega0)
            row[f"{law}.qe"] = _num(q.quantization_error)
            row[f"{law}.share_past_half_period"] = _num(q.share_past_half_period)
            row[f"{law}.sign_flip"] = _num(q.sign_flip_probability)
        out[name] = row
    return out
