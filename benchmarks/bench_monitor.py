r"""Benchmark: cost of one :class:`~biper_theory.nn.monitor.QEMonitor` record per training epoch.

The epoch is one of the default ``biper-theory train`` run: digits (the training part after
the default 10 % validation hold-out), ``resnet-small``, ω₀ = 20, stage 1, batch 64, SGD with
momentum 0.9 and weight decay 5e-4, one intra-op thread. Two candidates are timed in turn
in turn, as ``train`` runs them (interleaved, so a change of load on the shared machine hits
both): the epoch, then ``monitor.record()``. The headline is ``(median epoch + median record) /
median epoch``; the same ratio of the minima is reported beside it.
"""

from __future__ import annotations

from typing import Any

from ._harness import Config, NotAvailable, Result, time_interleaved

__all__ = ["bench_monitor"]

_SEED = 20240401
_TARGET = 1.03


def bench_monitor(cfg: Config) -> Result:
    """Epoch time with one monitor record over the epoch time without."""
    try:
        import torch
        import torch.nn.functional as F
        from torch.utils.data import DataLoader, Subset
    except ImportError as exc:  # pragma: no cover - torch is in the nn extra
        raise NotAvailable("torch is not installed (pip install -e '.[nn]')") from exc
    from ._harness import require

    data = require("biper_theory.nn.data", "load_splits")
    models = require("biper_theory.nn.models", "build_model")
    monitor_mod = require("biper_theory.nn.monitor", "QEMonitor")

    res = Result(
        name="monitor",
        title="train epoch + QEMonitor record vs epoch (digits, resnet-small, 1 thread)",
        target=f"epoch with one record <= {_TARGET:.2f} x epoch",
        ratio_label="(epoch + record) / epoch",
    )
    train_set, _, _, info = data.load_splits("digits", split_seed=0, val_fraction=0.1)
    if cfg.quick:
        train_set = Subset(train_set, range(256))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = models.build_model(
            "resnet-small",
            num_classes=info["num_classes"],
            in_channels=info["in_channels"],
            omega0=20.0,
            stage=1,
            generator=torch.Generator().manual_seed(_SEED),
        )
        order = torch.Generator().manual_seed(_SEED)
        loader = DataLoader(train_set, batch_size=64, shuffle=True, drop_last=True, generator=order)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        monitor = monitor_mod.QEMonitor(model)

        def epoch() -> None:
            model.train()
            for x, y in loader:
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                opt.step()

        reps = cfg.repeats if cfg.quick else max(3 * cfg.repeats, 15)
        timings = time_interleaved({"epoch": epoch, "record": monitor.record}, repeats=reps)
    finally:
        torch.set_num_threads(threads)
    base, record = timings["epoch"], timings["record"]
    res.add("epoch", base, info=f"{len(loader)} steps of batch 64")
    res.add("record", record, info=f"{sum(p.numel() for p in _latent(model))} latent weights")
    res.ratio = (base.median_s + record.median_s) / base.median_s
    res.ratio_min = (base.min_s + record.min_s) / base.min_s
    res.met = res.ratio <= _TARGET
    res.notes.append(
        "the epoch and the record are timed in turn (one record after each epoch, as train does); "
        "the ratio adds their medians, which on a shared machine is steadier than timing the sum"
    )
    return res


def _latent(model: Any) -> list[Any]:
    from biper_theory.nn.layers import iter_biper_layers

    return [layer.weight for _, layer in iter_biper_layers(model)]
