r"""Benchmark 8: what a study trial costs, and how a study uses two cores.

1. **Epoch of a study trial vs a plain PyTorch loop.** One epoch of what a study trial runs
   (:func:`biper_theory.nn.train.train`: the BiPer model, the validation pass, the QE monitor
   record) against a plain loop written here that trains the full-precision twin of the same
   model (``build_model(..., full_precision=True)``) on the same batches (same training set,
   same sampler seed, batch size, SGD with momentum, weight decay and cosine schedule), one
   thread each, timed alternately so that a change of load hits both. Stage 1 and stage 2
   are both measured; the headline is the slower of the two.

   Both sides validate once per epoch. A study trial must (it picks its best epoch on the
   validation split, issue 13 item 2), and so does any plain loop that selects a model
   honestly, so the plain loop evaluates the twin on the same validation split with the
   same 512-image batches (eval mode, no autograd) as ``train`` does. The issue budgets the
   10 % for "recording the theory's quantities and the BiPer layers": the QE monitor record
   is counted on the study side only, and the BiPer layers' share of the validation pass
   stays in the ratio. (Until this change the plain loop only trained; that timed the
   validation pass, about 6 % of a study epoch, as if it were overhead of the theory.)

   Fashion-MNIST (a stratified training subset, stated in the details) in the full run, digits in ``--quick``.

   Both sides run under :func:`biper_theory.nn.heap.steady_heap`, as every ``study run``
   worker does (the plain loop, run in the same process, gets the same allocator). Why:
   the minor page faults per training step of the twin and of the BiPer model, with glibc's
   default heuristics and with ``steady_heap``, are counted in fresh processes
   (``benchmarks/_step_faults.py``) and recorded in the details.
2. **Workers × threads.** Wall time of the same ``biper-theory study run`` (digits, 2 ω₀ ×
   2 seeds) with 2 worker processes × 1 thread and with 1 worker × 2 threads, as trials per
   hour; the acceptance run (1 epoch) must finish in ≤ 120 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from ._harness import Config, NotAvailable, Result, Timing, require
from ._step_faults import child_env

__all__ = ["bench_study"]

_REPO = Path(__file__).resolve().parents[1]


def _plain_epoch(config: Any) -> float:
    """Seconds of one epoch of a plain loop training the full-precision twin on the same batches,
    with the per-epoch validation pass that honest model selection needs (as ``train`` runs it)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from biper_theory.nn.data import load_splits
    from biper_theory.nn.models import build_model
    from biper_theory.nn.train import derived_seeds, deterministic_torch

    train_set, val_set, _, info = load_splits(
        config.dataset,
        data_dir=config.data_dir,
        split_seed=config.split_seed,
        val_fraction=config.val_fraction,
        train_subset=config.train_subset,
    )
    build_seed, _, data_seed = derived_seeds(config.seed)
    model = build_model(
        config.arch,
        num_classes=int(info["num_classes"]),
        in_channels=int(info["in_channels"]),
        omega0=config.omega0,
        stage=1,
        full_precision=True,
        generator=torch.Generator().manual_seed(build_seed),
    )
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(data_seed),
        drop_last=len(train_set) > config.batch_size,
    )
    val_loader = None if val_set is None else DataLoader(val_set, batch_size=512)  # train's eval batches
    opt = torch.optim.SGD(
        model.parameters(), lr=config.effective_lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(loader))
    with deterministic_torch(config.num_threads):  # the global torch settings train() runs under
        t0 = time.perf_counter()
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if val_loader is not None:
            model.eval()
            correct = total = 0.0
            with torch.no_grad():
                for x, y in val_loader:
                    logits = model(x)
                    total += float(F.cross_entropy(logits, y, reduction="sum"))
                    correct += float((logits.argmax(1) == y).sum())
        return time.perf_counter() - t0


def _study_epoch(config: Any) -> tuple[float, float]:
    """Seconds of one epoch of a study trial (training, validation, monitor) and of its monitor record."""
    from biper_theory.nn.train import train

    with warnings.catch_warnings():  # stage 2 from scratch: same cost per epoch as warm-started
        warnings.simplefilter("ignore", UserWarning)
        result = train(config)
    row = result.epochs[-1]
    return float(row["seconds"]), float(row.get("monitor_s", 0.0))


def _step_faults() -> dict[str, dict[str, float]]:
    """Page faults and seconds per training step, twin and BiPer, glibc default vs ``steady_heap``
    (each case a fresh process: the setting cannot be undone)."""
    env = child_env()
    out: dict[str, dict[str, float]] = {}
    for heap in ("default", "steady"):
        for model in ("twin", "stage1", "stage2"):
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks._step_faults", model, heap],
                capture_output=True, text=True, check=True, env=env, cwd=_REPO,
            )  # fmt: skip
            out[f"{model}, {heap} heap"] = json.loads(proc.stdout)
    return out


def _study_run_seconds(workers: int, threads: int, epochs: int, data: tuple[str, ...] = ("digits",)) -> float:
    """Wall time of a fresh study (2 ω₀ × 2 seeds) with ``workers`` × ``threads``; ``data`` is
    the dataset and its options (``--dataset`` value first)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        argv = [
            sys.executable, "-m", "biper_theory", "study", "run", "--storage", str(Path(tmp) / "s.db"),
            "--name", "bench", "--dataset", *data, "--epochs", str(epochs), "--omega0", "2", "20",
            "--seeds", "0", "1", "--workers", str(workers), "--num-threads", str(threads),
        ]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"study run exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    return wall


def bench_study(cfg: Config) -> Result:
    """Epoch of a study trial vs a plain full-precision loop; workers × threads; trials per hour."""
    require("optuna")
    train_mod = require("biper_theory.nn.train", "TrainConfig", "train")
    require("biper_theory.nn.data", "load_splits")
    heap = require("biper_theory.nn.heap", "steady_heap")
    steady = heap.steady_heap()  # what every study worker runs under
    base: dict[str, Any]
    if cfg.quick:
        base = {"dataset": "digits"}
        repeats, epochs_run = 1, 0
    else:
        if not Path("/usr/share/datasets/fashion-mnist").is_dir():
            raise NotAvailable(
                "Fashion-MNIST IDX files not installed (apt-get install dataset-fashion-mnist)"
            )
        base = {"dataset": "fashion-mnist", "train_subset": 6000}
        repeats, epochs_run = max(5, cfg.repeats), 3
    res = Result(
        name="study",
        title=f"study trial epoch vs plain FP loop ({base['dataset']}"
        + (f", {base['train_subset']}-image subset" if "train_subset" in base else "")
        + ", 1 thread); workers x threads",
        target="trial epoch <= 1.10 x plain full-precision loop; digits 2x2x1-epoch study <= 120 s",
        ratio_label="study-trial epoch / plain FP-twin epoch (slower stage)",
    )
    ratios: dict[str, float] = {}
    ratios_min: dict[str, float] = {}
    monitor: dict[str, float] = {}
    pairs: dict[str, dict[str, float]] = {}  # study / plain within each alternating pair
    for stage in (1, 2):
        config = train_mod.TrainConfig(
            **base, omega0=20.0, stage=stage, epochs=1, progress=False, num_threads=1
        )
        samples: dict[str, list[float]] = {"study": [], "plain": []}
        mon: list[float] = []
        _plain_epoch(config)  # warm-up (imports, data cache)
        for _ in range(repeats):
            s, m = _study_epoch(config)
            samples["study"].append(s)
            mon.append(m)
            samples["plain"].append(_plain_epoch(config))
        t_s, t_p = Timing.of(samples["study"]), Timing.of(samples["plain"])
        ratios[f"stage {stage}"] = t_s.median_s / t_p.median_s
        ratios_min[f"stage {stage}"] = t_s.min_s / t_p.min_s
        paired = Timing.of([st / pl for st, pl in zip(samples["study"], samples["plain"], strict=True)])
        pairs[f"stage {stage}"] = {"min": paired.min_s, "median": paired.median_s, "max": paired.max_s}
        monitor[f"stage {stage}"] = sum(mon) / len(mon)
        res.add(f"plain loop, full-precision twin (reference), stage {stage}", t_p, info="per epoch")
        res.add(
            f"study trial epoch, stage {stage}",
            t_s,
            info=f"per epoch, {t_s.median_s / t_p.median_s:.3f} x reference (pairs "
            f"{paired.min_s:.3f}-{paired.max_s:.3f}); monitor record {sum(mon) / len(mon):.3f} s",
        )
    worst = max(ratios, key=lambda k: ratios[k])
    res.ratio, res.ratio_min = ratios[worst], ratios_min[worst]

    runs: dict[str, dict[str, float]] = {}
    if cfg.quick:  # the two-worker study run is a test (tests/test_cli_study.py); here only the epoch
        res.met = None
        res.details = {
            "data": base,
            "ratios": ratios,
            "ratios_of_minima": ratios_min,
            "ratios_of_alternating_pairs": pairs,
            "monitor_record_s": monitor,
            "steady_heap": steady,
        }
        res.notes.append(
            "--quick: digits epoch only (not judged); workers x threads are measured in the full run"
        )
        return res
    faults = _step_faults()
    for key, row in faults.items():
        res.add(
            f"training step, {key}",
            Timing.of([row["seconds_per_step"]]),
            info=f"{row['faults_per_step']:.0f} minor page faults per step (fresh process, 30 steps)",
        )
    fashion = ("fashion-mnist", "--train-subset", str(base["train_subset"]))
    fashion_runs: dict[str, dict[str, float]] = {}
    for workers, threads in ((2, 1), (1, 2)):
        key = f"{workers} workers x {threads} threads"
        wall = _study_run_seconds(workers, threads, epochs_run)
        runs[key] = {"wall_s": wall, "trials_per_hour": 4 * 3600.0 / wall}
        res.add(
            f"digits study 2x2, {epochs_run} epoch(s), {key}",
            Timing.of([wall]),
            info=f"{4 * 3600 / wall:.0f} trials/h",
        )
        wall = _study_run_seconds(workers, threads, 1, fashion)
        fashion_runs[key] = {"wall_s": wall, "trials_per_hour": 4 * 3600.0 / wall}
        res.add(
            f"Fashion-MNIST study 2x2, {base['train_subset']}-image subset, 1 epoch, {key}",
            Timing.of([wall]),
            info=f"{4 * 3600 / wall:.0f} trials/h",
        )
    best = min(runs, key=lambda k: runs[k]["wall_s"])
    best_fashion = min(fashion_runs, key=lambda k: fashion_runs[k]["wall_s"])
    accept = _study_run_seconds(*((2, 1) if best.startswith("2") else (1, 2)), 1)
    res.add(f"acceptance: digits study 2x2, 1 epoch, {best}", Timing.of([accept]), info="target <= 120 s")
    res.met = res.ratio <= 1.10 and accept <= 120.0
    res.details = {
        "data": base,
        "ratios": ratios,
        "ratios_of_minima": ratios_min,
        "ratios_of_alternating_pairs": pairs,
        "monitor_record_s": monitor,
        "steady_heap": steady,
        "page_faults_per_step": faults,
        "workers_x_threads": runs,
        "faster": best,
        "fashion_workers_x_threads": fashion_runs,
        "fashion_faster": best_fashion,
        "acceptance_wall_s": accept,
        "torch_threads_per_trial": 1,
    }
    res.notes.append(
        f"{best} was faster on digits, {best_fashion} on Fashion-MNIST; both epochs include a "
        "validation pass; the study's also its monitor record"
    )
    return res
