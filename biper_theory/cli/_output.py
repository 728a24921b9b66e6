"""Rendering of result rows for the CLI: text table, markdown, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FORMATS", "dumps", "format_number", "json_default", "render", "require_finite"]

FORMATS = ("text", "markdown", "csv", "json")


def format_number(x: Any, digits: int = 10) -> str:
    """Compact text for a cell: floats with ``digits`` significant digits."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, float) or hasattr(x, "dtype"):
        v = float(x)
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(x)


def render(rows: Sequence[Mapping[str, Any]], fmt: str, *, meta: Mapping[str, Any] | None = None) -> str:
    """Render ``rows`` (dicts with the same keys) as ``fmt``; ``meta`` goes into JSON only."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "json":
        payload: Any = {**meta, "rows": list(rows)} if meta else list(rows)
        return dumps(payload, indent=2)
    cols = list(rows[0].keys()) if rows else []
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_csv_cell(r[c]) for c in cols])
        return buf.getvalue().rstrip("\n")
    cells = [[format_number(r[c]) for c in cols] for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in out)


def require_finite(obj: Any, where: str = "output") -> None:
    """Raise :class:`~biper_theory.cli.UsageError` naming the first NaN or ±inf in ``obj``.

    ``obj`` is a number, a numpy array or scalar, or nested dicts/lists of those. No command
    prints NaN or inf with exit status 0, and JSON has no spelling for them.
    """
    from . import UsageError

    def walk(x: Any, path: str) -> None:
        if isinstance(x, Mapping):
            for k, v in x.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(x, list | tuple):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif isinstance(x, float) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") == "f"):
            if hasattr(x, "size") and x.size != 1:
                for i, v in enumerate(x.reshape(-1).tolist()):
                    walk(v, f"{path}[{i}]")
                return
            v = float(x)
            if not math.isfinite(v):
                what = "not a number" if math.isnan(v) else "infinite"
                raise UsageError(f"{where}: {path} is {what}; refusing to report it")

    walk(obj, "")


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON: :func:`require_finite` first, then ``json.dumps(allow_nan=False)``."""
    require_finite(obj)
    return json.dumps(obj, default=json_default, allow_nan=False, **kwargs)


def _csv_cell(x: Any) -> str:
    return repr(float(x)) if isinstance(x, float) else str(x)


def json_default(x: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays become Python numbers and lists."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
