r"""Pick the frequency ω₀ for measured weights, by a stated criterion.

Everything the paper's analysis says about ω₀ goes through the dimensionless scale
:math:`a = b\,\omega_0` (Laplace; :math:`x = c\,\omega_0` for any law of
:mod:`biper_theory.laws`, e.g. :math:`s = \sigma\omega_0` for the Gaussian). A criterion
therefore fixes a set of admissible values of the dimensionless scale under each layer's law
(held as a law object; layers may follow different laws, e.g. the best by AIC); each layer,
with its fitted scale :math:`\hat c`, turns that into admissible :math:`\omega_0 = x/\hat c`,
and one global ω₀ (BiPer uses one frequency for the whole network) must satisfy the
condition in every layer.

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

from . import laws as _laws
from . import weights as wt
from ._validation import as_positive
from .laws import Law

__all__ = [
    "CRITERIA",
    "LAW_CHOICES",
    "fit_layer_law",
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
# laws with numerical routes are searched on every 10th point (40 per decade) before the
# bisection: each point costs them ~0.1-1 ms instead of ~1 µs
_COARSE = 10
# Where an analytic inverse is made exact in float arithmetic by stepping to the next float,
# give up after this many steps: more means the inverse and the evaluated function disagree by
# more than rounding (a bug), which must not hang (issue 11, item 7).
_MAX_ULPS = 64


# ----------------------------------------------------------------------------------------
# The law, as functions of the dimensionless scale x (a law object with scale 1)
# ----------------------------------------------------------------------------------------


def _nqe(law: Law, x: np.ndarray) -> np.ndarray:
    return law.standardized().normalized_quantization_error(omega0=x)


def _flip(law: Law, x: float) -> float:
    return float(law.standardized().sign_flip_probability(omega0=x))


def _law_named(law: str, scale: float = 1.0) -> Law:
    """A law from its registry name and scale alone (laws with a shape need a fitted object)."""
    cls: Any = _laws.get(law)
    try:
        built: Law = cls(**{cls.scale_name: float(scale)})
        return built
    except TypeError:
        raise ValueError(
            f"law {law!r} has a shape parameter: pass fitted law objects (biper_theory.laws.fit) "
            "instead of scales"
        ) from None


def _key(law: Law) -> tuple[Any, ...]:
    """Layers whose laws differ only in scale share every computation in x (a law without
    parameters, the empirical law, shares nothing: its key is the object itself)."""
    if not law.params:
        return (type(law), id(law))
    return (type(law), tuple(sorted((k, v) for k, v in law.params.items() if k != law.scale_name)))


@functools.lru_cache(maxsize=64)
def _parametric_peak(key: tuple[Any, ...]) -> tuple[float, float]:
    cls, shape = key
    law: Law = cls(**dict(shape), **{cls.scale_name: 1.0})
    return law.qe_peak()


def _peak_of(law: Law) -> tuple[float, float]:
    return _parametric_peak(_key(law)) if law.params else law.qe_peak()


def law_peak(law: str | Law = "laplace") -> tuple[float, float]:
    r"""``(x_star, qe_star)``: where the paper's QE* peaks in the dimensionless scale.

    Laplace: :func:`biper_theory.closed_form.qe_peak` (:math:`a^*\approx0.954882`, eq. 7–8).
    Other laws (not in the paper): :meth:`biper_theory.laws.Law.qe_peak`, the maximiser of
    :math:`E\hat w^2 - (E|\hat w|)^2` over x by bounded Brent search around the grid maximum.
    ``law``: a law object, or the name of a law without a shape parameter.
    """
    obj = _law_named(law) if isinstance(law, str) else law
    return _peak_of(obj)


def _step(w: float, bad: Callable[[float], bool], toward: float, what: str) -> float:
    """Step ``w`` float by float towards ``toward`` while ``bad(w)``; at most _MAX_ULPS steps."""
    for _ in range(_MAX_ULPS):
        if not bad(w):
            return w
        w = float(np.nextafter(w, toward))
    if not bad(w):
        return w
    raise RuntimeError(
        f"{what}: still not met {_MAX_ULPS} floats past the analytic value (at {w!r}); the inverse "
        "and the evaluated function disagree by more than rounding"
    )


# ----------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRecommendation:
    """The recommended ω₀ for one layer, with the value of the criterion's quantity there.

    ``scale`` is the fitted scale (Laplace b̂, Gaussian σ̂, or the scale of ``law``),
    ``x = scale·omega0`` the dimensionless scale at the recommendation, ``value`` the
    criterion's quantity there (normalised QE, SQNR dB, x/x*, or normalised QE),
    ``explanation`` one line, ``law`` the name of the layer's law.
    """

    layer: str
    n: int
    scale: float
    omega0: float
    x: float
    value: float
    explanation: str
    law: str = "laplace"


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
    return _step(x_min / scale, lambda w: scale * w < x_min, np.inf, f"omega0 >= {x_min!r}/{scale!r}")


def _omega_at_most(x_max: float, scale: float) -> float:
    """Largest float ω₀ ≤ x_max/scale with scale*ω₀ ≤ x_max in float arithmetic."""
    return _step(x_max / scale, lambda w: scale * w > x_max, -np.inf, f"omega0 <= {x_max!r}/{scale!r}")


def _smallest_x_from_which(
    cond: Callable[[np.ndarray], np.ndarray], name: str, grid: np.ndarray = _GRID
) -> float:
    """Smallest x such that cond holds on [x, ∞) (on the grid, then bisection)."""
    ok = cond(grid)
    if not ok[-1]:
        raise ValueError(f"{name}: not reachable for any omega0")
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        raise ValueError(f"{name}: met by every omega0 (no lower bound); choose a stricter target")
    j = int(bad[-1])  # last failing grid point; cond holds on all later ones
    lo, hi = float(grid[j]), float(grid[j + 1])
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


def _grid_for(law: Law) -> np.ndarray:
    return _GRID if law.closed_form else _GRID[::_COARSE]


def _below_target(law: Law, nqe: float) -> Callable[[np.ndarray], np.ndarray]:
    """x -> whether the normalised QE under ``law`` is at most ``nqe``."""
    return lambda x: np.asarray(_nqe(law, x) <= nqe)


def _target_nqe(layer_laws: dict[str, Law], nqe: float, label: str) -> tuple[dict[str, tuple], str]:
    x_t: dict[tuple[Any, ...], float] = {}
    for law in layer_laws.values():
        key = _key(law)
        if key in x_t:
            continue
        lo_lim = float(_nqe(law, np.asarray(_X_HI)))
        hi_lim = float(_nqe(law, np.asarray(_X_LO)))
        if not (math.isfinite(nqe) and lo_lim < nqe < hi_lim):
            raise ValueError(
                f"{label} must correspond to a normalized QE in ({lo_lim:.6g}, {hi_lim:.6g}) under the "
                f"{law.describe() if not law.closed_form else law.name} law; got normalized QE {nqe!r}"
            )
        x_t[key] = _smallest_x_from_which(_below_target(law, nqe), label, _grid_for(law))
    per = {}
    for k, law in layer_laws.items():
        s = law.scale
        w = _omega_at_least(x_t[_key(law)], s)
        meets = _below_target(law, nqe)

        def misses(v: float, meets: Callable[[np.ndarray], np.ndarray] = meets, s: float = s) -> bool:
            return not bool(meets(np.asarray(s * v)))

        w = _step(w, misses, np.inf, label)
        per[k] = (w, float(_nqe(law, np.asarray(s * w))))
    xs = sorted({_fmt(v) for v in x_t.values()})
    return per, f"x = {', '.join(xs)}"


def _avoid_peak(
    layer_laws: dict[str, Law], ratio: float, side: str, current: float | None
) -> dict[str, tuple]:
    if not (isinstance(ratio, int | float) and math.isfinite(ratio) and ratio > 1.0):
        raise ValueError(f"ratio must be a finite number > 1; got {ratio!r}")
    if side not in ("auto", "above", "below"):
        raise ValueError(f"side must be one of auto, above, below; got {side!r}")
    eff = "above" if side == "auto" and current is None else side
    per = {}
    for k, law in layer_laws.items():
        s = law.scale
        x_star, _ = law_peak(law)
        x_lo, x_hi = x_star / ratio, x_star * ratio
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
        per[k] = (w, s * w / x_star, x_star, x_lo, x_hi)
    return per


def _x_flip(law: Law, max_flip: float) -> float:
    """Largest x with sign-flip probability ≤ max_flip (the probability increases with x):
    the law's inverse (closed form for Laplace), stepped to the exact float."""
    x = law.x_at_flip(max_flip)
    return _step(x, lambda v: _flip(law, v) > max_flip, 0.0, f"sign flips <= {max_flip!r}")


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


def _layer_laws(scales: Mapping[str, Any], law: str) -> dict[str, Law]:
    """Each layer's law: given as a law object, or built from a scale and the name ``law``."""
    out: dict[str, Law] = {}
    for k, v in scales.items():
        if isinstance(v, Law):
            out[str(k)] = v
        else:
            out[str(k)] = _law_named(law, float(as_positive(f"scale of layer {k!r}", v)))
    return out


def recommend(
    scales: Mapping[str, float | Law],
    criterion: str = "avoid-peak",
    *,
    law: str = "laplace",
    omega0: float | None = None,
    counts: Mapping[str, int] | None = None,
    **target: Any,
) -> Recommendation:
    """Recommend ω₀ per layer and globally from each layer's fitted law; see the module docs.

    Parameters
    ----------
    scales : mapping of str to float or Law
        Per layer, a fitted law object (:mod:`biper_theory.laws`; layers may follow different
        laws), or a fitted scale of the law named ``law`` (Laplace ``b``, Gaussian ``σ``).
    criterion : str
        One of :data:`CRITERIA`.
    law : str, default "laplace"
        Name of the law of bare scales (one without a shape parameter: ``"laplace"``,
        ``"gaussian"``); with law objects only the label of the report (e.g. ``"auto"``).
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
        unreachable target, scales not in (0, inf), no layers, unknown law.
    """
    full = _check_target(criterion, target)
    if law != "auto":
        _laws.get(law)  # names the allowed laws
    if not scales:
        raise ValueError("no layers given: need at least one fitted scale")
    if law == "auto" and not all(isinstance(v, Law) for v in scales.values()):
        raise ValueError('law="auto" needs fitted law objects per layer (biper_theory.laws.fit_all)')
    layer_laws = _layer_laws(scales, law)
    sc = {k: v.scale for k, v in layer_laws.items()}
    current = None if omega0 is None else float(as_positive("omega0", omega0))
    cnt = {k: int(counts[k]) if counts is not None and k in counts else 1 for k in sc}
    per_layer: dict[str, LayerRecommendation] = {}
    binding: str | None

    def one(k: str, w: float, v: float, expl: str) -> LayerRecommendation:
        return LayerRecommendation(k, cnt[k], sc[k], w, sc[k] * w, v, expl, layer_laws[k].name)

    def sym(k: str) -> str:
        return layer_laws[k].symbol

    if criterion in ("target-nqe", "target-sqnr"):
        if criterion == "target-nqe":
            nqe = float(full["nqe"])
            label, cond_txt = "nqe", f"normalized QE <= {_fmt(nqe)}"
        else:
            db = float(full["sqnr_db"])
            # the reachable range in dB under each layer's law, so that the refusal speaks the
            # unit the user gave
            for lw in {_key(v): v for v in layer_laws.values()}.values():
                lo_db, hi_db = (-10.0 * math.log10(float(_nqe(lw, np.asarray(x)))) for x in (_X_LO, _X_HI))
                if not (math.isfinite(db) and lo_db < db < hi_db):
                    rng_db = f"({lo_db:.6g}, {hi_db:.6g}) dB"
                    what = lw.name if lw.closed_form else lw.describe()
                    raise ValueError(f"sqnr_db must be in {rng_db} under the {what} law; got {db!r}")
            nqe = 10.0 ** (-db / 10.0)
            label, cond_txt = "sqnr_db", f"SQNR >= {_fmt(db)} dB"
        per, _ = _target_nqe(layer_laws, nqe, label)
        for k, (w, v) in per.items():
            shown = v if criterion == "target-nqe" else -10.0 * math.log10(v)
            per_layer[k] = one(
                k,
                w,
                shown,
                f"smallest omega0 with {cond_txt} under the fitted {layer_laws[k].name} law "
                f"({sym(k)} = {_fmt(sc[k] * w)}); larger omega0 only adds gradient scale and sign flips",
            )
        binding = max(per, key=lambda k: per[k][0])
        glob = per[binding][0]
        expl = (
            f"omega0 = {_fmt(glob)} is the smallest value with {cond_txt} in every layer "
            f"(binding layer {binding}, {layer_laws[binding].scale_name} = {_fmt(sc[binding])})"
        )
    elif criterion == "avoid-peak":
        ratio, side = float(full["ratio"]), str(full["side"])
        per_av = _avoid_peak(layer_laws, ratio, side, current)
        for k, (w, v, x_star, x_lo, x_hi) in per_av.items():
            where = "at" if current is not None and w == current else "moved to"
            per_layer[k] = one(
                k,
                w,
                v,
                f"{where} {sym(k)} = {_fmt(sc[k] * w)} = {_fmt(v)} x {sym(k)}* ({_fmt(x_star)}), outside the "
                f"QE-peak band ({_fmt(x_lo)}, {_fmt(x_hi)}) of ratio {_fmt(ratio)}",
            )
        bands = {k: (x_lo, x_hi) for k, (_, _, _, x_lo, x_hi) in per_av.items()}
        glob, binding = _global_avoid(sc, bands, side, current)
        stars = sorted({_fmt(p[2]) for p in per_av.values()})
        expl = (
            f"omega0 = {_fmt(glob)} keeps every layer's scale*omega0 a factor >= {_fmt(ratio)} "
            f"from its QE peak x* = {', '.join(stars)} (side {side}"
            + (f", binding layer {binding})" if binding else ")")
        )
    else:
        max_flip = float(full["max_flip"])
        max_w = full["max_omega0"]
        if not (0.0 < max_flip < 0.5):
            raise ValueError(f"max_flip must be in (0, 0.5); got {max_flip!r}")
        if max_w is not None:
            max_w = float(as_positive("max_omega0", max_w))
        x_fs: dict[tuple[Any, ...], float] = {}
        for lw in layer_laws.values():
            if _key(lw) not in x_fs:
                x_fs[_key(lw)] = _x_flip(lw, max_flip)
        x_f = {k: x_fs[_key(lw)] for k, lw in layer_laws.items()}
        for k, s in sc.items():
            w = _omega_at_most(x_f[k], s)
            bound = f"sign flips <= {_fmt(max_flip)}"
            if max_w is not None and max_w < w:
                w, bound = max_w, f"omega0 <= {_fmt(max_w)}"
            v = float(_nqe(layer_laws[k], np.asarray(s * w)))
            per_layer[k] = one(
                k,
                w,
                v,
                f"largest omega0 with {bound} ({sym(k)} = {_fmt(s * w)}); the normalized QE "
                f"{_fmt(v)} falls as omega0 grows, so the bound is what stops it",
            )
        glob, binding = _global_min_qe_flip(layer_laws, cnt, x_f, max_w)
        v = float(
            np.average(
                [float(_nqe(lw, np.asarray(lw.scale * glob))) for lw in layer_laws.values()],
                weights=list(cnt.values()),
            )
        )
        expl = (
            f"omega0 = {_fmt(glob)} gives the lowest weighted mean normalized QE ({_fmt(v)}) with sign flips "
            f"<= {_fmt(max_flip)} in every layer"
            + (f" and omega0 <= {_fmt(max_w)}" if max_w is not None else "")
            + f" (binding layer {binding})"
        )
    names = sorted({lw.name for lw in layer_laws.values()})
    objects = all(isinstance(v, Law) for v in scales.values())
    label = names[0] if objects and law != "auto" and len(names) == 1 else law
    return Recommendation(
        criterion=criterion,
        law=label,
        target=full,
        omega0=float(glob),
        explanation=expl,
        per_layer=per_layer,
        current_omega0=current,
        binding_layer=binding,
    )


def _global_avoid(
    sc: dict[str, float], bands: dict[str, tuple[float, float]], side: str, current: float | None
) -> tuple[float, str | None]:
    """One ω₀ outside every layer's band (x_lo/c, x_hi/c): the forbidden set is their union."""
    ups = {k: _omega_at_least(bands[k][1], s) for k, s in sc.items()}
    downs = {k: _omega_at_most(bands[k][0], s) for k, s in sc.items()}

    def above(k: str, w: float) -> bool:
        return sc[k] * w >= bands[k][1]

    def below(k: str, w: float) -> bool:
        return sc[k] * w <= bands[k][0]

    def ok(w: float) -> bool:
        return all(above(k, w) or below(k, w) for k in sc)

    eff = "above" if side == "auto" and current is None else side
    if eff in ("above", "below"):
        if (
            current is not None
            and ok(current)
            and (
                (eff == "above" and all(above(k, current) for k in sc))
                or (eff == "below" and all(below(k, current) for k in sc))
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
    layer_laws: dict[str, Law], cnt: dict[str, int], x_f: dict[str, float], max_w: float | None
) -> tuple[float, str]:
    """Minimise the weighted mean normalised QE over ω₀ in (0, min_l x_f/c_l] (∩ ω₀ ≤ max_w)."""
    sc = {k: lw.scale for k, lw in layer_laws.items()}
    caps = {k: _omega_at_most(x_f[k], s) for k, s in sc.items()}
    binding = min(caps, key=lambda k: caps[k])
    hi = caps[binding]
    if max_w is not None and max_w < hi:
        hi, binding = max_w, "omega0 bound"
    s_arr = np.array(list(sc.values()))
    wts = np.array([cnt[k] for k in sc], dtype=np.float64)

    def obj(w: np.ndarray) -> np.ndarray:
        w = np.atleast_1d(w)
        total = sum(c * _nqe(lw, lw.scale * w) for c, lw in zip(wts, layer_laws.values(), strict=True))
        return np.asarray(total / wts.sum())

    lo = max(_X_LO / float(s_arr.min()), hi * 1e-6)
    n_grid = 513 if all(lw.closed_form for lw in layer_laws.values()) else 129
    grid = np.geomspace(lo, hi, n_grid)
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
    law : {"laplace", "gaussian", "gennorm", "t", "empirical", "auto"}, default "laplace"
        The law fitted to each layer (:func:`biper_theory.laws.fit`, maximum likelihood) whose
        quantities define the criterion; ``"auto"``: per layer the best of laplace, gaussian,
        gennorm and t by AIC (:func:`biper_theory.laws.best_by_aic`).
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
    fitted: dict[str, float | Law] = {k: fit_layer_law(x, law, fix_loc=fix_loc) for k, x in checked.items()}
    counts = {k: int(x.size) for k, x in checked.items()}
    return recommend(fitted, criterion, law=law, omega0=omega0, counts=counts, **target)


#: law names pick-omega accepts: every law, or "auto" (best parametric law by AIC per layer)
LAW_CHOICES: tuple[str, ...] = ("auto", *_laws.NAMES)


def fit_layer_law(
    w: Any, law: str, *, fix_loc: bool = True, fit_size: int | None = None, rng: Any = 0
) -> Law:
    """The law ``law`` fitted to one layer's weights; ``"auto"``: the best of
    :data:`biper_theory.laws.FITTED` by AIC.

    ``fit_size``: laws without a closed-form MLE (gennorm, t; and the empirical law, whose every
    evaluation is a pass over its weights) are fitted on a seeded subsample of at most this many
    weights, and ``"auto"`` compares all four laws' AICs on that same subsample. Laws with a
    closed-form MLE (Laplace, Gaussian) are then fitted on every weight.
    """
    if law == "auto":
        fits = _laws.fit_all(w, fix_loc=fix_loc, fit_size=fit_size, rng=rng)
        law = _laws.best_by_aic(fits)
    size = None if _laws.get(law).closed_form else fit_size
    return _laws.fit(law, w, fix_loc=fix_loc, fit_size=size, rng=rng)
