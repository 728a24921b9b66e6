"""A study's trials as a table: one row per run (per trial in a grid, per trial × seed in a search).

A read of the storage: every number comes from the trials' user attributes written by
:func:`biper_theory.study.engine.objective`; nothing is recomputed. Only COMPLETE trials are
exported (a failed or re-run trial appears once, through the run that completed).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "FIXED_COLUMNS",
    "export_rows",
    "read_rows",
    "rows_to_csv",
    "rows_to_json",
    "study_timing",
    "write_export",
]

#: The leading columns of every export, in order; the per-layer columns follow, named
#: ``stage<k>.<layer>.<field>`` with the fields of :data:`biper_theory.study.records.LAYER_FIELDS`.
FIXED_COLUMNS: tuple[str, ...] = (
    "trial",
    "omega0",
    "seed",
    "stage1_val_accuracy",
    "stage1_test_accuracy",
    "stage2_val_accuracy",
    "stage2_test_accuracy",
    "switch_val_accuracy",
    "switch_test_accuracy",
    "switch_stage1_val_accuracy",
    "switch_stage1_test_accuracy",
    "switch_drop_val",
    "switch_drop_test",
    "selection",
    "stage1_best_epoch",
    "stage2_best_epoch",
    "stage1_seconds",
    "stage2_seconds",
    "seconds",
    "dataset",
    "n_train",
)


def export_rows(study: Any) -> list[dict[str, Any]]:
    """The rows of ``study`` (an Optuna study made by ``study run``), sorted by ω₀, seed, trial."""
    from optuna.trial import TrialState

    rows: list[dict[str, Any]] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        for run in t.user_attrs.get("runs", []):
            rows.append(_row(t.number, run))
    rows.sort(key=lambda r: (r["omega0"], r["seed"], r["trial"]))
    return rows


def study_timing(study: Any) -> dict[str, Any]:
    """Wall time of the study's COMPLETE trials (first start to last end), busy time, trials per hour.

    From the storage's trial timestamps: ``wall_s`` spans all workers, ``busy_s`` is the sum of
    the trials' own durations (their ratio is the mean number of trials running at once).
    """
    from optuna.trial import TrialState

    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.datetime_start is not None and t.datetime_complete is not None
    ]
    if not done:
        return {"trials": 0, "wall_s": None, "busy_s": None, "trials_per_hour": None}
    wall = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    busy = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done)
    return {
        "trials": len(done),
        "wall_s": wall,
        "busy_s": busy,
        "trials_per_hour": len(done) * 3600.0 / wall if wall > 0 else None,
        "mean_trial_s": busy / len(done),
    }


def _row(number: int, run: Mapping[str, Any]) -> dict[str, Any]:
    s1, s2, sw = run["stage1"], run["stage2"], run["switch"]
    row: dict[str, Any] = {
        "trial": number,
        "omega0": run["omega0"],
        "seed": run["seed"],
        "stage1_val_accuracy": s1["val_accuracy"],
        "stage1_test_accuracy": s1["test_accuracy"],
        "stage2_val_accuracy": s2["val_accuracy"],
        "stage2_test_accuracy": s2["test_accuracy"],
        "switch_val_accuracy": sw["val_accuracy"],
        "switch_test_accuracy": sw["test_accuracy"],
        "switch_stage1_val_accuracy": sw["stage1_forward_val_accuracy"],
        "switch_stage1_test_accuracy": sw["stage1_forward_test_accuracy"],
        "switch_drop_val": sw["drop_val"],
        "switch_drop_test": sw["drop_test"],
        "selection": run.get("selection"),
        "stage1_best_epoch": s1["best_epoch"],
        "stage2_best_epoch": s2["best_epoch"],
        "stage1_seconds": s1["seconds"],
        "stage2_seconds": s2["seconds"],
        "seconds": run["seconds"],
        "dataset": run.get("dataset"),
        "n_train": run.get("n_train"),
    }
    for stage, rec in (("stage1", s1), ("stage2", s2)):
        for layer, fields in rec["layers"].items():
            for name, value in fields.items():
                row[f"{stage}.{layer}.{name}"] = value
    return row


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols = list(FIXED_COLUMNS)
    seen = set(cols)
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text with a header; missing values are empty cells, floats in full precision (``repr``)."""
    buf = io.StringIO()
    cols = _columns(rows)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else _cell(r[c]) for c in cols])
    return buf.getvalue()


def _cell(v: Any) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"export: non-finite value {v!r}")
        return repr(v)
    return str(v)


def rows_to_json(rows: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any] | None = None) -> str:
    """Strict JSON (no NaN): ``{"meta": ..., "columns": [...], "rows": [...]}``."""
    doc = {"meta": dict(meta or {}), "columns": _columns(rows), "rows": [dict(r) for r in rows]}
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def read_rows(text: str, fmt: str) -> list[dict[str, Any]]:
    """Read back what :func:`rows_to_csv` or :func:`rows_to_json` wrote (numbers as numbers)."""
    if fmt == "json":
        return [dict(r) for r in json.loads(text)["rows"]]
    if fmt != "csv":
        raise ValueError(f"format must be 'csv' or 'json'; got {fmt!r}")
    out = []
    for raw in csv.DictReader(io.StringIO(text)):
        out.append({k: _parse(v) for k, v in raw.items()})
    return out


def _parse(v: str) -> Any:
    """A CSV cell as int, else float, else the string itself (empty: None)."""
    if v == "":
        return None
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(v)
    return v


def write_export(study: Any, fmt: str, *, meta: Mapping[str, Any] | None = None) -> str:
    """The export of ``study`` as text in ``fmt`` (``"csv"`` or ``"json"``)."""
    rows = export_rows(study)
    if fmt == "csv":
        return rows_to_csv(rows)
    if fmt == "json":
        return rows_to_json(rows, meta=meta)
    raise ValueError(f"format must be 'csv' or 'json'; got {fmt!r}")
