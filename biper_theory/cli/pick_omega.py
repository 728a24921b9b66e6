"""``biper-theory pick-omega PATH``: weight law, measured QE and a recommended ω₀ for a model.

PATH is a biper-theory checkpoint, an official BiPer ``.pth.tar``, a plain state_dict (read
by :func:`biper_theory.nn.checkpoint.load_latent_weights`, which needs torch), or a
``.npy``/``.npz`` of weights (no torch: ``np.load(allow_pickle=False)``; ``.npz`` holds one
layer per key, ``.npy`` one layer named after the file). The science lives in
:mod:`biper_theory.weights` and :mod:`biper_theory.select`; this module parses, wires and
prints. Every check runs before anything is written, and files are written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from . import UsageError
from ._output import format_number, json_default

HELP = "fit trained latent weights, measure their QE, recommend ω₀"

#: criterion names (checked against biper_theory.select.CRITERIA in the tests).
CRITERION_NAMES = ("target-nqe", "target-sqnr", "avoid-peak", "min-qe-flip")
#: the target a bare number in --target sets, per criterion.
PRIMARY_TARGET = {
    "target-nqe": "nqe",
    "target-sqnr": "sqnr_db",
    "avoid-peak": "ratio",
    "min-qe-flip": "max_flip",
}
FORMATS = ("text", "json", "csv", "markdown")
#: default --fit-size: weights per layer the numerical fits (and auto's AIC comparison) see
FIT_SIZE = 2000
PLOT_FORMATS = ("png", "pdf", "svg")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path",
        metavar="PATH",
        help="checkpoint (biper-theory, official BiPer .pth.tar, plain state_dict) or .npy/.npz of weights",
    )
    p.add_argument(
        "--omega0", type=float, default=None, help="omega0 in use (required where the file does not say)"
    )
    p.add_argument(
        "--criterion",
        default="avoid-peak",
        help=f"how to pick omega0: {', '.join(CRITERION_NAMES)} (default avoid-peak; biper_theory.select)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="VALUE|KEY=VALUE",
        help="criterion target; a bare number sets "
        + ", ".join(f"{k} for {c}" for c, k in PRIMARY_TARGET.items())
        + "; also side=auto|above|below (avoid-peak), max_omega0=W (min-qe-flip); repeatable",
    )
    p.add_argument(
        "--law",
        default="auto",
        help="law fitted per layer whose quantities the criterion and the phase model use: auto (default: "
        "best of laplace, gaussian, gennorm, t by AIC per layer), laplace, gaussian, gennorm, t, empirical",
    )
    p.add_argument(
        "--fit-size",
        type=int,
        default=FIT_SIZE,
        metavar="M",
        help=f"fit gennorm, t (and compare all laws, for auto) on a seeded subsample of M weights per layer "
        f"(default {FIT_SIZE}; 0: all); laplace and gaussian fits always use every weight",
    )
    p.add_argument("--free-loc", action="store_true", help="fit with a free location (default: fixed at 0)")
    p.add_argument(
        "--format",
        type=lambda s: "text" if s == "table" else s,  # "table": the old name of "text"
        choices=FORMATS,
        default="text",
        help="text (default), json, csv (one row per layer, with the recommendation) or markdown",
    )
    p.add_argument("--out", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    p.add_argument("--output", "-o", dest="out", help=argparse.SUPPRESS)  # old spellings of --out
    p.add_argument("--plot", metavar="FILE", help="figure per layer (.png, .pdf or .svg), written atomically")
    p.add_argument("--per-channel", action="store_true", help="one row (fit, QE, omega0) per output channel")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="bootstrap CIs from N resamples (default 0: normal-approximation CIs from the full data)",
    )
    p.add_argument(
        "--boot-size", type=int, default=2000, metavar="M", help="bootstrap subsample size per layer"
    )
    p.add_argument("--confidence", type=float, default=0.95, help="level of the intervals (default 0.95)")
    p.add_argument(
        "--ks-size",
        type=int,
        default=2000,
        metavar="M",
        help="KS test on a seeded subsample of M weights per layer (default 2000; 0: all weights)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the KS subsample and the bootstrap")
    p.add_argument(
        "--exact", action="store_true", help="float64 throughout (default: sin, row sums in float32, ~1e-7)"
    )
    p.add_argument(
        "--scale-estimators",
        action="store_true",
        help="also report the centred (ReCU) scale mean|w - mean w| (a second pass over the weights)",
    )
    p.add_argument("--arch", default=None, help="architecture to check a checkpoint's layers against")


def _parse_targets(criterion: str, items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            key, value = PRIMARY_TARGET.get(criterion, "target"), item
        key = key.strip().replace("-", "_")
        value = value.strip()
        if key == "side":
            out[key] = value
            continue
        try:
            out[key] = float(value)
        except ValueError:
            raise UsageError(f"--target {item!r}: {key} must be a number") from None
    return out


def _load(args: argparse.Namespace) -> tuple[dict[str, Any], float, str, str]:
    """(layers, omega0, omega0 source, kind) from PATH."""
    path = Path(args.path)
    if path.suffix.lower() in (".npy", ".npz"):
        from biper_theory._io import read_weight_arrays

        layers = read_weight_arrays(path)
        if args.omega0 is None:
            raise UsageError(
                f"--omega0 is required for {path.suffix} input (the file does not record omega0)"
            )
        return layers, float(args.omega0), "--omega0", path.suffix.lower().lstrip(".")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise UsageError(f"{path} is not a regular file (a checkpoint, .npy or .npz is expected)")
    try:
        from biper_theory.nn.checkpoint import load_latent_weights
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"reading {path.suffix or 'this'} files needs torch ({exc}): pip install 'biper-theory[nn]'; "
            ".npy/.npz files need no torch"
        ) from exc

    # the weights as stored, mapped from the file (views, no copy: the analysis reads each
    # weight straight from the page cache, in its stored precision)
    lw = load_latent_weights(path, omega0=args.omega0, arch=args.arch, dtype=None, mmap=True)
    if not lw.layers:
        raise ValueError(f"{path}: no binarized layers found")
    return dict(lw.layers), float(lw.omega0), lw.omega0_source, lw.kind


def run(args: argparse.Namespace) -> int:

    from biper_theory import select, weights

    # ---- every argument check first: nothing is read or written before these pass ------
    if args.law not in select.LAW_CHOICES:
        raise UsageError(f"--law must be one of {', '.join(select.LAW_CHOICES)}; got {args.law!r}")
    if args.fit_size != 0 and args.fit_size < 2:
        raise UsageError(f"--fit-size must be 0 (all weights) or >= 2; got {args.fit_size}")
    if args.criterion not in select.CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(select.CRITERIA)}; got {args.criterion!r}")
    target = _parse_targets(args.criterion, args.target)
    select._check_target(args.criterion, target)
    if args.omega0 is not None and not (math.isfinite(args.omega0) and args.omega0 > 0):
        raise UsageError(f"--omega0 must be finite and in (0, inf); got {args.omega0!r}")
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap must be >= 0; got {args.bootstrap}")
    if args.boot_size < 2:
        raise UsageError(f"--boot-size must be >= 2; got {args.boot_size}")
    if args.ks_size != 0 and args.ks_size < 2:
        raise UsageError(f"--ks-size must be 0 (all weights) or >= 2; got {args.ks_size}")
    if not 0.0 < args.confidence < 1.0:
        raise UsageError(f"--confidence must be in (0, 1); got {args.confidence}")
    if args.plot is not None:
        ext = Path(args.plot).suffix.lower().lstrip(".")
        if ext not in PLOT_FORMATS:
            raise UsageError(f"--plot FILE must end in one of .{', .'.join(PLOT_FORMATS)}; got {args.plot!r}")
    # the outputs too, before any reading: a mistyped path fails at once, not after the analysis
    from biper_theory._io import check_output_file

    for option, value in (("--out", args.out), ("--plot", args.plot)):
        if value is not None:
            check_output_file(value, what=option)
    same = args.out is not None and args.plot is not None
    if same and Path(args.out).resolve() == Path(args.plot).resolve():
        raise UsageError("--out and --plot name the same file")

    # ---- read, check, analyse --------------------------------------------------------------
    raw, omega0, source, kind = _load(args)
    for name, w in raw.items():  # a fit, a spread and an interval need two weights at least
        size = int(getattr(w, "size", 0))
        per = size // max(int(w.shape[0]), 1) if args.per_channel and getattr(w, "ndim", 0) >= 2 else size
        if size and per < 2:
            unit = "each output channel" if args.per_channel else "it"
            plural = "" if per == 1 else "s"
            raise UsageError(f"layer {name!r} has {per} weight{plural} in {unit}; need at least 2")
    analyses = weights.analyze_layers(
        raw,
        omega0=omega0,
        fix_loc=not args.free_loc,
        per_channel=args.per_channel,
        n_boot=args.bootstrap,
        boot_size=args.boot_size,
        ks_size=args.ks_size or None,
        confidence=args.confidence,
        rng=args.seed,
        exact=args.exact,
        centred_scale=args.scale_estimators,
    )
    units = _units(analyses, args.per_channel)
    fitted, phases = _laws_and_phases(raw, units, omega0, args)
    counts = {u: int(an.empirical.n) for u, (an, _) in units.items()}
    rec = select.recommend(fitted, args.criterion, law=args.law, omega0=omega0, counts=counts, **target)

    meta = {
        "path": str(args.path),
        "kind": kind,
        "omega0": omega0,
        "omega0_source": source,
        "law": args.law,
        "law_fit": _LAW_FIT_NOTE.format(m=args.fit_size or "all"),
        "phase_test": _phase_test(),
        "fit": weights._ESTIMATORS[("laplace", not args.free_loc)],
        "criterion": args.criterion,
        "target": rec.target,
        "recommended_omega0": rec.omega0,
        "explanation": rec.explanation,
        "binding_layer": rec.binding_layer,
        "ci": f"{args.confidence:.0%} "
        + (
            f"{weights.CI_BOOTSTRAP}; {args.bootstrap} resamples, m <= {args.boot_size}"
            if args.bootstrap > 0
            else weights.CI_NORMAL
        ),
        "ks_note": weights.KS_NOTE,
        "precision": "float64"
        if args.exact
        else "float32 (sin, and sums over rows of <= 8192 float32 weights, rows added in float64; "
        "relative error ~1e-7; --exact for float64)",
        "per_channel": bool(args.per_channel),
    }
    text = _render(units, rec, meta, args.format, fitted, phases)

    # ---- write: the figure first (it can fail on a bad path), then the report ------------
    if args.plot is not None:
        _plot(raw, analyses, rec, omega0, Path(args.plot), fitted)
    if args.out is not None:
        from biper_theory._io import atomic_write

        atomic_write(args.out, text + "\n")
    else:
        print(text)
    return 0


_LAW_FIT_NOTE = (
    "maximum likelihood (scipy.stats <law>.fit, loc fixed at 0 unless --free-loc) per layer; laplace and "
    "gaussian on every weight, gennorm, t and empirical on a seeded subsample of {m} weights; auto: the "
    "lowest AIC of laplace, gaussian, gennorm, t on that subsample (k counts shape, scale and a free loc)"
)


def _phase_test() -> str:
    from biper_theory.phase import TEST

    return TEST


def _unit_weights(
    raw: dict[str, Any], units: dict[str, tuple[Any, int]], per_channel: bool
) -> dict[str, Any]:
    """Report unit -> its flat weights (a layer, or one output channel's row)."""
    import numpy as np

    out = {}
    for u, (an, i) in units.items():
        w = np.asarray(raw[an.name])
        out[u] = w.reshape(w.shape[0], -1)[i] if per_channel else w.reshape(-1)
    return out


def _laws_and_phases(
    raw: dict[str, Any], units: dict[str, tuple[Any, int]], omega0: float, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per unit: the law ``--law`` fitted (or chosen by AIC) and the phase statistics against it."""
    from biper_theory import phase, select

    fitted, phases = {}, {}
    for u, w in _unit_weights(raw, units, args.per_channel).items():
        law = select.fit_layer_law(
            w, args.law, fix_loc=not args.free_loc, fit_size=args.fit_size or None, rng=args.seed
        )
        fitted[u] = law
        phases[u] = phase.phase_statistics(w, omega0=omega0, law=law)
    return fitted, phases


def _units(analyses: dict[str, Any], per_channel: bool) -> dict[str, tuple[Any, int]]:
    """Report unit name -> (analysis, index): one per layer, or one per output channel."""
    out: dict[str, tuple[Any, int]] = {}
    for name, an in analyses.items():
        if per_channel:
            for c in range(an.b.size):
                out[f"{name}[{c}]"] = (an, c)
        else:
            out[name] = (an, 0)
    return out


def _at(x: Any, i: int) -> float:
    """Entry i of a per-channel array, or the value of a whole layer's 0-d one."""
    return float(x if getattr(x, "ndim", 0) == 0 else x.reshape(-1)[i])


def _law_block(law: Any, omega0: float) -> dict[str, Any]:
    """The fitted law of one unit: name, parameters, fit record, its eight quantities at ω₀."""
    return {
        "name": law.name,
        "params": law.params,
        "loc": law.loc,
        "n_params": law.n_params,
        "n_fit": law.n,
        "loglik": law.loglik,
        "aic": law.aic,
        "ks_statistic": law.ks_statistic,
        "ks_pvalue_optimistic": law.ks_pvalue,
        "x": float(law.dimensionless(omega0)),
        "quantities": {k: float(v) for k, v in law.quantities(omega0=omega0).as_dict().items()},
    }


_PHASE_KEYS = ("crest_share", "crest_share_model", "cos2_mean", "cos2_mean_model", "p_value")


def _detail_row(unit: str, an: Any, i: int, rec: Any) -> dict[str, Any]:
    fits = an.fits

    def law(f: Any) -> dict[str, Any]:
        return {
            "loc": _at(f.loc, i),
            "scale": _at(f.scale, i),
            "scale_se": _at(f.scale_se, i),
            "loglik": _at(f.loglik, i),
            "aic": _at(f.aic, i),
            "ks_statistic": _at(f.ks_statistic, i),
            "ks_pvalue_optimistic": _at(f.ks_pvalue, i),
            "ks_n": f.ks_n,
        }

    emp = an.empirical
    lr = rec.per_layer[unit]
    return {
        "layer": unit,
        "shape": list(an.shape),
        "n": emp.n,
        "b_hat": _at(an.b, i),
        "b_se": _at(fits.laplace.scale_se, i),
        "a": _at(an.a, i),
        "laplace": law(fits.laplace),
        "gaussian": law(fits.gaussian),
        "delta_aic": _at(fits.delta_aic, i),
        "verdict": str(fits.verdict.reshape(-1)[i]),
        "scale_estimators": {k: _at(v, i) for k, v in an.scales.items()},
        "model_laplace": {k: _at(v, i) for k, v in an.model.as_dict().items()},
        "model_gaussian": {k: _at(v, i) for k, v in an.gaussian_model.as_dict().items()},
        "empirical": {
            k: {"value": _at(v, i), "ci": [_at(emp.ci[k][0], i), _at(emp.ci[k][1], i)]}
            for k, v in emp.as_dict().items()
        },
        "recommended_omega0": lr.omega0,
        "explanation": lr.explanation,
    }


def _render(
    units: dict[str, tuple[Any, int]],
    rec: Any,
    meta: dict[str, Any],
    fmt: str,
    fitted: dict[str, Any],
    phases: dict[str, Any],
) -> str:
    from ._output import render, require_finite

    details = []
    for u, (an, i) in units.items():
        d = _detail_row(u, an, i, rec)
        d["law"] = _law_block(fitted[u], meta["omega0"])
        d["phase"] = {k: phases[u].as_dict()[k] for k in _PHASE_KEYS}
        details.append(d)
    for d in details:  # e.g. weights all of one magnitude: measured QE 0, SQNR +inf
        require_finite(d, f"layer {d['layer']!r}")
    require_finite(meta, "recommendation")
    if fmt == "json":
        # the header indented, one row per line: json's C encoder (no indent) writes the rows,
        # ~10x faster than its indenting pure-Python one on a model's ~100 numbers per layer
        rows = ",\n".join("    " + json.dumps(d, default=json_default, allow_nan=False) for d in details)
        head = json.dumps({**meta, "rows": None}, indent=2, default=json_default, allow_nan=False)
        return head[: -len("null\n}")] + "[\n" + rows + "\n  ]\n}"
    flat = []
    for d in details:
        e = d["empirical"]
        flat.append(
            {
                "layer": d["layer"],
                "n": d["n"],
                "b_hat": d["b_hat"],
                "fit": d["verdict"],
                "a": d["a"],
                "model_qe": d["model_laplace"]["quantization_error"],
                "emp_qe": e["quantization_error"]["value"],
                "emp_qe_lo": e["quantization_error"]["ci"][0],
                "emp_qe_hi": e["quantization_error"]["ci"][1],
                "l1_qe": e["l1_quantization_error"]["value"],
                "past_half": e["share_past_half_period"]["value"],
                "law": d["law"]["name"],
                "law_qe": d["law"]["quantities"]["quantization_error"],
                **{f"phase_{k}" if k == "p_value" else k: v for k, v in d["phase"].items()},
                "omega0_rec": d["recommended_omega0"],
            }
        )
    if fmt == "csv":  # the global recommendation and its criterion on every row
        rec_cols = {
            "recommended_omega0": rec.omega0,
            "criterion": rec.criterion,
            "binding_layer": rec.binding_layer,
        }
        return render([{**r, **rec_cols} for r in flat], "csv")
    shown = [
        {
            "layer": r["layer"],
            "n": str(r["n"]),
            "b_hat": format_number(r["b_hat"], 4),
            "fit": r["fit"],
            "a": format_number(r["a"], 4),
            "model_qe": format_number(r["model_qe"], 4),
            "emp_qe (CI)": "{} ({}-{})".format(
                *(format_number(r[k], 4) for k in ("emp_qe", "emp_qe_lo", "emp_qe_hi"))
            ),
            "l1_qe": format_number(r["l1_qe"], 4),
            "past_half": format_number(r["past_half"], 3),
            "law": r["law"],
            "law_qe": format_number(r["law_qe"], 4),
            "crest (model)": "{} ({})".format(
                *(format_number(r[k], 3) for k in ("crest_share", "crest_share_model"))
            ),
            "cos2 (model)": "{} ({})".format(
                *(format_number(r[k], 3) for k in ("cos2_mean", "cos2_mean_model"))
            ),
            "phase_p": format_number(r["phase_p_value"], 2),
            "omega0_rec": format_number(r["omega0_rec"], 4),
        }
        for r in flat
    ]
    table = render(shown, "markdown" if fmt == "markdown" else "text")
    lines = [
        f"{meta['path']} ({meta['kind']}): omega0 = {format_number(meta['omega0'], 6)} "
        f"from {meta['omega0_source']}",
        table,
        "",
        f"recommended omega0 = {format_number(rec.omega0, 5)} ({rec.criterion}, {rec.law} law, "
        + ", ".join(f"{k}={v}" for k, v in rec.target.items())
        + ")",
        f"  {rec.explanation}",
        f"fit: {meta['fit']}; fit = Laplace-vs-Gaussian verdict by AIC (2-unit threshold)",
        f"model_qe: paper's QE* (eq. 7-8) at a = b_hat*omega0; emp_qe: measured, {meta['ci']}",
        "l1_qe: 1 - mean|sin(omega0 w)| (the official code's QE); past_half: share with |omega0 w| > pi/2",
        f"law ({meta['law']}): {meta['law_fit']}; law_qe: QE* under it",
        "crest: share with |sin(omega0 w)| > 0.9; cos2: mean of cos(2 omega0 w) = 1 - 2 E w_hat^2; "
        f"(model) under the law; phase_p: {meta['phase_test']}",
        f"{meta['ks_note']}; arithmetic: {meta['precision']}",
    ]
    return "\n".join(lines)


def _plot(
    layers: dict[str, Any],
    analyses: dict[str, Any],
    rec: Any,
    omega0: float,
    path: Path,
    fitted: dict[str, Any],
) -> None:
    """Draw :func:`biper_theory.figures.pick_omega_panels` and write it atomically to ``path``."""
    from matplotlib.figure import Figure

    from biper_theory import figures

    # the phase panel compares each layer with its own law (drawn per layer, not per channel)
    layer_laws = {k: fitted[k] for k in layers if k in fitted}
    fig = Figure(
        figsize=figures.pick_omega_figsize(len(layers), columns=3 if layer_laws else 2), layout="constrained"
    )
    figures.pick_omega_panels(layers, analyses, rec, omega0=omega0, fig=fig, laws=layer_laws or None)
    figures.save_figure(fig, path, format=path.suffix.lower().lstrip("."))
