"""``biper-theory study run|export|report``: ω₀ studies on Optuna (parsing and printing only).

The engine is :mod:`biper_theory.study`; Optuna and torch are imported only when a study
subcommand runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import UsageError

HELP = "ω₀ studies on Optuna: run a grid or search, export, report"

_STORAGE_HELP = "Optuna storage URL or SQLite file path (default sqlite:///runs/studies.db)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="study_command", metavar="ACTION", parser_class=type(p))
    run = sub.add_parser("run", help="train the study's trials (resumable; run it again to continue)")
    run.add_argument("--storage", default=None, help=_STORAGE_HELP)
    run.add_argument("--name", required=True, help="study name")
    run.add_argument(
        "--omega0",
        type=float,
        nargs="+",
        required=True,
        help="grid of ω₀ values (with --search: LOW HIGH of the log range)",
    )
    run.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default 0)")
    run.add_argument("--search", action="store_true", help="search ω₀ with Optuna's TPE sampler")
    run.add_argument("--n-trials", type=int, default=None, help="with --search: how many ω₀ to try")
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes on this machine (default: one per usable CPU core / --num-threads)",
    )
    run.add_argument(
        "--dataset", default="digits", help="digits (default), fashion-mnist, mnist, cifar10, ..."
    )
    run.add_argument("--arch", default=None, help="architecture (default resnet-small)")
    run.add_argument("--epochs", type=int, default=None, help="epochs per stage (default 20)")
    run.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.1 / 0.01)")
    run.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 64)")
    run.add_argument("--weight-decay", type=float, default=None, help="SGD weight decay (default 5e-4)")
    run.add_argument("--init", default=None, help="latent-weight init (default kaiming-normal)")
    run.add_argument("--init-b", type=float, default=None, help="Laplace scale b of --init laplace")
    run.add_argument("--act-norm", choices=("off", "scale", "standardize"), default=None)
    run.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    run.add_argument("--device", default=None, help="cpu (default), cuda or cuda:N")
    run.add_argument("--num-threads", type=int, default=None, help="CPU threads per worker (default 1)")
    run.add_argument(
        "--val-fraction", type=float, default=None, help="validation share of the training files"
    )
    run.add_argument("--split-seed", type=int, default=None, help="seed of the validation split")
    run.add_argument(
        "--train-subset", type=int, default=None, help="train on a stratified subset of N images"
    )

    exp = sub.add_parser("export", help="one row per trial (and seed), CSV or JSON")
    exp.add_argument("--storage", default=None, help=_STORAGE_HELP)
    exp.add_argument("--name", required=True, help="study name")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("--out", default=None, help="file to write (default: standard output)")

    rep = sub.add_parser("report", help="table, figure and statistics (JSON) of a study")
    rep.add_argument("--storage", default=None, help=_STORAGE_HELP)
    rep.add_argument("--name", default=None, help="study name (or give --from an export)")
    rep.add_argument("--from", dest="from_file", default=None, help="an export file (.csv or .json) instead")
    rep.add_argument(
        "--reference", type=float, default=None, help="reference ω₀ of paired differences (default 20)"
    )
    rep.add_argument(
        "--accuracy",
        choices=("test", "val"),
        default="test",
        help="which stage-2 accuracy to analyse (default test, at the validation-chosen epoch)",
    )
    rep.add_argument(
        "--out", default=None, help="folder for report.json and the figure (default: print only)"
    )
    rep.add_argument("--format", choices=("text", "json"), default="text")


_TRAIN_OPTIONS = {
    "arch": "arch",
    "epochs": "epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "weight_decay": "weight_decay",
    "init": "init",
    "init_b": "init_b",
    "data_dir": "data_dir",
    "device": "device",
    "num_threads": "num_threads",
    "val_fraction": "val_fraction",
    "split_seed": "split_seed",
    "train_subset": "train_subset",
}


def _train_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    from biper_theory.nn.train import TrainConfig

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    kw: dict[str, Any] = {"dataset": args.dataset}
    for opt, key in _TRAIN_OPTIONS.items():
        value = getattr(args, opt)
        if value is None:
            continue
        if key not in fields:
            raise UsageError(f"--{opt.replace('_', '-')} is not supported by this version of train")
        kw[key] = value
    if args.act_norm is not None:
        kw["act_norm"] = False if args.act_norm == "off" else args.act_norm
    return kw


def _spec(args: argparse.Namespace) -> Any:
    from biper_theory.study import StudySpec

    for v in args.omega0:
        if not (math.isfinite(v) and v > 0):
            raise UsageError(f"--omega0 values must be finite and > 0; got {v:g}")
    if args.n_trials is not None and not args.search:
        raise UsageError("--n-trials only applies to --search")
    if args.search and args.n_trials is None:
        raise UsageError("--search needs --n-trials N")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1; got {args.workers}")
    if args.num_threads is not None and args.num_threads < 1:
        raise UsageError(f"--num-threads must be >= 1; got {args.num_threads}")
    spec = StudySpec(
        omega0=tuple(args.omega0),
        seeds=tuple(args.seeds),
        train=_train_kwargs(args),
        search=args.search,
        n_trials=args.n_trials,
    )
    spec.train_config(spec.omega0[0], spec.seeds[0])  # every training setting checked before anything runs
    return spec


def _default_workers(threads: int) -> int:
    """One worker per ``threads`` usable cores (the study's trials train on ``threads`` each).

    Both cores of the 2-core development machine are used this way (2 workers × 1 thread).
    Benchmark 8 compares 2 × 1 with 1 × 2; the thread count stays an explicit, stored training
    setting, because the bits of the trained weights can depend on it.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // threads)


def _worker(storage: str, name: str, spec_json: dict[str, Any], total: int | None) -> int:
    """Entry point of an extra worker process (spawned, so it imports everything afresh)."""
    from biper_theory.study.engine import StudySpec, print_trial, run_worker

    return run_worker(
        storage, name, StudySpec.from_json(spec_json), on_trial=lambda r: print_trial(r, total=total)
    )


def _engine() -> Any:
    """:mod:`biper_theory.study.engine`, or a one-line error naming the missing extra; Optuna's
    own log quieted (the study prints one line per trial instead)."""
    try:
        import optuna
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"biper-theory study needs Optuna ({exc}): pip install 'biper-theory[study]'"
        ) from exc
    try:
        from biper_theory.study import engine
    except ModuleNotFoundError as exc:
        raise UsageError(f"biper-theory study needs torch ({exc}): pip install 'biper-theory[nn]'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return engine


def _run(args: argparse.Namespace) -> int:
    engine = _engine()
    spec = _spec(args)
    storage = engine.resolve_storage(args.storage)
    study = engine.open_study(engine.open_storage(storage), args.name, spec)  # new, or spec checked
    total = len(spec.cells()) if not spec.search else spec.n_trials
    workers = args.workers if args.workers is not None else _default_workers(args.num_threads or 1)
    t0 = time.perf_counter()
    if workers == 1:
        ran = _worker(storage, args.name, spec.to_json(), total)
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers) as pool:
            jobs = [
                pool.apply_async(_worker, (storage, args.name, spec.to_json(), total)) for _ in range(workers)
            ]
            ran = sum(j.get() for j in jobs)
            pool.close()  # let the workers exit on their own (no leaked semaphores at shutdown)
            pool.join()
    from optuna.trial import TrialState

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    print(
        f"study {args.name!r}: ran {ran} trial(s) in {time.perf_counter() - t0:.1f} s "
        f"({workers} worker(s) x {args.num_threads or 1} thread(s)); "
        f"{done} complete, {failed} failed in the storage"
    )
    return 0


def _load(args: argparse.Namespace) -> Any:
    engine = _engine()
    storage = engine.resolve_storage(args.storage)
    if args.storage is not None and storage.startswith("sqlite"):
        path = Path(storage.split("://", 1)[1][1:].split("?", 1)[0])
        if not path.is_file():
            raise UsageError(f"storage: no SQLite file {str(path)!r}")
    return engine.open_study(engine.open_storage(storage), args.name)


def _export(args: argparse.Namespace) -> int:
    from biper_theory._io import atomic_write
    from biper_theory.study.engine import study_spec
    from biper_theory.study.export import study_timing, write_export

    if args.out is not None:
        out = Path(args.out)
        if out.is_dir():
            raise UsageError(f"--out {args.out!r} is a folder; give a file name")
    study = _load(args)
    meta = {
        "study": args.name,
        "spec": study_spec(study).to_json(),
        "timing": study_timing(study),
        "versions": _versions(),
    }
    text = write_export(study, args.format, meta=meta)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write(args.out, text)
        print(f"wrote {args.out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from biper_theory.study import report as rep

    if (args.name is None) == (args.from_file is None):
        raise UsageError("give either --name (with --storage) or --from EXPORT_FILE")
    if args.from_file is not None:
        path = Path(args.from_file)
        if not path.is_file():
            raise UsageError(f"--from: no file {args.from_file!r}")
        from biper_theory.study.export import read_rows

        fmt = "json" if path.suffix.lower() == ".json" else "csv"
        rows = read_rows(path.read_text(encoding="utf-8"), fmt)
        name = path.stem
    else:
        from biper_theory.study.export import export_rows

        rows = export_rows(_load(args))
        name = args.name
    result = rep.study_report(rows, reference=args.reference, accuracy=args.accuracy)
    if args.out is not None:
        paths = rep.write_report(result, rows, args.out, name=name)
        if args.format == "text":
            for p in paths:
                print(f"wrote {p}")
    if args.format == "json":
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print(rep.render_text(result))
    return 0


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("biper-theory", "torch", "optuna", "numpy", "scipy", "statsmodels", "sqlalchemy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "study_command", None)
    if action == "run":
        return _run(args)
    if action == "export":
        return _export(args)
    if action == "report":
        return _report(args)
    raise UsageError("give an action: biper-theory study run|export|report (see --help)")
