r"""Pick the frequency ω₀ for measured weights, by a stated criterion.

Everything the paper's analysis says about ω₀ goes through the dimensionless scale
:math:`a = b\,\omega_0` (Laplace; :math:`s = \sigma\omega_0` under the Gaussian law of
:mod:`biper_theory.weights`). A criterion therefore fixes a set of admissible values of
:math:`a`; each layer, with its fitted scale :math:`\hat b`, turns that into admissible
:math:`\omega_0 = a/\hat b`, and one global ω₀ (BiPer uses one frequency for the whole network)
must satisfy the condition in every layer.

Criteria (:data:`CRITERIA`; keyword targets in brackets, defaults after ``=``):

``"target-nqe"`` [``nqe``]
    Reach a normalised QE :math:`QE^*/E\hat w^2 \le` ``nqe``. Under the Laplace model the
    normalised QE falls strictly from 1/2 (:math:`a\to0`) to :math:`1-8/\pi^2\approx0.1894`
    (:math:`a\to\infty`) — it is the *absolute* QE* of eq. (7) that peaks at :math:`a^*`.
    The smallest ω₀ that reaches the target is chosen: larger ω₀ only lowers the normalised QE
    further while raising the surrogate's gradient scale ω₀ (eq. 2) and the share of weights
    whose sign BiPer flips. The branch rule is general: the recommended :math:`a` is the
    smallest value beyond which the condition holds for every larger :math:`a` (checked on a
    dense grid), so any ω₀ above it meets it too. Global: the largest per-layer value.
``"target-sqnr"`` [``sqnr_db``]
    The same with :math:`SQNR = -10\log_{10}(QE^*/E\hat w^2) \ge` ``sqnr_db``.
``"avoid-peak"`` [``ratio=2``, ``side="auto"``]
    Keep :math:`a` a factor ``ratio`` away from the QE peak :math:`a^*` of eqs. (7)–(8)
    (:math:`a \le a^*/r` or :math:`a \ge r a^*`), where the paper's QE is largest and most
    sensitive to the scale of the weights. ``side``: ``"above"`` (lower normalised QE, more
    flips), ``"below"`` (BiPer close to sign), or ``"auto"``: keep the current ω₀ if it already
    satisfies the condition, else move to the nearest admissible value (in log ω₀); without a
    current ω₀, ``"auto"`` means ``"above"``.
``"min-qe-flip"`` [``max_flip=0.05``, ``max_omega0=None``]
    Lowest normalised QE subject to a sign-flip probability
    :math:`P[\mathrm{sign}\sin(\omega_0 w)\ne\mathrm{sign}\,w] \le` ``max_flip`` and, optionally,
    to a bound on the surrogate gradient scale :math:`\omega_0 \le` ``max_omega0``. The
    normalised QE is the objective because the absolute QE* tends to 0 as ω₀ → 0 (ŵ itself
    shrinks), which would recommend a vanishing gradient. Global: the largest ω₀ meeting the
    bounds in every layer, refined by minimising the weight-count-weighted mean normalised QE.

Not in the paper: the paper fixes ω₀ = 20 by experiment (Section 3); these criteria are this
toolkit's, built on its QE analysis.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from . import closed_form as cf
from . import weights as wt
from ._validation import as_positive

__all__ = [
    "CRITERIA",
    "LayerRecommendation",
    "Recommendation",
    "pick_omega",
    "recommend",
    "law_peak",
]

#: criterion name -> {target keyword: default (None = required)}
CRITERIA: dict[str, dict[str, Any]] = {
    "target-nqe": {"nqe": None},
    "target-sqnr": {"sqnr_db": None},
    "avoid-peak": {"ratio": 2.0, "side": "auto"},
    "min-qe-flip": {"max_flip": 0.05, "max_omega0": None},
}

_X_LO, _X_HI = 1e-6, 1e6  # search range of the dimensionless scale a (or s)
_GRID = np.geomspace(_X_LO, _X_HI, 4801)  # 400 points per decade


# ----------------------------------------------------------------------------------------
# The law, as functions of the dimensionless scale x = a (Laplace) or s (Gaussian)
# ----------------------------------------------------------------------------------------


def _qe(law: str, x: np.ndarray) -> np.ndarray:
    if law == "laplace":
        return cf.quantization_error(a=x)
    g = wt.gaussian_optimal_gamma(s=x)
    return np.maximum(wt.gaussian_second_moment(s=x) - g * g, 0.0)


def _nqe(law: str, x: np.ndarray) -> np.ndarray:
    if law == "laplace":
        return cf.normalized_quantization_error(a=x)
    return _qe(law, x) / wt.gaussian_second_moment(s=x)


def _flip(law: str, x: float) -> float:
    if law == "laplace":
        return float(cf.sign_flip_probability(a=x))
    return float(wt.gaussian_sign_flip_probability(s=x))


@functools.lru_cache(maxsize=4)
def law_peak(law: str = "laplace") -> tuple[float, float]:
    r"""``(x_star, qe_star)``: where the paper's QE* peaks in the dimensionless scale.

    Laplace: :func:`biper_theory.closed_form.qe_peak` (:math:`a^*\approx0.954882`, eq. 7–8).
    Gaussian (not in the paper): the maximiser of :math:`E\sin^2X - (E|\sin X|)^2` over
    :math:`s`, found by bounded Brent search around the grid maximum.
    """
    if law == "laplace":
        return cf.qe_peak()
    if law != "gaussian":
        raise ValueError(f"law must be one of {', '.join(wt.LAWS)}; got {law!r}")
    q = _qe(law, _GRID)
    i = int(np.argmax(q))
    res = optimize.minimize_scalar(
        lambda s: -float(_qe(law, np.asarray(s))),
        bounds=(_GRID[max(i - 1, 0)], _GRID[min(i + 1, _GRID.size - 1)]),
        method="bounded",
        options={"xatol": 1e-13},
    )
    return float(res.x), float(-res.fun)


# ----------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRecommendation:
    """The recommended ω₀ for one layer, with the value of the criterion's quantity there.

    ``scale`` is the fitted scale (Laplace b̂ or Gaussian σ̂), ``x = scale·omega0`` the
    dimensionless scale at the recommendation, ``value`` the criterion's quantity there
    (normalised QE, SQNR dB, a/a*, or normalised QE), ``explanation`` one line.
    """

    layer: str
    n: int
    scale: float
    omega0: float
    x: float
    value: float
    explanation: str


@dataclass(frozen=True)
class Recommendation:
    """A global ω₀ and one per layer, each with a one-line explanation."""

    criterion: str
    law: str
    target: dict[str, Any]
    omega0: float
    explanation: str
    per_layer: dict[str, LayerRecommendation] = field(default_factory=dict)
    current_omega0: float | None = None
    binding_layer: str | None = None


# ----------------------------------------------------------------------------------------
# Helpers: turn a condition on x = scale*omega0 into a float omega0 that meets it exactly
# ----------------------------------------------------------------------------------------


def _omega_at_least(x_min: float, scale: float) -> float:
    """Smallest float ω₀ ≥ x_min/scale with scale*ω₀ ≥ x_min in float arithmetic."""
    w = x_min / scale
    while scale * w < x_min:
        w = float(np.nextafter(w, np.inf))
    return w


def _omega_at_most(x_max: float, scale: float) -> float:
    """Largest float ω₀ ≤ x_max/scale with scale*ω₀ ≤ x_max in float arithmetic."""
    w = x_max / scale
    while scale * w > x_max:
        w = float(np.nextafter(w, -np.inf))
    return w


def _smallest_x_from_which(cond: Callable[[np.ndarray], np.ndarray], name: str) -> float:
    """Smallest x such that cond holds on [x, ∞) (on the grid, root refined by Brent)."""
    ok = cond(_GRID)
    if not ok[-1]:
        raise ValueError(f"{name}: not reachable for any omega0")
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        raise ValueError(f"{name}: met by every omega0 (no lower bound); choose a stricter target")
    j = int(bad[-1])  # last failing grid point; cond holds on all later ones
    lo, hi = float(_GRID[j]), float(_GRID[j + 1])
    # bisection on the condition itself, down to adjacent floats (Brent would need a continuous
    # function; this keeps cond(hi) true by construction)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if bool(cond(np.asarray(mid))):
            hi = mid
        else:
            lo = mid
    return hi


# ----------------------------------------------------------------------------------------
# Criteria
# ----------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _target_nqe(scales: dict[str, float], law: str, nqe: float, label: str) -> tuple[dict[str, tuple], str]:
    lo_lim = float(_nqe(law, np.asarray(_X_HI)))
    hi_lim = float(_nqe(law, np.asarray(_X_LO)))
    if not (math.isfinite(nqe) and lo_lim < nqe < hi_lim):
        raise ValueError(
            f"{label} must correspond to a normalized QE in ({lo_lim:.6g}, {hi_lim:.6g}) under the "
            f"{law} law; got normalized QE {nqe!r}"
        )
    x_t = _smallest_x_from_which(lambda x: _nqe(law, x) <= nqe, label)
    per = {}
    for k, s in scales.items():
        w = _omega_at_least(x_t, s)
        while float(_nqe(law, np.asarray(s * w))) > nqe:  # exact in the evaluated function
            w = float(np.nextafter(w, np.inf))
        per[k] = (w, float(_nqe(law, np.asarray(s * w))))
    return per, f"x = {_fmt(x_t)}"


def _avoid_peak(
    scales: dict[str, float], law: str, ratio: float, side: str, current: float | None
) -> tuple[dict[str, tuple], tuple[float, float]]:
    if not (isinstance(ratio, int | float) and math.isfinite(ratio) and ratio > 1.0):
        raise ValueError(f"ratio must be a finite number > 1; got {ratio!r}")
    if side not in ("auto", "above", "below"):
        raise ValueError(f"side must be one of auto, above, below; got {side!r}")
    x_star, _ = law_peak(law)
    x_lo, x_hi = x_star / ratio, x_star * ratio
    eff = "above" if side == "auto" and current is None else side
    per = {}
    for k, s in scales.items():
        up, down = _omega_at_least(x_hi, s), _omega_at_most(x_lo, s)
        if current is not None and (s * current >= x_hi or s * current <= x_lo) and eff == "auto":
            w = current
        elif current is not None and eff == "above" and s * current >= x_hi:
            w = current
        elif current is not None and eff == "below" and s * current <= x_lo:
            w = current
        elif eff == "above":
            w = up
        elif eff == "below":
            w = down
        else:  # auto, inside the band: nearest edge in log ω₀
            assert current is not None
            w = up if math.log(up / current) <= math.log(current / down) else down
        per[k] = (w, s * w / x_star)
    return per, (x_lo, x_hi)


def _x_flip(law: str, max_flip: float) -> float:
    """Largest x with sign-flip probability ≤ max_flip (the probability increases with x)."""
    if law == "laplace":
        # 1/(1+e^{π/a}) ≤ p  ⇔  a ≤ π / log(1/p - 1)
        x = math.pi / math.log1p((1.0 - 2.0 * max_flip) / max_flip)
    else:
        x = optimize.brentq(lambda s: _flip(law, s) - max_flip, _X_LO, _X_HI, xtol=1e-300, rtol=1e-15)
    while _flip(law, x) > max_flip:
        x = float(np.nextafter(x, 0.0))
    return x


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------


def _check_target(criterion: str, target: Mapping[str, Any]) -> dict[str, Any]:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    allowed = CRITERIA[criterion]
    unknown = sorted(set(target) - set(allowed))
    if unknown:
        raise ValueError(
            f"criterion {criterion!r} takes targets {', '.join(allowed)}; got unknown {', '.join(unknown)}"
        )
    full = {**allowed, **{k: v for k, v in target.items() if v is not None}}
    missing = [k for k, v in full.items() if v is None and k in ("nqe", "sqnr_db")]
    if missing:
        raise ValueError(f"criterion {criterion!r} needs the target {missing[0]}=<value>")
    return full


def recommend(
    scales: Mapping[str, float],
    criterion: str = "avoid-peak",
    *,
    law: str = "laplace",
    omega0: float | None = None,
    counts: Mapping[str, int] | None = None,
    **target: Any,
) -> Recommendation:
    """Recommend ω₀ per layer and globally from fitted scales (b̂ or σ̂); see the module docs.

    Parameters
    ----------
    scales : mapping of str to float
        Fitted scale per layer (Laplace ``b`` for ``law="laplace"``, Gaussian ``σ`` otherwise).
    criterion : str
        One of :data:`CRITERIA`.
    law : {"laplace", "gaussian"}
        The law whose closed forms define the criterion (the paper's model is Laplace).
    omega0 : float, optional
        The ω₀ currently in use (used by ``"avoid-peak"`` with ``side="auto"``; reported).
    counts : mapping of str to int, optional
        Weights per layer (weights of the mean objective of ``"min-qe-flip"``; default equal).
    **target
        The criterion's targets (see :data:`CRITERIA`).

    Raises
    ------
    ValueError
        Unknown criterion (the message lists the allowed names), unknown or missing target,
        unreachable target, scales not in (0, inf), no layers.
    """
    full = _check_target(criterion, target)
    if law not in wt.LAWS:
        raise ValueError(f"law must be one of {', '.join(wt.LAWS)}; got {law!r}")
    if not scales:
        raise ValueError("no layers given: need at least one fitted scale")
    sc = {str(k): float(as_positive(f"scale of layer {k!r}", v)) for k, v in scales.items()}
    current = None if omega0 is None else float(as_positive("omega0", omega0))
    cnt = {k: int(counts[k]) if counts is not None and k in counts else 1 for k in sc}
    sym = "a" if law == "laplace" else "s"
    sname = "b" if law == "laplace" else "sigma"
    per_layer: dict[str, LayerRecommendation] = {}
    binding: str | None

    if criterion in ("target-nqe", "target-sqnr"):
        if criterion == "target-nqe":
            nqe = float(full["nqe"])
            label, cond_txt = "nqe", f"normalized QE <= {_fmt(nqe)}"
        else:
            db = float(full["sqnr_db"])
            # the reachable range in dB, so that the refusal speaks the unit the user gave
            lo_db, hi_db = (-10.0 * math.log10(float(_nqe(law, np.asarray(x)))) for x in (_X_LO, _X_HI))
            if not (math.isfinite(db) and lo_db < db < hi_db):
                rng_db = f"({lo_db:.6g}, {hi_db:.6g}) dB"
                raise ValueError(f"sqnr_db must be in {rng_db} under the {law} law; got {db!r}")
            nqe = 10.0 ** (-db / 10.0)
            label, cond_txt = "sqnr_db", f"SQNR >= {_fmt(db)} dB"
        per, _ = _target_nqe(sc, law, nqe, label)
        for k, (w, v) in per.items():
            shown = v if criterion == "target-nqe" else -10.0 * math.log10(v)
            per_layer[k] = LayerRecommendation(
                k,
                cnt[k],
                sc[k],
                w,
                sc[k] * w,
                shown,
                f"smallest omega0 with {cond_txt} under the fitted {law} law ({sym} = {_fmt(sc[k] * w)}); "
                "larger omega0 only adds gradient scale and sign flips",
            )
        binding = max(per, key=lambda k: per[k][0])
        glob = per[binding][0]
        expl = (
            f"omega0 = {_fmt(glob)} is the smallest value with {cond_txt} in every layer "
            f"(binding layer {binding}, {sname} = {_fmt(sc[binding])})"
        )
    elif criterion == "avoid-peak":
        ratio, side = float(full["ratio"]), str(full["side"])
        per_av, (x_lo, x_hi) = _avoid_peak(sc, law, ratio, side, current)
        x_star = law_peak(law)[0]
        for k, (w, v) in per_av.items():
            where = "at" if current is not None and w == current else "moved to"
            per_layer[k] = LayerRecommendation(
                k,
                cnt[k],
                sc[k],
                w,
                sc[k] * w,
                v,
                f"{where} {sym} = {_fmt(sc[k] * w)} = {_fmt(v)} x {sym}* ({_fmt(x_star)}), outside the "
                f"QE-peak band ({_fmt(x_lo)}, {_fmt(x_hi)}) of ratio {_fmt(ratio)}",
            )
        glob, binding = _global_avoid(sc, x_lo, x_hi, side, current)
        expl = (
            f"omega0 = {_fmt(glob)} keeps every layer's {sym} = {sname}*omega0 a factor >= {_fmt(ratio)} "
            f"from the QE peak {sym}* = {_fmt(x_star)} (side {side}"
            + (f", binding layer {binding})" if binding else ")")
        )
    else:
        max_flip = float(full["max_flip"])
        max_w = full["max_omega0"]
        if not (0.0 < max_flip < 0.5):
            raise ValueError(f"max_flip must be in (0, 0.5); got {max_flip!r}")
        if max_w is not None:
            max_w = float(as_positive("max_omega0", max_w))
        x_f = _x_flip(law, max_flip)
        for k, s in sc.items():
            w = _omega_at_most(x_f, s)
            bound = f"sign flips <= {_fmt(max_flip)}"
            if max_w is not None and max_w < w:
                w, bound = max_w, f"omega0 <= {_fmt(max_w)}"
            v = float(_nqe(law, np.asarray(s * w)))
            per_layer[k] = LayerRecommendation(
                k,
                cnt[k],
                sc[k],
                w,
                s * w,
                v,
                f"largest omega0 with {bound} ({sym} = {_fmt(s * w)}); the normalized QE "
                f"{_fmt(v)} falls as omega0 grows, so the bound is what stops it",
            )
        glob, binding = _global_min_qe_flip(sc, cnt, law, x_f, max_w)
        v = float(
            np.average(_nqe(law, np.array([s * glob for s in sc.values()])), weights=list(cnt.values()))
        )
        expl = (
            f"omega0 = {_fmt(glob)} gives the lowest weighted mean normalized QE ({_fmt(v)}) with sign flips "
            f"<= {_fmt(max_flip)} in every layer"
            + (f" and omega0 <= {_fmt(max_w)}" if max_w is not None else "")
            + f" (binding layer {binding})"
        )
    return Recommendation(
        criterion=criterion,
        law=law,
        target=full,
        omega0=float(glob),
        explanation=expl,
        per_layer=per_layer,
        current_omega0=current,
        binding_layer=binding,
    )


def _global_avoid(
    sc: dict[str, float], x_lo: float, x_hi: float, side: str, current: float | None
) -> tuple[float, str | None]:
    """One ω₀ outside every layer's band (x_lo/b, x_hi/b): the forbidden set is their union."""
    ups = {k: _omega_at_least(x_hi, s) for k, s in sc.items()}
    downs = {k: _omega_at_most(x_lo, s) for k, s in sc.items()}

    def ok(w: float) -> bool:
        return all(s * w >= x_hi or s * w <= x_lo for s in sc.values())

    eff = "above" if side == "auto" and current is None else side
    if eff in ("above", "below"):
        if (
            current is not None
            and ok(current)
            and (
                (eff == "above" and all(s * current >= x_hi for s in sc.values()))
                or (eff == "below" and all(s * current <= x_lo for s in sc.values()))
            )
        ):
            return current, None
        if eff == "above":
            k = max(ups, key=lambda j: ups[j])
            return ups[k], k
        k = min(downs, key=lambda j: downs[j])
        return downs[k], k
    assert current is not None
    if ok(current):
        return current, None
    # candidates: every band edge that is admissible; pick the nearest to current in log ω₀
    cands = [(w, k) for d in (ups, downs) for k, w in d.items() if ok(w)]
    w, k = min(cands, key=lambda c: abs(math.log(c[0] / current)))
    return w, k


def _global_min_qe_flip(
    sc: dict[str, float], cnt: dict[str, int], law: str, x_f: float, max_w: float | None
) -> tuple[float, str]:
    """Minimise the weighted mean normalised QE over ω₀ in (0, min_l x_f/b_l] (∩ ω₀ ≤ max_w)."""
    caps = {k: _omega_at_most(x_f, s) for k, s in sc.items()}
    binding = min(caps, key=lambda k: caps[k])
    hi = caps[binding]
    if max_w is not None and max_w < hi:
        hi, binding = max_w, "omega0 bound"
    s_arr = np.array(list(sc.values()))
    wts = np.array([cnt[k] for k in sc], dtype=np.float64)

    def obj(w: np.ndarray) -> np.ndarray:
        return np.asarray(_nqe(law, np.multiply.outer(np.atleast_1d(w), s_arr)) @ wts / wts.sum())

    lo = max(_X_LO / float(s_arr.min()), hi * 1e-6)
    grid = np.geomspace(lo, hi, 513)
    vals = obj(grid)
    i = int(np.argmin(vals))
    if i == grid.size - 1:  # the bound is active (always, for a law whose normalised QE falls)
        return float(hi), binding
    res = optimize.minimize_scalar(
        lambda w: float(obj(np.asarray(w))[0]),
        bounds=(grid[max(i - 1, 0)], grid[i + 1]),
        method="bounded",
        options={"xatol": 1e-12 * hi},
    )
    return float(res.x), "interior minimum"


def _layers_of(weights: Any) -> tuple[dict[str, Any], float | None]:
    layers = getattr(weights, "layers", None)
    if layers is not None:
        return dict(layers), getattr(weights, "omega0", None)
    if isinstance(weights, Mapping):
        return dict(weights), None
    return {"weights": weights}, None


def pick_omega(
    weights: Any,
    criterion: str = "avoid-peak",
    *,
    law: str = "laplace",
    omega0: float | None = None,
    fix_loc: bool = True,
    **target: Any,
) -> Recommendation:
    """Fit each layer's scale and recommend ω₀ by ``criterion``; see the module docs.

    Parameters
    ----------
    weights : array_like, mapping of str to array_like, or LatentWeights
        One weight array, layers by name, or an object with ``.layers`` (and ``.omega0``,
        taken as the current ω₀ unless ``omega0`` is given), as returned by
        ``biper_theory.nn.checkpoint.load_latent_weights``.
    criterion : str, default "avoid-peak"
        One of :data:`CRITERIA`: ``"target-nqe"``, ``"target-sqnr"``, ``"avoid-peak"``,
        ``"min-qe-flip"``.
    law : {"laplace", "gaussian"}, default "laplace"
        Which fitted law's closed forms define the criterion.
    omega0 : float, optional
        The ω₀ currently in use.
    fix_loc : bool, default True
        Fit with the location fixed at 0 (the paper's model), or free.
    **target
        Criterion targets, e.g. ``nqe=0.25``, ``sqnr_db=6``, ``ratio=2, side="above"``,
        ``max_flip=0.02, max_omega0=40``.

    Returns
    -------
    Recommendation

    Raises
    ------
    ValueError
        Unknown criterion (listing the allowed names), bad target, empty or non-finite weights.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).laplace(0.0, 0.05, size=10_000)
    >>> rec = pick_omega(w, "target-nqe", nqe=0.25)
    >>> round(rec.omega0 * float(np.abs(w).mean()), 3)  # a where the normalised QE is 0.25
    1.07
    """
    _check_target(criterion, target)
    layers, cur = _layers_of(weights)
    checked = wt.validate_layers(layers)
    if omega0 is None:
        omega0 = cur
    scales = {k: wt.fitted_scale(x, law=law, fix_loc=fix_loc) for k, x in checked.items()}
    counts = {k: int(x.size) for k, x in checked.items()}
    return recommend(scales, criterion, law=law, omega0=omega0, counts=counts, **target)
