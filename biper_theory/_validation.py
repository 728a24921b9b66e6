"""Argument checks shared by every route (closed form, quadrature, Monte Carlo).

These helpers hold no science: they turn user input into float64 arrays and raise a
``ValueError`` that names the argument and its allowed range, so that no public function
ever returns NaN for a bad parameter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "all_positive_finite",
    "check_numeric_kind",
    "check_phase_range",
    "PHASE_MAX",
    "as_float64",
    "as_positive",
    "as_real",
    "broadcast",
    "dimensionless_scale",
    "positive_error",
]


def _describe(x: np.ndarray, bad: np.ndarray) -> str:
    first = float(x[bad].flat[0]) if x.ndim else float(x[()])
    more = int(bad.sum()) - 1
    return f"{first!r}" if more <= 0 else f"{first!r} (and {more} more)"


def _short(value: object) -> str:
    """``repr(value)`` cut to one short line (a huge int or array would flood the message)."""
    if isinstance(value, np.ndarray) and value.ndim:
        return f"an array of dtype {value.dtype}, shape {value.shape}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def check_numeric_kind(name: str, value: object, what: str = "a real number") -> None:
    """Refuse inputs that numpy would silently turn into numbers with another meaning.

    ``True``/``False`` (and boolean arrays) would become 1 and 0, ``np.datetime64`` and
    ``np.timedelta64`` their tick counts, and a masked array would lose its mask (numpy
    drops it on conversion, so the masked entries would be used as if they were data). Each
    raises ``ValueError`` naming the argument; plain numbers and numeric arrays pass.
    """
    if isinstance(value, np.ma.MaskedArray):
        raise ValueError(
            f"{name} must be {what}; got a masked array (its mask would be ignored: "
            "pass arr.compressed() or arr.filled(value))"
        )
    kind = value.dtype.kind if isinstance(value, np.ndarray | np.generic) else None
    if isinstance(value, list | tuple):  # e.g. [True, False]: numpy makes it a bool array
        try:
            kind = np.asarray(value).dtype.kind
        except (TypeError, ValueError, OverflowError):
            kind = None
    if isinstance(value, bool) or kind == "b":
        raise ValueError(f"{name} must be {what}; got a boolean: {_short(value)}")
    if kind in ("M", "m"):
        raise ValueError(f"{name} must be {what}; got a date or time: {_short(value)}")


#: Largest phase :math:`|\omega_0 w|` (radians) at which weights are analysed. A float32
#: weight (what checkpoints store) fixes its phase only to :math:`|\omega_0 w|\,2^{-24}`:
#: 6e-4 rad at this bound, while beyond ~1e7 rad the phase, and so sin(ω₀w), is noise.
PHASE_MAX = 1e4


def check_phase_range(omega0: float, layers: dict[str, np.ndarray]) -> None:
    r"""Require :math:`\omega_0 \max|w| \le` :data:`PHASE_MAX` in every layer (NaN passes:
    non-finite weights are reported by the caller's own check). Two reductions per layer,
    no temporaries."""
    for name, x in layers.items():
        if x.size == 0:
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            top = float(max(x.max(), -x.min()))
            phase = omega0 * top
        if phase > PHASE_MAX and top < np.inf:  # NaN/inf weights: the caller names them
            raise ValueError(
                f"omega0 * max|w| must be <= {PHASE_MAX:g} rad (beyond it sin(omega0*w) loses its "
                f"meaning at the weights' precision); layer {name!r} has max|w| = {top:.4g}, so "
                f"omega0 must be <= {PHASE_MAX / top:.4g}; got omega0 = {omega0:g}"
            )


def as_float64(name: str, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``value`` as a float64 array (no range check); name it if it is not numeric.

    Booleans, dates and masked arrays are refused (see :func:`check_numeric_kind`), and so
    is an integer too large for float64 (``10**400``): ``ValueError``, never ``OverflowError``.
    """
    check_numeric_kind(name, value)
    try:
        x = np.asarray(value, dtype=np.float64)
    except OverflowError as exc:
        raise ValueError(f"{name} must fit a float64 (|x| < 1.8e308); got {_short(value)}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number in (0, inf); got {_short(value)}") from exc
    return x


def all_positive_finite(x: np.ndarray) -> bool:
    """Whether every entry of the float64 array ``x`` lies in (0, inf); True if it is empty.

    One ``min`` and one ``max`` reduction, no temporaries: NaN propagates through both and
    fails the comparisons.
    """
    return x.size == 0 or bool(x.min() > 0.0 and x.max() < np.inf)


def positive_error(name: str, x: np.ndarray) -> ValueError:
    """The error for a float64 array ``x`` with an entry outside (0, inf), naming the first."""
    bad = ~((x > 0) & (x < np.inf))  # False for NaN, 0, negatives and +inf
    return ValueError(f"{name} must be finite and in (0, inf); got {_describe(x, bad)}")


def as_positive(name: str, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``value`` as float64, requiring every entry to lie in (0, inf)."""
    x = as_float64(name, value)
    if not all_positive_finite(x):
        raise positive_error(name, x)
    return x


def as_real(name: str, value: npt.ArrayLike, *, allow_inf: bool = False) -> npt.NDArray[np.float64]:
    """Return ``value`` as float64, rejecting NaN (and ±inf unless ``allow_inf``)."""
    check_numeric_kind(name, value)
    try:
        x = np.asarray(value, dtype=np.float64)
    except OverflowError as exc:
        raise ValueError(f"{name} must fit a float64 (|x| < 1.8e308); got {_short(value)}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number; got {_short(value)}") from exc
    ok = ~np.isnan(x) if allow_inf else np.isfinite(x)
    if not np.all(ok):
        allowed = "[-inf, inf] (not NaN)" if allow_inf else "(-inf, inf), finite"
        raise ValueError(f"{name} must be in {allowed}; got {_describe(x, ~ok)}")
    return x


def broadcast(**arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Broadcast named arrays together, naming them all if their shapes clash."""
    try:
        return tuple(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k}{np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"arguments do not broadcast together: {shapes}") from exc


def dimensionless_scale(
    b: npt.ArrayLike | None,
    omega0: npt.ArrayLike | None,
    a: npt.ArrayLike | None,
    *,
    check: bool = True,
) -> npt.NDArray[np.float64]:
    """Reduce the parameters to ``a = b * omega0``, the only one the law depends on.

    Give either ``b`` and ``omega0`` (both), or ``a`` alone. With ``check=False`` an ``a``
    given alone is only converted, for a caller that checks it lies in (0, inf) itself
    while it reads it (the blockwise cores of :mod:`biper_theory.closed_form` do, and raise
    :func:`positive_error`); ``b``, ``omega0`` and their product are always checked.
    """
    if a is not None:
        if b is not None or omega0 is not None:
            raise ValueError("give either a, or both b and omega0, not both forms")
        return as_positive("a", a) if check else as_float64("a", a)
    if b is None or omega0 is None:
        raise ValueError("both b (Laplace scale, > 0) and omega0 (frequency, > 0) are required")
    bb = as_positive("b", b)
    ww = as_positive("omega0", omega0)
    bb, ww = broadcast(b=bb, omega0=ww)
    with np.errstate(over="ignore", under="ignore"):
        prod = bb * ww
    if not all_positive_finite(prod):
        bad = ~((prod > 0) & (prod < np.inf))
        raise ValueError(
            "b*omega0 must be a positive finite float64 (it over- or underflowed); "
            f"got {_describe(prod, bad)}"
        )
    return prod
