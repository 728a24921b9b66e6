r"""What a study records about one run: accuracies, the stage switch, and the weights at each stage's end.

The layer statistics come from :func:`biper_theory.nn.monitor.layer_records` (per binarized
layer and ``overall``) and are stored under flat names (:data:`LAYER_FIELDS`) so that the
export's columns do not depend on how the monitor nests them. Names (not in the paper; the
quantities are those of :mod:`biper_theory.nn.monitor`):

``n``
    number of latent weights.
``qe``
    measured :math:`QE^* = E\hat w^2 - (E|\hat w|)^2`, :math:`\hat w = \sin(\omega_0 w)`
    (eq. (7) of Vargas et al. (2024) at :math:`\gamma^*`, eq. (8), on the layer's weights;
    ``overall`` is the ``n``-weighted mean over the layers).
``gamma_star``, ``alpha_over_gamma_star``, ``qe_alpha``
    :math:`\gamma^* = E|\hat w|`, the learned scale α against it, and the QE at α.
``share_past_half_period``, ``sign_flipped``
    measured shares of weights with :math:`|\omega_0 w| > \pi/2` and with
    :math:`\operatorname{sign}\hat w \ne \operatorname{sign} w`.
``<law>.scale``, ``<law>.a``, ``<law>.aic``
    the fitted scale of each law (Laplace :math:`\hat b`, Gaussian :math:`\hat\sigma`), the
    dimensionless :math:`a = \text{scale}\cdot\omega_0` and the fit's AIC.
``<law>.qe``, ``<law>.gamma_star``, ``<law>.share_past_half_period``
    what that fitted law predicts for the measured quantities.
``best_law``
    the law with the lowest AIC (a string).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["LAWS", "LAYER_FIELDS", "layer_fields", "stage_record", "switch_record"]

#: The laws whose fits each record carries.
LAWS: tuple[str, ...] = ("laplace", "gaussian")

#: The flat names of the per-layer fields (see the module docstring).
LAYER_FIELDS: tuple[str, ...] = (
    "n",
    "qe",
    "gamma_star",
    "alpha_over_gamma_star",
    "qe_alpha",
    "share_past_half_period",
    "sign_flipped",
    *(
        f"{law}.{q}"
        for law in LAWS
        for q in ("scale", "a", "aic", "qe", "gamma_star", "share_past_half_period")
    ),
    "best_law",
)


def _num(x: Any) -> float | None:
    """A finite float, or ``None`` (strict JSON has no NaN)."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def stage_record(result: Any) -> dict[str, Any]:
    """Accuracies, timing and layer statistics of one stage's :class:`~biper_theory.nn.train.TrainResult`.

    ``val_accuracy`` is the best validation accuracy and ``test_accuracy`` the test accuracy of
    the weights of that epoch, the stage's only test evaluation (``selection = "val"``); without
    a validation split the last epoch is taken (``selection = "last"``, ``val_accuracy`` None).
    ``layers`` describes those same weights; ``trajectory`` holds the ``overall`` monitor row
    of every epoch (epoch 0 = before training).
    """
    model = result.model
    omega0 = float(result.config.omega0)
    return {
        "val_accuracy": _num(result.best_val_accuracy),
        "test_accuracy": _num(result.test_accuracy_at_best),
        "best_epoch": int(result.best_epoch),
        "selection": str(result.selection),
        "epochs": [{k: _num(v) for k, v in row.items()} for row in result.epochs],
        "seconds": _num(result.timings.get("total_s")),
        "train_seconds": _num(result.timings.get("train_s")),
        "layers": layer_fields(model, omega0) if model is not None else {},
        "trajectory": [
            {"epoch": row.get("epoch"), **_flat(row)}
            for row in result.monitor
            if row.get("layer") == "overall"
        ],
    }


def switch_record(result: Any) -> dict[str, Any]:
    """Accuracy of the stage-1 weights binarized before any stage-2 step, and the drop it causes.

    From the stage-2 :class:`~biper_theory.nn.train.TrainResult`: the same weights under the
    stage-1 forward and under the binary forward; ``drop_* = stage-1 forward − binary``.
    """
    s2 = result.stage2
    return {
        "val_accuracy": _num(s2.switch_val_accuracy),
        "test_accuracy": _num(s2.switch_test_accuracy),
        "stage1_forward_val_accuracy": _num(s2.switch_stage1_val_accuracy),
        "stage1_forward_test_accuracy": _num(s2.switch_stage1_test_accuracy),
        "drop_val": _num(s2.switch_val_drop),
        "drop_test": _num(s2.switch_test_drop),
    }


def layer_fields(model: Any, omega0: float) -> dict[str, dict[str, Any]]:
    """Per binarized layer and ``overall``: the :data:`LAYER_FIELDS` of the latent weights."""
    from biper_theory.nn.monitor import layer_records

    return {str(row["layer"]): _flat(row) for row in layer_records(model, omega0=omega0, laws=LAWS)}


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    """Map one row of ``layer_records`` onto :data:`LAYER_FIELDS`."""
    out: dict[str, Any] = {
        "n": _num(row.get("n")),
        "qe": _num(row.get("qe_measured")),
        "gamma_star": _num(row.get("gamma_star")),
        "alpha_over_gamma_star": _num(row.get("alpha_over_gamma_star")),
        "qe_alpha": _num(row.get("qe_alpha")),
        "share_past_half_period": _num(row.get("share_past_half_period")),
        "sign_flipped": _num(row.get("share_sign_flipped")),
    }
    laws = row.get("laws") or {}
    for law in LAWS:
        fit = laws.get(law) or {}
        out[f"{law}.scale"] = _num(fit.get("scale"))
        out[f"{law}.a"] = _num(fit.get("a"))
        out[f"{law}.aic"] = _num(fit.get("aic"))
        out[f"{law}.qe"] = _num(fit.get("qe_model"))
        out[f"{law}.gamma_star"] = _num(fit.get("gamma_star_model"))
        out[f"{law}.share_past_half_period"] = _num(fit.get("share_past_half_period_model"))
    out["best_law"] = row.get("best_law")
    if "flip_ratio" in row:
        out["flip_ratio"] = _num(row.get("flip_ratio"))
    return out
