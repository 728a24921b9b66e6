"""Tests of biper_theory.nn.models: shapes, layouts, parameter counts, binarized layers."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from biper_theory.nn.layers import BiPerConv2d, iter_biper_layers, set_stage  # noqa: E402
from biper_theory.nn.models import (  # noqa: E402
    ARCHS,
    binarized_layer_names,
    binarized_layer_shapes,
    build_model,
    count_parameters,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _block_conv_count(
    widths: tuple[int, ...], blocks: tuple[int, ...], stem: int, convs_per_block: int
) -> int:
    """Latent weights of the residual-block 3×3 convs, counted from the architecture alone."""
    total, cin = 0, stem
    for width, n in zip(widths, blocks, strict=True):
        for _ in range(n):
            for _ in range(convs_per_block):
                total += 9 * cin * width
                cin = width
    return total


# small inputs keep this fast; 14×14 sends odd sizes (7×7 → 4×4) through the option-A shortcut
SHAPES = [
    pytest.param("resnet-small", (2, 1, 8, 8), False, id="resnet-small-8x8"),
    pytest.param("resnet-small", (2, 1, 28, 28), False, id="resnet-small-28x28"),
    pytest.param("resnet-small", (2, 1, 28, 28), True, id="resnet-small-28x28-fp"),
    pytest.param("resnet18-cifar", (2, 3, 16, 16), False, id="resnet18-cifar"),
    pytest.param("resnet18-cifar", (2, 1, 14, 14), False, id="resnet18-cifar-odd-sizes"),
    pytest.param("resnet18-cifar", (2, 3, 16, 16), True, id="resnet18-cifar-fp"),
    pytest.param("birealnet18", (1, 3, 64, 64), False, id="birealnet18-64x64"),
    pytest.param("birealnet18", (1, 3, 64, 64), True, id="birealnet18-64x64-fp"),
    pytest.param("birealnet34", (1, 3, 32, 32), False, id="birealnet34-32x32"),
]


@pytest.mark.parametrize(("arch", "shape", "full_precision"), SHAPES)
def test_output_shape(arch: str, shape: tuple[int, ...], full_precision: bool) -> None:
    model = build_model(
        arch, num_classes=7, in_channels=shape[1], full_precision=full_precision, generator=_gen()
    )
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(shape, generator=_gen(1)))
    assert out.shape == (shape[0], 7)
    assert torch.isfinite(out).all()
    assert (len(binarized_layer_names(model)) == 0) == full_precision


@pytest.mark.parametrize(
    ("arch", "names", "latent"),
    [
        pytest.param(
            "resnet-small",
            [f"layer{i}.0.conv{k}" for i in (1, 2, 3) for k in (1, 2)],
            _block_conv_count((16, 32, 64), (1, 1, 1), 16, 2),
            id="resnet-small",
        ),
        pytest.param(
            "resnet18-cifar",
            [f"layer{i}.{j}.conv{k}" for i in (1, 2, 3, 4) for j in (0, 1) for k in (1, 2)],
            _block_conv_count((64, 128, 256, 512), (2, 2, 2, 2), 64, 2),
            id="resnet18-cifar",
        ),
        pytest.param(
            "birealnet18",
            [f"layer{i}.{j}.binary_conv" for i in (1, 2, 3, 4) for j in range(4)],
            _block_conv_count((64, 128, 256, 512), (4, 4, 4, 4), 64, 1),
            id="birealnet18",
        ),
        pytest.param(
            "birealnet34",
            [
                f"layer{i}.{j}.binary_conv"
                for i, n in zip((1, 2, 3, 4), (6, 8, 12, 6), strict=True)
                for j in range(n)
            ],
            _block_conv_count((64, 128, 256, 512), (6, 8, 12, 6), 64, 1),
            id="birealnet34",
        ),
    ],
)
def test_binarized_layers_are_exactly_the_block_convs(arch: str, names: list[str], latent: int) -> None:
    with torch.device("meta"):  # structure only: no memory, no time
        model = build_model(arch, num_classes=10, in_channels=3)
    assert binarized_layer_names(model) == names
    assert count_parameters(model, binarized_only=True) == latent
    # stem, downsample and classifier stay real
    real = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert "conv1" in real and ("linear" in real or "fc" in real)
    assert all(n in names for n, m in model.named_modules() if isinstance(m, BiPerConv2d))
    assert not any("downsample" in n or "shortcut" in n for n in names)


@pytest.mark.parametrize(
    ("arch", "low", "high"),
    [
        pytest.param("resnet-small", 60e3, 100e3, id="resnet-small"),
        pytest.param("resnet18-cifar", 10.9e6, 11.3e6, id="resnet18-cifar-about-11M"),
        pytest.param("birealnet18", 11.0e6, 11.4e6, id="birealnet18"),
        pytest.param("birealnet34", 21.0e6, 21.5e6, id="birealnet34"),
    ],
)
def test_parameter_counts_are_sane(arch: str, low: float, high: float) -> None:
    with torch.device("meta"):
        model = build_model(arch, num_classes=10, in_channels=3)
        fp = build_model(arch, num_classes=10, in_channels=3, full_precision=True)
    total = count_parameters(model)
    assert low < total < high
    # the full-precision twin differs only by the α vectors (one entry per output channel)
    alphas = sum(layer.alpha.numel() for _, layer in iter_biper_layers(model))
    assert count_parameters(fp) == total - alphas
    assert binarized_layer_names(fp) == []


def test_resnet18_cifar_state_dict_layout() -> None:
    with torch.device("meta"):
        model = build_model("resnet18-cifar", num_classes=10, in_channels=3)
    keys = set(model.state_dict())
    for key in [
        "conv1.weight",
        "bn1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer1.0.conv1.alpha",
        "layer1.0.bn1.weight",
        "layer2.0.conv2.alpha",
        "layer4.1.bn2.running_mean",
        "bn2.weight",
        "linear.weight",
        "linear.bias",
    ]:
        assert key in keys, key
    assert not any("shortcut" in k for k in keys)  # option A: parameter-free
    assert model.state_dict()["layer3.0.conv1.weight"].shape == (256, 128, 3, 3)


def test_birealnet_downsample_is_real_avgpool_then_1x1() -> None:
    with torch.device("meta"):
        model = build_model("birealnet18", num_classes=10, in_channels=3)
    block = model.get_submodule("layer2.0")
    assert isinstance(block.downsample[0], nn.AvgPool2d)
    conv = block.downsample[1]
    assert type(conv) is nn.Conv2d and conv.kernel_size == (1, 1)
    assert model.get_submodule("layer1.0").downsample is None


def test_option_a_shortcut_pads_channels_with_zeros() -> None:
    model = build_model("resnet-small", num_classes=3, in_channels=1, generator=_gen())
    shortcut = model.get_submodule("layer2.0.shortcut")
    x = torch.randn(2, 16, 8, 8, generator=_gen(3))
    out = shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, 8:24], F.avg_pool2d(x, 2), rtol=0, atol=0)
    assert torch.all(out[:, :8] == 0) and torch.all(out[:, 24:] == 0)


@pytest.mark.parametrize("full_precision", [pytest.param(False, id="biper"), pytest.param(True, id="fp")])
def test_generator_makes_weights_reproducible_and_leaves_global_rng_alone(full_precision: bool) -> None:
    kw = {"num_classes": 10, "in_channels": 1, "full_precision": full_precision}
    with torch.random.fork_rng(devices=[]):  # this test seeds the global RNG; keep that local
        torch.manual_seed(1)
        state = torch.get_rng_state()
        a = build_model("resnet-small", **kw, generator=_gen(5))  # type: ignore[arg-type]
        assert torch.equal(torch.get_rng_state(), state)  # neither read-and-advanced nor reseeded
        torch.manual_seed(2)  # a different global state must not matter
        b = build_model("resnet-small", **kw, generator=_gen(5))  # type: ignore[arg-type]
        c = build_model("resnet-small", **kw, generator=_gen(6))  # type: ignore[arg-type]
        # without a generator the global RNG is the source (and is advanced)
        torch.manual_seed(5)
        d = build_model("resnet-small", **kw)  # type: ignore[arg-type]
        assert not torch.equal(torch.get_rng_state(), torch.manual_seed(5).get_state())
    for key, value in a.state_dict().items():
        torch.testing.assert_close(value, b.state_dict()[key], rtol=0, atol=0)
    assert not torch.equal(a.state_dict()["layer1.0.conv1.weight"], c.state_dict()["layer1.0.conv1.weight"])
    assert not torch.equal(a.state_dict()["layer1.0.conv1.weight"], d.state_dict()["layer1.0.conv1.weight"])


def test_stage_and_omega0_reach_every_layer() -> None:
    model = build_model("resnet-small", num_classes=10, in_channels=1, omega0=33.0, stage=2, generator=_gen())
    layers = [layer for _, layer in iter_biper_layers(model)]
    assert len(layers) == 6
    assert all(layer.stage == 2 and layer.omega0 == 33.0 for layer in layers)
    set_stage(model, 1)
    assert all(layer.stage == 1 for layer in layers)


@pytest.mark.parametrize("stage", [pytest.param(1, id="stage1"), pytest.param(2, id="stage2")])
def test_every_latent_weight_gets_a_gradient(stage: int) -> None:
    model = build_model("resnet-small", num_classes=10, in_channels=1, stage=stage, generator=_gen())
    x = torch.randn(8, 1, 8, 8, generator=_gen(1))
    y = torch.arange(8) % 10
    F.cross_entropy(model(x), y).backward()
    for name, layer in iter_biper_layers(model):
        grad = layer.weight.grad
        assert grad is not None and torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name


def test_stage2_training_reduces_loss_on_a_fixed_batch() -> None:
    model = build_model("resnet-small", num_classes=4, in_channels=1, stage=2, generator=_gen(2))
    x = torch.randn(16, 1, 8, 8, generator=_gen(3))
    y = torch.arange(16) % 4
    x = x + y.reshape(-1, 1, 1, 1).float()  # learnable: the class shifts the mean
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"arch": "resnet50"}, "arch", id="unknown-arch"),
        pytest.param({"num_classes": 1}, "num_classes", id="one-class"),
        pytest.param({"in_channels": 0}, "in_channels", id="no-channels"),
        pytest.param({"omega0": 0.0}, "omega0", id="omega0-zero"),
        pytest.param({"stage": 3}, "stage", id="stage-three"),
    ],
)
def test_build_model_validates(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"arch": "resnet-small", "num_classes": 10, "in_channels": 1} | kwargs
    arch = args.pop("arch")
    with pytest.raises(ValueError, match=match):
        build_model(arch, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("in_channels", [1, 3])
def test_layer_shapes_without_building(arch: str, in_channels: int) -> None:
    # read from the layout, never built: the same names, order and shapes as the network
    built = build_model(arch, num_classes=10, in_channels=in_channels, generator=_gen())
    shapes = binarized_layer_shapes(arch, in_channels=in_channels)
    assert list(shapes) == binarized_layer_names(built)
    assert shapes == {n: tuple(layer.weight.shape) for n, layer in iter_biper_layers(built)}
    with pytest.raises(ValueError, match="arch must be one of"):
        binarized_layer_shapes("vgg")


def test_archs_tuple() -> None:
    assert ARCHS == ("resnet-small", "resnet18-cifar", "birealnet18", "birealnet34")
