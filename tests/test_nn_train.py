"""Training loop: configuration checks, files, determinism, warm start, schedule, half-period report, CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import math
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="biper_theory.nn needs the optional torch extra")

from biper_theory import closed_form as cf  # noqa: E402
from biper_theory.cli import main  # noqa: E402
from biper_theory.nn.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from biper_theory.nn.data import load_splits  # noqa: E402
from biper_theory.nn.layers import iter_biper_layers  # noqa: E402
from biper_theory.nn.models import build_model  # noqa: E402
from biper_theory.nn.monitor import layer_records  # noqa: E402
from biper_theory.nn.train import (  # noqa: E402
    SCRATCH_STAGE2_WARNING,
    STAGE_LR,
    WARM_FROM_MEMORY,
    TrainConfig,
    TrainResult,
    half_period_report,
    state_dict_sha256,
    train,
    train_two_stage,
)

# one epoch of ~11 steps of resnet-small on digits
FAST: dict[str, Any] = {"epochs": 1, "progress": False, "batch_size": 128}


@pytest.fixture(scope="module")
def stage1(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A 2-epoch stage-1 run on digits, with its files (shared by several tests)."""
    out = tmp_path_factory.mktemp("stage1")
    return train(TrainConfig(**{**FAST, "epochs": 2}, out=str(out)))


# --------------------------------------------------------------------------------------------
# configuration


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"dataset": "imagenet"}, "dataset must be one of", id="dataset"),
        pytest.param({"arch": "vgg"}, "arch must be one of", id="arch"),
        pytest.param({"omega0": 0.0}, "omega0 must be", id="omega0-zero"),
        pytest.param({"omega0": math.nan}, "omega0 must be", id="omega0-nan"),
        pytest.param({"stage": 3}, "stage must be 1 or 2", id="stage-3"),
        pytest.param({"stage": True}, "stage must be 1 or 2", id="stage-bool"),
        pytest.param({"epochs": 0}, "epochs must be an integer >= 1", id="epochs-0"),
        pytest.param({"seed": -1}, "seed must be", id="seed-negative"),
        pytest.param({"batch_size": 0}, "batch_size must be", id="batch-0"),
        pytest.param({"lr": -0.1}, "lr must be", id="lr-negative"),
        pytest.param({"momentum": 1.0}, "momentum must be in", id="momentum-1"),
        pytest.param({"weight_decay": -1e-4}, "weight_decay must be", id="wd-negative"),
        pytest.param({"act_norm": "batch"}, "act_norm must be", id="act-norm"),
        pytest.param({"init": "xavier"}, "init must be one of", id="init"),
        pytest.param({"init": "laplace"}, "init_b", id="laplace-without-b"),
        pytest.param({"init_b": 0.05}, "init_b", id="b-without-laplace"),
        pytest.param({"full_precision": True, "stage": 2}, "full_precision", id="fp-stage-2"),
        pytest.param({"device": "tpu"}, "device must be", id="device"),
        pytest.param({"num_threads": 0}, "num_threads must be", id="threads-0"),
        pytest.param({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)", id="val-fraction-1"),
        pytest.param({"split_seed": -1}, "split_seed must be", id="split-seed-negative"),
        pytest.param({"train_subset": 3}, "train_subset must be", id="subset-3"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_learning_rate_defaults_follow_the_paper() -> None:
    assert (STAGE_LR[1], STAGE_LR[2]) == (0.1, 0.01)
    assert TrainConfig(stage=1).effective_lr == 0.1
    assert TrainConfig(stage=2).effective_lr == 0.01
    assert TrainConfig(full_precision=True).effective_lr == 0.1
    assert TrainConfig(stage=2, lr=0.3).effective_lr == 0.3
    assert TrainConfig(out=Path("x")).out == "x"  # paths are stored as str


# --------------------------------------------------------------------------------------------
# one run: files, schedule, accuracy


def test_run_writes_checkpoint_and_metrics(stage1: TrainResult) -> None:
    assert stage1.checkpoint is not None and stage1.metrics is not None
    sd, meta, kind = load_checkpoint(stage1.checkpoint)
    assert kind == "biper-theory"
    assert meta["omega0"] == 20.0 and meta["stage"] == 1 and meta["arch"] == "resnet-small"
    assert meta["dataset"] == "digits" and meta["seed"] == 0 and meta["epochs"] == 2
    assert meta["accuracy"] == stage1.test_accuracy_at_best
    assert meta["val_accuracy"] == stage1.best_val_accuracy and meta["best_epoch"] == stage1.best_epoch
    assert meta["config"] == dataclasses.asdict(stage1.config)
    assert state_dict_sha256(sd) == stage1.state_dict_sha256 == state_dict_sha256(stage1.model)  # type: ignore[arg-type]
    metrics = json.loads(Path(stage1.metrics).read_text())
    assert metrics == json.loads(json.dumps(stage1.to_dict()))
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert set(metrics["timings"]) == {"setup_s", "train_s", "eval_s", "test_s", "total_s"}
    assert all("test_accuracy" not in e and "test_loss" not in e for e in metrics["epochs"])  # test once


def test_checkpoint_reproduces_reported_accuracy(stage1: TrainResult) -> None:
    assert stage1.checkpoint is not None
    sd, meta, _ = load_checkpoint(stage1.checkpoint)
    model = build_model(meta["arch"], num_classes=meta["num_classes"], in_channels=meta["in_channels"])
    model.load_state_dict(sd)
    model.eval()
    _, _, test, _ = load_splits("digits", split_seed=meta["config"]["split_seed"], val_fraction=0.1)
    with torch.no_grad():
        acc = float((model(test.tensors[0]).argmax(1) == test.tensors[1]).double().mean())
    assert acc == pytest.approx(stage1.test_accuracy_at_best, abs=1e-12)
    assert stage1.test_accuracy_at_best > 0.5  # two epochs already learn digits (chance: 0.1)


def test_monitor_rows_every_epoch_and_at_the_kept_weights(stage1: TrainResult) -> None:
    overall = [row for row in stage1.monitor if row["layer"] == "overall"]
    assert [row["epoch"] for row in overall] == [0, 1, 2]
    assert overall[0]["flip_ratio"] is None and 0 < overall[1]["flip_ratio"] < 1
    assert stage1.model is not None
    skip = ("epoch", "step", "flip_ratio")
    at_best = [
        {k: v for k, v in r.items() if k not in skip}
        for r in stage1.monitor
        if r["epoch"] == stage1.best_epoch
    ]
    assert at_best == layer_records(stage1.model)  # the kept weights are the best epoch's
    assert stage1.metrics is not None
    assert json.loads(Path(stage1.metrics).read_text())["monitor"] == json.loads(json.dumps(stage1.monitor))
    assert all(0 <= e["monitor_s"] < e["seconds"] for e in stage1.epochs)
    off = train(TrainConfig(**FAST, monitor=False))
    assert off.monitor == [] and all("monitor_s" not in e for e in off.epochs)


def test_cosine_schedule_over_all_steps(stage1: TrainResult) -> None:
    # two equal epochs: lr at the start of epoch 2 is halfway down the cosine, lr0·(1 + cos(π/2))/2
    lr0 = stage1.config.effective_lr
    assert stage1.epochs[0]["lr"] == lr0
    assert stage1.epochs[1]["lr"] == pytest.approx(lr0 / 2, rel=1e-12)


# --------------------------------------------------------------------------------------------
# honest evaluation: validation picks the epoch, the test set is evaluated once


def _accuracy(model: Any, ds: Any) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(ds.tensors[0]).argmax(1) == ds.tensors[1]).double().mean())


def test_best_epoch_chosen_on_validation_and_its_weights_kept() -> None:
    r = train(TrainConfig(**{**FAST, "epochs": 3}, seed=1, split_seed=2))
    assert r.selection == "val" and r.model is not None
    val_acc = [e["val_accuracy"] for e in r.epochs]
    assert r.best_epoch == 1 + int(np.argmax(val_acc))  # argmax: the earliest of tied epochs
    assert r.best_val_accuracy == max(val_acc)
    _, val, test, info = load_splits("digits", split_seed=2, val_fraction=0.1)
    assert val is not None and r.dataset_info == info
    assert _accuracy(r.model, val) == pytest.approx(r.best_val_accuracy, abs=1e-12)  # best-epoch weights
    assert _accuracy(r.model, test) == pytest.approx(r.test_accuracy_at_best, abs=1e-12)


def test_without_validation_the_last_epoch_is_the_result() -> None:
    r = train(TrainConfig(**{**FAST, "epochs": 2}, val_fraction=0.0))
    assert (r.selection, r.best_epoch, r.best_val_accuracy) == ("last", 2, None)
    assert all("val_accuracy" not in e for e in r.epochs)
    assert r.dataset_info["n_val"] == 0


def test_split_seed_is_independent_of_seed() -> None:
    a = train(TrainConfig(**FAST, seed=3, split_seed=0))
    b = train(TrainConfig(**FAST, seed=4, split_seed=0))
    assert a.dataset_info == b.dataset_info and a.state_dict_sha256 != b.state_dict_sha256
    c = train(TrainConfig(**FAST, seed=3, split_seed=1))
    assert c.dataset_info["split_seed"] == 1 and c.state_dict_sha256 != a.state_dict_sha256


def test_switch_accuracy_is_the_binarized_stage1_model() -> None:
    res = train_two_stage(TrainConfig(**FAST), baseline=False)
    r1, r2 = res.stage1, res.stage2
    assert r1.model is not None and r1.switch_test_accuracy is None
    _, val, test, _ = load_splits("digits", split_seed=0, val_fraction=0.1)
    assert val is not None
    binary = build_model("resnet-small", num_classes=10, in_channels=1, stage=2)
    binary.load_state_dict(r1.model.state_dict())
    assert r2.switch_val_accuracy == pytest.approx(_accuracy(binary, val), abs=1e-12)
    assert r2.switch_test_accuracy == pytest.approx(_accuracy(binary, test), abs=1e-12)
    # the stage-1 forward of the same weights is the stage-1 result itself
    assert r2.switch_stage1_val_accuracy == r1.best_val_accuracy
    assert r2.switch_stage1_test_accuracy == r1.test_accuracy_at_best
    assert r2.switch_val_drop == pytest.approx(r1.best_val_accuracy - r2.switch_val_accuracy, abs=1e-15)
    assert r2.switch_test_drop == pytest.approx(r1.test_accuracy_at_best - r2.switch_test_accuracy, abs=1e-15)


def test_progress_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    train(TrainConfig(**{**FAST, "epochs": 2, "progress": True}))
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["stage1 epoch 1/2", "stage1 epoch 2/2"]
    assert all("val_acc" in line for line in err)


# --------------------------------------------------------------------------------------------
# determinism


def test_same_seed_same_weights_and_rng_untouched(stage1: TrainResult) -> None:
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    again = train(dataclasses.replace(stage1.config, out=None))
    assert again.state_dict_sha256 == stage1.state_dict_sha256
    assert again.epochs[-1]["train_loss"] == stage1.epochs[-1]["train_loss"]
    assert torch.equal(torch.get_rng_state(), state)  # global RNG neither used nor reseeded
    assert torch.get_num_threads() == threads  # restored


def test_settings_restored_and_weights_independent_of_the_nan_fill(
    stage1: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """train() turns off the NaN fill of fresh tensors for speed; no kernel reads unwritten memory,
    so forcing the fill back on (a NaN would propagate) gives bitwise the same weights."""
    import torch.utils.deterministic as det

    from biper_theory.nn import train as train_mod

    assert det.fill_uninitialized_memory and not torch.are_deterministic_algorithms_enabled()
    real = train_mod.deterministic_torch

    @contextlib.contextmanager
    def with_fill(num_threads: int) -> Iterator[None]:
        with real(num_threads):
            det.fill_uninitialized_memory = True
            yield

    monkeypatch.setattr(train_mod, "deterministic_torch", with_fill)
    again = train(dataclasses.replace(stage1.config, out=None))
    assert again.state_dict_sha256 == stage1.state_dict_sha256
    assert det.fill_uninitialized_memory and not torch.are_deterministic_algorithms_enabled()


def test_other_seed_other_weights() -> None:
    a = train(TrainConfig(**FAST, seed=1))
    b = train(TrainConfig(**FAST, seed=2))
    assert a.state_dict_sha256 != b.state_dict_sha256


def test_state_dict_hash_sees_one_bit() -> None:
    sd = {"w": torch.zeros(3), "b": torch.ones(2, dtype=torch.int64)}
    h = state_dict_sha256(sd)
    sd2 = {"w": torch.tensor([0.0, -0.0, 0.0]), "b": sd["b"]}  # -0.0 differs bitwise from 0.0
    assert h != state_dict_sha256(sd2)
    assert h == state_dict_sha256(dict(reversed(list(sd.items()))))  # order-independent


# --------------------------------------------------------------------------------------------
# warm start


def test_stage2_warm_start_from_checkpoint(stage1: TrainResult, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warm-started stage 2 raises no scratch warning
        r2 = train(TrainConfig(**FAST, stage=2, init_from=stage1.checkpoint, out=str(tmp_path)))
    assert r2.warm_start == stage1.checkpoint
    _, meta, _ = load_checkpoint(tmp_path / "checkpoint.pt")
    assert meta["warm_start"] == stage1.checkpoint
    assert r2.config.effective_lr == 0.01
    assert r2.half_period_init == stage1.half_period  # started exactly from the stage-1 latent weights
    assert r2.model is not None
    assert {layer.stage for _, layer in iter_biper_layers(r2.model)} == {2}


def test_stage2_without_init_from_warns_and_records_it(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="warm-starts stage 2") as record:
        r2 = train(TrainConfig(**FAST, stage=2, out=str(tmp_path)))
    assert [str(w.message) for w in record] == [SCRATCH_STAGE2_WARNING]
    assert record[0].filename == __file__  # points at the caller of train
    assert r2.warm_start is None
    _, meta, _ = load_checkpoint(tmp_path / "checkpoint.pt")
    assert meta["warm_start"] is None and meta["stage"] == 2
    assert json.loads((tmp_path / "metrics.json").read_text())["warm_start"] is None
    s1 = train(TrainConfig(**FAST))  # stage 1 from scratch is the recipe: no warning (none raised above)
    assert s1.warm_start is None


def test_warm_start_refuses_other_omega0(stage1: TrainResult) -> None:
    with pytest.raises(ValueError, match=r"omega0 = 20 but this run uses omega0 = 30"):
        train(TrainConfig(**FAST, stage=2, omega0=30.0, init_from=stage1.checkpoint))


def test_warm_start_refuses_other_arch(stage1: TrainResult) -> None:
    with pytest.raises(ValueError, match="architecture 'resnet-small' differs"):
        train(TrainConfig(**FAST, stage=2, arch="resnet18-cifar", init_from=stage1.checkpoint))


def test_warm_start_refuses_full_precision_checkpoint(tmp_path: Path) -> None:
    model = build_model("resnet-small", num_classes=10, in_channels=1, full_precision=True)
    path = save_checkpoint(tmp_path / "fp.pt", model, {"omega0": 20.0, "full_precision": True})
    with pytest.raises(ValueError, match="full-precision checkpoint"):
        train(TrainConfig(**FAST, stage=2, init_from=str(path)))


def test_warm_start_from_official_layout(stage1: TrainResult, tmp_path: Path) -> None:
    """An official-style ``.pth.tar`` (``module.`` keys, ω₀ only in config.txt) warm-starts stage 2."""
    assert stage1.model is not None
    sd = {f"module.{k}": v for k, v in stage1.model.state_dict().items()}
    path = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 2, "state_dict": sd, "best_prec1": 90.0}, path)
    with pytest.raises(ValueError, match="records no omega0"):
        train(TrainConfig(**FAST, stage=2, init_from=str(path)))
    (tmp_path / "config.txt").write_text("arch:  resnet-small\nfreq:  20.0\n")
    r2 = train(TrainConfig(**FAST, stage=2, init_from=str(path)))
    assert r2.half_period_init == stage1.half_period


# --------------------------------------------------------------------------------------------
# half-period report and initialisation


def test_half_period_report_exact_counts() -> None:
    omega0 = 20.0
    model = build_model("resnet-small", num_classes=10, in_channels=1, omega0=omega0)
    # |ω₀w| per weight cycles through c; past π/2: 2.0, 3.5, −2.0, −4.0 (4 of 6);
    # sign(sin c) ≠ sign(c): 3.5 (sin < 0) and −4.0 (sin > 0) (2 of 6). Every layer size is a multiple of 6.
    c = torch.tensor([0.5, 1.0, 2.0, 3.5, -2.0, -4.0], dtype=torch.float64)
    with torch.no_grad():
        for _, layer in iter_biper_layers(model):
            n = layer.weight.numel()
            assert n % 6 == 0
            layer.weight.copy_((c.repeat(n // 6) / omega0).reshape(layer.weight.shape))
    rep = half_period_report(model)
    assert rep is not None and rep["omega0"] == omega0
    rows = [rep["overall"], *rep["layers"].values()]
    assert len(rows) == 7
    a = 13.0 / 6.0  # mean |c|
    for row in rows:
        assert row["share_past_half_period"] == 4 / 6
        assert row["share_sign_flipped"] == 2 / 6
        assert row["a"] == pytest.approx(a, rel=1e-6)  # float32 weights
        assert row["laplace_share_past_half_period"] == pytest.approx(math.exp(-math.pi / (2 * a)), rel=1e-6)
        assert row["laplace_sign_flip_probability"] == pytest.approx(
            float(cf.sign_flip_probability(a=a)), rel=1e-6
        )


def test_half_period_report_none_for_full_precision() -> None:
    assert (
        half_period_report(build_model("resnet-small", num_classes=10, in_channels=1, full_precision=True))
        is None
    )


def test_laplace_init_matches_closed_form() -> None:
    """Laplace(0, b) init: shares at init agree with e^{-π/(2a)} and 1/(1+e^{π/a}) within k·SE."""
    b, omega0 = 0.06, 20.0
    r = train(TrainConfig(**FAST, init="laplace", init_b=b, omega0=omega0))
    init = r.half_period_init
    assert init is not None
    row = init["overall"]
    n = row["n"]
    a = b * omega0
    k = 5.0  # Monte-Carlo tolerance: |estimate − exact| < k·SE
    assert abs(row["b_mle"] - b) < k * b / math.sqrt(n)  # SE of mean|w| is b/√n
    for key, p in [
        ("share_past_half_period", math.exp(-math.pi / (2 * a))),
        ("share_sign_flipped", float(cf.sign_flip_probability(a=a))),
    ]:
        assert abs(row[key] - p) < k * math.sqrt(p * (1 - p) / n), key


# --------------------------------------------------------------------------------------------
# two stages


def test_train_two_stage(tmp_path: Path) -> None:
    res = train_two_stage(TrainConfig(**FAST), out=str(tmp_path))
    assert [r.config.label for r in res.runs()] == ["stage1", "stage2", "full-precision"]
    assert res.stage2.config.init_from == str(tmp_path / "stage1" / "checkpoint.pt")
    assert res.stage2.half_period_init == res.stage1.half_period
    assert res.stage2.warm_start == res.stage2.config.init_from and res.stage1.warm_start is None
    assert (res.stage1.config.effective_lr, res.stage2.config.effective_lr) == (0.1, 0.01)
    assert res.full_precision is not None and res.full_precision.half_period is None
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stage2"]["test_accuracy_at_best"] == res.stage2.test_accuracy_at_best
    for sub in ("stage1", "stage2", "full-precision"):
        assert (tmp_path / sub / "checkpoint.pt").is_file() and (tmp_path / sub / "metrics.json").is_file()
    _, meta, _ = load_checkpoint(tmp_path / "full-precision" / "checkpoint.pt")
    assert meta["full_precision"] is True


def test_two_stage_without_out_warm_starts_in_memory() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = train_two_stage(TrainConfig(**FAST), baseline=False)
    assert res.stage2.config.init_from is None and res.stage2.warm_start == WARM_FROM_MEMORY
    assert res.stage2.half_period_init == res.stage1.half_period
    assert res.full_precision is None


def test_two_stage_refuses_init_from() -> None:
    with pytest.raises(ValueError, match="sets full_precision and init_from itself"):
        train_two_stage(TrainConfig(**FAST), init_from="x.pt")


# --------------------------------------------------------------------------------------------
# command line


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_cli_two_stage_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--epochs", "1", "--batch-size", "128", "--no-baseline", "--no-progress"]
    assert run_cli([*argv, "--out", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)  # a short summary; the full data are in the files
    assert len(out["runs"]) == 2
    assert out["summary"] == str(tmp_path / "summary.json")
    full = json.loads((tmp_path / "summary.json").read_text())
    assert full["full_precision"] is None
    assert full["stage2"]["config"]["init_from"] == str(tmp_path / "stage1" / "checkpoint.pt")
    assert 0.0 <= full["stage2"]["half_period"]["overall"]["share_past_half_period"] <= 1.0
    assert out["runs"][1]["test_acc"] == round(full["stage2"]["test_accuracy_at_best"], 4)


def test_cli_train_keeps_its_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("biper_theory.nn.heap.steady_heap", lambda: calls.append(1) or True)
    argv = ["train", "--stage", "1", "--epochs", "1", "--batch-size", "128", "--no-progress"]
    assert run_cli([*argv, "--out", str(tmp_path)]) == 0
    assert calls == [1]


def test_cli_stage2_from_scratch_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--stage", "2", "--from-scratch", "--epochs", "1", "--batch-size", "128"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the CLI reports it in its output instead of a warning
        assert run_cli([*argv, "--no-progress", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "stage2" in text and "note: stage 2 trained from a fresh initialisation (--from-scratch)" in text
    _, meta, _ = load_checkpoint(tmp_path / "checkpoint.pt")
    assert meta["stage"] == 2 and meta["warm_start"] is None


def test_cli_plot_writes_monitor_figure_and_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--epochs", "1", "--batch-size", "128", "--no-baseline", "--no-progress"]
    plot = tmp_path / "monitor.png"
    assert run_cli([*argv, "--out", str(tmp_path / "run"), "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads((tmp_path / "monitor.png.json").read_text())
    overall = [(r["run"], r["epoch"]) for r in rows if r["layer"] == "overall"]
    assert overall == [("stage1", 0), ("stage1", 1), ("stage2", 1), ("stage2", 2)]  # stage 2 after stage 1
    assert run_cli([*argv, "--out", str(tmp_path / "x"), "--plot", str(tmp_path / "m.jpg")]) == 2
    assert "--plot FILE must end in one of" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before any training


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_cli_mnist_idx_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rng: np.random.Generator
) -> None:
    data = tmp_path / "mnist"
    data.mkdir()
    for split, n in (("train", 40), ("t10k", 20)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (data / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (data / f"{split}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(_idx(np.arange(n, dtype=np.uint8) % 10))
        )
    argv = ["train", "--dataset", "mnist", "--data-dir", str(data), "--stage", "1", "--epochs", "1"]
    argv += ["--val-fraction", "0.25", "--split-seed", "3"]  # 4 images per class: 1 to validation
    assert run_cli([*argv, "--batch-size", "16", "--out", str(tmp_path / "run")]) == 0
    text = capsys.readouterr().out
    assert "mnist: 30 train / 10 validation / 20 test images" in text and "stage1" in text
    info = json.loads((tmp_path / "run" / "metrics.json").read_text())["dataset_info"]
    assert (info["split_seed"], info["val_fraction"]) == (3, 0.25)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        pytest.param(["--omega0", "-1"], "omega0 must be", id="omega0"),
        pytest.param(["--dataset", "imagenet"], "dataset must be", id="dataset"),
        pytest.param(["--init-from", "x.pt"], "--init-from warm-starts stage 2", id="init-from-both"),
        pytest.param(["--stage", "1", "--no-baseline"], "--no-baseline only", id="no-baseline-stage-1"),
        pytest.param(["--init", "laplace"], "init_b", id="laplace-without-b"),
        pytest.param(["--stage", "2", "--init-from", "missing.pt"], "missing.pt", id="missing-checkpoint"),
        pytest.param(["--stage", "2"], "--init-from STAGE1_CKPT, or --from-scratch", id="stage-2-no-init"),
        pytest.param(["--stage", "1", "--from-scratch"], "--from-scratch only applies", id="scratch-stage-1"),
        pytest.param(["--stage", "3"], "invalid choice", id="stage-3"),
        pytest.param(["--dataset", "mnist"], "data_dir is required", id="mnist-without-dir"),
        pytest.param(["--val-fraction", "1"], "val_fraction must be in [0, 1)", id="val-fraction"),
        pytest.param(["--split-seed", "-2"], "split_seed must be", id="split-seed"),
    ],
)
def test_cli_bad_arguments_one_line_exit_2(
    argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["train", "--epochs", "1", "--no-progress", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("biper-theory")
    assert match in err
