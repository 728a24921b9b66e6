"""Tests of biper_theory.nn.checkpoint: our format, official .pth.tar files, refusal of pickled code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

from torch import nn  # noqa: E402

from biper_theory.nn.checkpoint import (  # noqa: E402
    FORMAT,
    LatentWeights,
    UntrustedCheckpointError,
    find_config_omega0,
    load_checkpoint,
    load_latent_weights,
    save_checkpoint,
    to_model_state_dict,
)
from biper_theory.nn.models import binarized_layer_names, build_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return build_model(
        "resnet18-cifar", num_classes=10, in_channels=3, generator=torch.Generator().manual_seed(3)
    )


@pytest.fixture
def small() -> nn.Module:
    return build_model(
        "resnet-small", num_classes=10, in_channels=1, generator=torch.Generator().manual_seed(4)
    )


def _official_state_dict(model: nn.Module, *, prefix: str) -> dict[str, torch.Tensor]:
    """The layout the official BinarizeConv2d saves: α as (out, 1, 1), plus unused beta and tau."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key.endswith(".alpha"):
            out[prefix + key] = value.reshape(-1, 1, 1).clone()
            out[prefix + key[: -len("alpha")] + "beta"] = torch.ones(value.shape[0], 1, 1)
            out[prefix + key[: -len("alpha")] + "tau"] = torch.tensor(1.0)
        else:
            out[prefix + key] = value.clone()
    return out


def _write_official(
    folder: Path, model: nn.Module, *, prefix: str = "module.", freq: str | None = "25.0"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 10)
    path = folder / "model_best.pth.tar"
    torch.save(
        {
            "epoch": 12,
            "model": "resnet18_1w1a",
            "state_dict": _official_state_dict(model, prefix=prefix),
            "best_prec1": torch.tensor(91.25),
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": scheduler.state_dict(),
        },
        path,
    )
    if freq is not None:  # what the official main.py writes: "name:  value" per argument
        (folder / "config.txt").write_text(
            f"2024-03-01 10:00:00.000000\n\nmodel:  resnet18_1w1a\nfreq:  {freq}\nstage2:  True\n",
            encoding="utf-8",
        )
    return path


# -- our format -----------------------------------------------------------------------------
def test_round_trip_of_our_checkpoint(tmp_path: Path, small: nn.Module) -> None:
    meta = {
        "omega0": 20.0,
        "stage": 2,
        "arch": "resnet-small",
        "dataset": "digits",
        "seed": np.int64(7),  # numpy scalars are stored as Python numbers
        "accuracy": 0.97,
        "history": [{"epoch": 1, "loss": 1.5}],
    }
    path = save_checkpoint(tmp_path / "run" / "stage2.pt", small, meta)
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["stage2.pt"]  # no temporary left behind
    state, loaded_meta, kind = load_checkpoint(path)
    assert kind == "biper-theory"
    assert loaded_meta == {**meta, "seed": 7}
    assert type(loaded_meta["seed"]) is int
    expected = small.state_dict()
    assert list(state) == list(expected)
    for key, value in expected.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["format"] == FORMAT

    latent = load_latent_weights(path)
    assert isinstance(latent, LatentWeights)
    assert (latent.kind, latent.arch, latent.omega0, latent.omega0_source) == (
        "biper-theory",
        "resnet-small",
        20.0,
        "checkpoint metadata",
    )
    assert list(latent.layers) == binarized_layer_names(small)
    for name, array in latent.layers.items():
        assert array.dtype == np.float64
        np.testing.assert_array_equal(array, small.get_parameter(f"{name}.weight").detach().double().numpy())
        np.testing.assert_array_equal(
            latent.alphas[name], small.get_parameter(f"{name}.alpha").detach().double().numpy().ravel()
        )


def test_save_from_wrapper_strips_module_prefix(tmp_path: Path, small: nn.Module) -> None:
    class Wrapper(nn.Module):  # stands in for DistributedDataParallel
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

    path = save_checkpoint(tmp_path / "w.pt", Wrapper(small), {"omega0": 20.0})
    state, _, _ = load_checkpoint(path)
    assert list(state) == list(small.state_dict())
    prefixed = {f"module.{k}": v for k, v in small.state_dict().items()}
    state2, _, _ = load_checkpoint(save_checkpoint(tmp_path / "sd.pt", prefixed, {}))
    assert list(state2) == list(small.state_dict())


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        pytest.param({"omega0": torch.tensor(20.0)}, "meta", id="tensor-value"),
        pytest.param({"obj": object()}, "meta", id="object-value"),
        pytest.param({1: "x"}, "keys", id="non-string-key"),
        pytest.param({"omega0": 0.0}, "omega0", id="omega0-zero"),
        pytest.param({"stage": 3}, "stage", id="stage-three"),
    ],
)
def test_save_rejects_bad_meta_and_writes_nothing(
    tmp_path: Path, small: nn.Module, meta: dict[object, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path / "bad.pt", small, meta)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# -- official layout ------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", [pytest.param("module.", id="dataparallel"), pytest.param("", id="plain")])
def test_official_checkpoint_yields_exactly_the_block_conv_weights(
    tmp_path: Path, resnet18: nn.Module, prefix: str
) -> None:
    path = _write_official(tmp_path / "stage2", resnet18, prefix=prefix)
    latent = load_latent_weights(path)
    assert (latent.kind, latent.arch) == ("official", "resnet18-cifar")
    assert (latent.omega0, latent.omega0_source) == (25.0, "config.txt")
    names = [f"layer{i}.{j}.conv{k}" for i in (1, 2, 3, 4) for j in (0, 1) for k in (1, 2)]
    assert list(latent.layers) == names  # not conv1 (stem), not linear
    for name in names:
        reference = resnet18.get_parameter(f"{name}.weight").detach()
        assert latent.layers[name].shape == tuple(reference.shape)
        np.testing.assert_array_equal(latent.layers[name], reference.double().numpy())
    assert latent.meta["epoch"] == 12
    assert latent.meta["best_prec1"] == pytest.approx(91.25)
    assert latent.meta["config"]["model"] == "resnet18_1w1a"
    assert latent.alphas["layer1.0.conv1"].shape == (64,)


def test_official_omega0_can_be_overridden(tmp_path: Path, resnet18: nn.Module) -> None:
    path = _write_official(tmp_path, resnet18)
    latent = load_latent_weights(path, omega0=30.0, arch="resnet18-cifar")
    assert (latent.omega0, latent.omega0_source) == (30.0, "--omega0")


def test_official_state_dict_loads_into_our_model(tmp_path: Path, resnet18: nn.Module) -> None:
    path = _write_official(tmp_path, resnet18)
    state, meta, kind = load_checkpoint(path)
    assert kind == "official" and "optimizer" not in meta
    fresh = build_model(
        "resnet18-cifar", num_classes=10, in_channels=3, generator=torch.Generator().manual_seed(9)
    )
    fresh.load_state_dict(to_model_state_dict(state, fresh), strict=True)
    for key, value in resnet18.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.parametrize(
    "config",
    [pytest.param(None, id="no-config-txt"), pytest.param("", id="config-without-freq")],
)
def test_missing_omega0_is_an_error_that_says_how_to_give_it(
    tmp_path: Path, small: nn.Module, config: str | None
) -> None:
    path = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 1, "state_dict": small.state_dict(), "best_prec1": 50.0}, path)
    if config is not None:
        (tmp_path / "config.txt").write_text("model:  resnet20_1w1a\nlr:  0.1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="omega0") as info:
        load_latent_weights(path)
    assert "--omega0" in str(info.value) and "never assumed" in str(info.value)
    assert load_latent_weights(path, omega0=30.0).omega0 == 30.0


def test_bad_freq_line_is_an_error(tmp_path: Path, small: nn.Module) -> None:
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"epoch": 1, "state_dict": small.state_dict()}, path)
    (tmp_path / "config.txt").write_text("freq:  -3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="freq"):
        find_config_omega0(path)
    with pytest.raises(ValueError, match="freq"):
        load_latent_weights(path)


def test_plain_state_dict_needs_omega0(tmp_path: Path, small: nn.Module) -> None:
    path = tmp_path / "weights.pt"
    torch.save(small.state_dict(), path)
    with pytest.raises(ValueError, match="omega0"):
        load_latent_weights(path)
    latent = load_latent_weights(path, omega0=20.0)
    assert (latent.kind, latent.arch, latent.omega0_source) == ("state_dict", "resnet-small", "--omega0")
    assert len(latent.layers) == 6


def test_birealnet_layers_are_the_binary_convs(tmp_path: Path) -> None:
    with torch.device("meta"):
        model = build_model("birealnet18", num_classes=10, in_channels=3)
    # a small stand-in state dict with the Bi-Real keys and shapes (no need for 11 M real weights)
    state = {k: torch.zeros(v.shape) for k, v in model.state_dict().items()}
    for i, name in enumerate(binarized_layer_names(model)):
        state[f"{name}.weight"] = torch.full(state[f"{name}.weight"].shape, float(i))
    path = tmp_path / "bireal.pt"
    torch.save(state, path)
    latent = load_latent_weights(path, omega0=20.0)
    assert latent.arch == "birealnet18"
    assert list(latent.layers) == [f"layer{i}.{j}.binary_conv" for i in (1, 2, 3, 4) for j in range(4)]
    assert all(np.all(a == i) for i, a in enumerate(latent.layers.values()))
    assert not any("downsample" in n for n in latent.layers)


def test_other_residual_networks_by_key_pattern(tmp_path: Path) -> None:
    # an official ResNet-20 layout (16/32/64 channels, 3 blocks per stage), plus convs that must be left out
    state: dict[str, torch.Tensor] = {
        "conv1.weight": torch.zeros(16, 3, 3, 3),
        "linear.weight": torch.zeros(10, 64),
    }
    cin = 16
    for i, width in enumerate((16, 32, 64), start=1):
        for j in range(3):
            for k in (1, 2):
                state[f"layer{i}.{j}.conv{k}.weight"] = torch.full((width, cin, 3, 3), 0.01 * i)
                state[f"layer{i}.{j}.conv{k}.alpha"] = torch.ones(width, 1, 1)
                cin = width
    state["layer2.0.shortcut.0.weight"] = torch.zeros(32, 16, 1, 1)
    state["layer2.0.downsample.1.weight"] = torch.zeros(32, 16, 1, 1)
    path = tmp_path / "resnet20.pt"
    torch.save({"epoch": 3, "state_dict": state}, path)
    latent = load_latent_weights(path, omega0=30.0)
    assert latent.arch == "residual (by key pattern)"
    assert len(latent.layers) == 18
    assert all(n.startswith("layer") and n.rsplit(".", 1)[-1] in ("conv1", "conv2") for n in latent.layers)
    with pytest.raises(ValueError, match="does not hold a resnet18-cifar"):
        load_latent_weights(path, omega0=30.0, arch="resnet18-cifar")


def test_arch_is_validated(tmp_path: Path, small: nn.Module) -> None:
    path = save_checkpoint(tmp_path / "s.pt", small, {"omega0": 20.0})
    with pytest.raises(ValueError, match="does not hold a birealnet18"):
        load_latent_weights(path, arch="birealnet18")
    with pytest.raises(ValueError, match="arch must be one of"):
        load_latent_weights(path, arch="resnet50")


def test_no_binarized_layers_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "fp.pt"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.weight": torch.zeros(2, 4)}, path)
    with pytest.raises(ValueError, match="no binarized layers"):
        load_latent_weights(path, omega0=20.0)


def test_full_precision_baseline_has_no_binarized_layers(tmp_path: Path) -> None:
    fp = build_model("resnet-small", num_classes=10, in_channels=1, full_precision=True)
    path = save_checkpoint(tmp_path / "fp.pt", fp, {"arch": "resnet-small", "full_precision": True})
    with pytest.raises(ValueError, match="full-precision"):
        load_latent_weights(path, omega0=20.0)


# -- refusal of code and of non-checkpoints ------------------------------------------------
class _Payload:
    """Unpickling this object would create ``marker`` (via builtins.open)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_payload_really_runs_when_unpickled_unsafely(tmp_path: Path) -> None:
    # guards the test below: the payload is live, so "marker absent" there means something
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker))).close()
    assert marker.exists()


@pytest.mark.parametrize(
    "zipfile", [pytest.param(True, id="zip-format"), pytest.param(False, id="legacy-format")]
)
def test_pickled_code_is_refused_and_never_runs(tmp_path: Path, small: nn.Module, zipfile: bool) -> None:
    marker = tmp_path / "PAYLOAD_RAN"
    path = tmp_path / "model_best.pth.tar"
    payload = {"epoch": 1, "state_dict": small.state_dict(), "extra": _Payload(marker)}
    torch.save(payload, path, _use_new_zipfile_serialization=zipfile)
    (tmp_path / "config.txt").write_text("freq:  20.0\n", encoding="utf-8")
    for loader in (load_checkpoint, load_latent_weights):
        for mmap in (False, True):
            with pytest.raises(UntrustedCheckpointError, match="weights_only=True") as info:
                loader(path, mmap=mmap)
            assert isinstance(info.value, ValueError)
            assert "refusing to load" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "kind", ["text", "npz", "empty", "list", "dict-of-strings", "wrong-format-version", "empty-state-dict"]
)
def test_not_a_checkpoint_is_a_clear_value_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.pt"
    if kind == "text":
        path.write_text("freq:  20.0\n", encoding="utf-8")
    elif kind == "npz":
        with path.open("wb") as fh:
            np.savez(fh, w=np.zeros(3))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "list":
        torch.save([torch.zeros(2)], path)
    elif kind == "dict-of-strings":
        torch.save({"a": "b"}, path)
    elif kind == "wrong-format-version":
        torch.save({"format": "biper-theory/99", "state_dict": {}, "meta": {}}, path)
    else:
        torch.save({"epoch": 1, "state_dict": {}}, path)
    with pytest.raises(ValueError) as info:
        load_latent_weights(path, omega0=20.0)
    assert not isinstance(info.value, UntrustedCheckpointError)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize(
    ("stored", "dtype", "expected"),
    [
        pytest.param(torch.float32, None, np.float32, id="as-stored-float32"),
        pytest.param(torch.float16, None, np.float16, id="as-stored-float16"),
        pytest.param(torch.bfloat16, None, np.float32, id="bfloat16-becomes-float32"),
        pytest.param(torch.float32, np.float32, np.float32, id="float32-asked"),
        pytest.param(torch.float32, np.float64, np.float64, id="float64-default"),
    ],
)
def test_latent_weights_dtype(
    tmp_path: Path, small: nn.Module, stored: torch.dtype, dtype: type | None, expected: type
) -> None:
    sd = {k: (v.to(stored) if v.is_floating_point() else v) for k, v in small.state_dict().items()}
    torch.save(sd, tmp_path / "sd.pt")
    latent = load_latent_weights(tmp_path / "sd.pt", omega0=20.0, dtype=dtype)
    for name, array in latent.layers.items():
        assert array.dtype == expected
        reference = sd[f"{name}.weight"].to(torch.float64).numpy()
        np.testing.assert_array_equal(array.astype(np.float64), reference)  # values never rounded
    default = load_latent_weights(tmp_path / "sd.pt", omega0=20.0)
    assert all(a.dtype == np.float64 for a in default.layers.values())


@pytest.mark.parametrize(
    "zipfile", [pytest.param(True, id="zip-format"), pytest.param(False, id="legacy-format")]
)
def test_mapped_weights_equal_read_weights(tmp_path: Path, small: nn.Module, zipfile: bool) -> None:
    # torch maps only zip-format files; a legacy file is read as usual instead of failing
    path = tmp_path / "sd.pt"
    torch.save(small.state_dict(), path, _use_new_zipfile_serialization=zipfile)
    read = load_latent_weights(path, omega0=20.0, dtype=None)
    mapped = load_latent_weights(path, omega0=20.0, dtype=None, mmap=True)
    assert list(mapped.layers) == list(read.layers)
    for name, array in mapped.layers.items():
        assert array.dtype == np.float32
        np.testing.assert_array_equal(array, read.layers[name])
    state, _, kind = load_checkpoint(path, mmap=True)
    assert kind == "state_dict"
    assert all(torch.equal(v, small.state_dict()[k]) for k, v in state.items())


def test_reading_latent_weights_stays_light(tmp_path: Path, resnet18: nn.Module) -> None:
    # identifying the architecture lays the network out on the meta device without
    # initialising it: initialising meta tensors imports torch's compiler stack (~1 s, which
    # every `biper-theory pick-omega` used to pay). Checked in a fresh interpreter.
    import subprocess
    import sys

    path = tmp_path / "sd.pt"
    torch.save(resnet18.state_dict(), path)
    code = (
        "import sys; from biper_theory.nn.checkpoint import load_latent_weights; "
        f"lw = load_latent_weights({str(path)!r}, omega0=20.0, dtype=None, mmap=True); "
        "assert lw.arch == 'resnet18-cifar' and len(lw.layers) == 16, lw.arch; "
        "print(sorted(m for m in ('torch._dynamo', 'torch._inductor') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
