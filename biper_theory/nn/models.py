"""BiPer network architectures in plain PyTorch (no torchvision).

=================  ==========================================================================
``arch``           network
=================  ==========================================================================
resnet-small       tiny ResNet for 8×8 (scikit-learn digits) and 28×28 inputs: 3×3 stem
                   (16 ch), three stages (16, 32, 64 ch; one block each), 6 binary convs
resnet18-cifar     the CIFAR ResNet-18 of the official BiPer code: 3×3 stem (64 ch), four
                   stages (64, 128, 256, 512 ch; two blocks each), option-A shortcuts
birealnet18        ImageNet Bi-Real Net-18: 7×7/2 stem + max-pool, 16 blocks of one binary
                   conv each (4, 4, 4, 4), real 1×1 downsample after a 2×2 average pool
birealnet34        the same with (6, 8, 12, 6) blocks
=================  ==========================================================================

Binarized layers are exactly the residual-block convolutions; the stem convolution, the
downsample 1×1 convolutions and the classifier stay real, as in the paper and its code.

The ResNet blocks (``resnet-small``, ``resnet18-cifar``) follow the official BiPer CIFAR
code: a shortcut around *each* binary convolution (Bi-Real style double skip),

    out = hardtanh(bn1(conv1(x)) + shortcut(x));  out = hardtanh(bn2(conv2(out)) + out),

with the parameter-free option-A shortcut (2×2 average pool, then zero channels appended)
where the shape changes, and a ``bn2`` (BatchNorm1d) between global pooling and
``linear``. State-dict keys therefore match the official layout: ``conv1``, ``bn1``,
``layerX.Y.conv{1,2}.{weight,alpha}``, ``layerX.Y.bn{1,2}``, ``bn2``, ``linear``.
(Official ``BinarizeConv2d`` also stores ``alpha`` as ``(out, 1, 1)`` and carries unused
``beta``/``tau`` entries; :func:`biper_theory.nn.checkpoint.to_model_state_dict` maps
them.) The Bi-Real blocks are ``out = bn1(binary_conv(x)) + downsample(x)``; keys
``layerX.Y.binary_conv.{weight,alpha}``, ``layerX.Y.bn1``, ``layerX.Y.downsample.{1,2}``,
``conv1``, ``bn1``, ``fc``.

``full_precision=True`` builds the same network with ``nn.Conv2d`` in place of the binary
convolutions and real activations: the ResNets keep their hardtanh non-linearities; the
Bi-Real blocks apply a hardtanh (the clip that ApproxSign smooths) before the conv. Keys are
the same minus ``alpha``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .functional import _check_omega0
from .layers import ActNorm, BiPerConv2d, _check_stage, iter_biper_layers

__all__ = ["ARCHS", "build_model", "binarized_layer_names", "binarized_layer_shapes", "count_parameters"]

ARCHS = ("resnet-small", "resnet18-cifar", "birealnet18", "birealnet34")
_RESNETS = ("resnet-small", "resnet18-cifar")

ConvFactory = Callable[[int, int, int, int, int], nn.Module]  # (in, out, kernel, stride, padding)

#: arch -> (channels of each stage, residual blocks per stage); the first stage's channels are
#: also the stem's
_LAYOUTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet-small": ((16, 32, 64), (1, 1, 1)),
    "resnet18-cifar": ((64, 128, 256, 512), (2, 2, 2, 2)),
    "birealnet18": ((64, 128, 256, 512), (4, 4, 4, 4)),
    "birealnet34": ((64, 128, 256, 512), (6, 8, 12, 6)),
}


def _block_plan(arch: str) -> Iterator[tuple[int, int, int, int, int]]:
    """``(stage, block, in_planes, planes, stride)`` of every residual block of ``arch``, in
    network order (stages from 1, blocks within a stage from 0, as in ``layer{stage}.{block}``);
    the first block of every stage after the first has stride 2."""
    widths, blocks = _LAYOUTS[arch]
    in_planes = widths[0]
    for i, (planes, n) in enumerate(zip(widths, blocks, strict=True), start=1):
        for j in range(n):
            yield i, j, in_planes, planes, 2 if (i > 1 and j == 0) else 1
            in_planes = planes


def _stages(arch: str, block: Callable[[int, int, int], nn.Module]) -> dict[str, nn.Sequential]:
    """``{"layerI": the blocks of stage I}`` of ``arch`` from a block factory (in, out, stride)."""
    stages: dict[str, list[nn.Module]] = {}
    for i, _, in_planes, planes, stride in _block_plan(arch):
        stages.setdefault(f"layer{i}", []).append(block(in_planes, planes, stride))
    return {name: nn.Sequential(*mods) for name, mods in stages.items()}


class _OptionAShortcut(nn.Module):
    """Parameter-free shortcut: 2×2 average pool (if strided), then zero channels appended.

    The official code pads ``planes // 4`` channels on each side, which assumes the channel
    count doubles; here the extra channels are split as evenly as possible, which is the
    same thing in that case. ``ceil_mode`` makes odd sizes (7×7 → 4×4) match the strided
    3×3 convolution; for even sizes it is the plain 2×2 pool.
    """

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.pool = (
            nn.AvgPool2d(kernel_size=2, stride=stride, ceil_mode=True) if stride != 1 else nn.Identity()
        )
        extra = planes - in_planes
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(self.pool(x), (0, 0, 0, 0, *self.pad))


class _BiPerBasicBlock(nn.Module):
    """ResNet basic block of the official BiPer CIFAR code: a skip around each conv."""

    @staticmethod
    def conv_shapes(in_planes: int, planes: int) -> dict[str, tuple[int, ...]]:
        """Weight shape of each binarized convolution of the block, by its name."""
        return {"conv1": (planes, in_planes, 3, 3), "conv2": (planes, planes, 3, 3)}

    def __init__(self, in_planes: int, planes: int, stride: int, make_conv: ConvFactory) -> None:
        super().__init__()
        self.conv1 = make_conv(in_planes, planes, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = make_conv(planes, planes, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = (
            _OptionAShortcut(in_planes, planes, stride)
            if stride != 1 or in_planes != planes
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.hardtanh(self.bn1(self.conv1(x)) + self.shortcut(x))
        return F.hardtanh(self.bn2(self.conv2(out)) + out)


class _BiPerResNet(nn.Module):
    """Stem conv → stages of basic blocks → global average pool → BatchNorm1d → linear."""

    def __init__(self, arch: str, *, in_channels: int, num_classes: int, make_conv: ConvFactory) -> None:
        super().__init__()
        widths, _ = _LAYOUTS[arch]
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])

        def block(in_planes: int, planes: int, stride: int) -> nn.Module:
            return _BiPerBasicBlock(in_planes, planes, stride, make_conv)

        for name, stage in _stages(arch, block).items():
            self.add_module(name, stage)
        self.num_stages = len(widths)
        self.bn2 = nn.BatchNorm1d(widths[-1])
        self.linear = nn.Linear(widths[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.hardtanh(self.bn1(self.conv1(x)))
        for i in range(1, self.num_stages + 1):
            out = getattr(self, f"layer{i}")(out)
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(self.bn2(out))


class _BiRealBlock(nn.Module):
    """Bi-Real block: one (binary) 3×3 conv with its own shortcut."""

    @staticmethod
    def conv_shapes(inplanes: int, planes: int) -> dict[str, tuple[int, ...]]:
        """Weight shape of the block's binarized convolution, by its name."""
        return {"binary_conv": (planes, inplanes, 3, 3)}

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        make_conv: ConvFactory,
        full_precision: bool,
    ) -> None:
        super().__init__()
        # full precision: the hardtanh clip stands in for the sign of the binary activations
        self.act: nn.Module = nn.Hardtanh() if full_precision else nn.Identity()
        self.binary_conv = make_conv(inplanes, planes, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=stride, ceil_mode=True) if stride != 1 else nn.Identity(),
                nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.bn1(self.binary_conv(self.act(x))) + residual


class _BiRealNet(nn.Module):
    """7×7/2 stem → 3×3/2 max-pool → four stages of Bi-Real blocks → average pool → fc."""

    def __init__(
        self, arch: str, *, in_channels: int, num_classes: int, make_conv: ConvFactory, full_precision: bool
    ) -> None:
        super().__init__()
        widths, _ = _LAYOUTS[arch]
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        def block(inplanes: int, planes: int, stride: int) -> nn.Module:
            return _BiRealBlock(inplanes, planes, stride, make_conv, full_precision)

        for name, stage in _stages(arch, block).items():
            self.add_module(name, stage)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.bn1(self.conv1(x)))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


@torch.no_grad()
def _init_parameters(model: nn.Module, generator: torch.Generator | None) -> None:
    """Initialise every parameter from ``generator`` (the global generator when None).

    Convolutions (binary and real): Kaiming-normal, as the official ResNet code does
    (``init.kaiming_normal_`` on every ``nn.Conv2d``). Linear layers: PyTorch's default
    scheme. BatchNorm: weight 1, bias 0. Then each BiPer layer's α from its weights.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                bound = 1.0 / math.sqrt(module.in_features)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for _, layer in iter_biper_layers(model):
        layer.reset_alpha(generator)


def build_model(
    arch: str,
    *,
    num_classes: int,
    in_channels: int,
    omega0: float = 20.0,
    stage: int = 1,
    full_precision: bool = False,
    act_norm: ActNorm = False,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Build a BiPer network (or its full-precision twin) by name.

    Parameters
    ----------
    arch : str
        One of :data:`ARCHS` (see the module docstring).
    num_classes : int
        Output classes (>= 2).
    in_channels : int
        Input channels (>= 1): 1 for digits/MNIST, 3 for CIFAR/ImageNet.
    omega0 : float
        BiPer frequency :math:`\\omega_0 > 0` of every binary convolution.
    stage : {1, 2}
        Initial stage of every binary convolution (see :func:`~biper_theory.nn.layers.set_stage`).
    full_precision : bool
        Real weights and activations instead (a baseline); ``omega0``/``stage`` are then unused.
    act_norm : bool or str
        Passed to every :class:`~biper_theory.nn.layers.BiPerConv2d` (official: ``True``).
    generator : torch.Generator, optional
        Source of the initial weights; with it, the same generator state gives the same
        weights whatever the global RNG, and the global RNG is neither read nor advanced
        (the throw-away default init that torch layers run while being constructed happens
        under :func:`torch.random.fork_rng`). Without it, the global generator is used.

    Returns
    -------
    torch.nn.Module
        In training mode, on the CPU, float32.

    Raises
    ------
    ValueError
        For an unknown ``arch`` or an out-of-range argument.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}; got {arch!r}")
    num_classes = _check_count("num_classes", num_classes, 2)
    in_channels = _check_count("in_channels", in_channels, 1)
    omega0 = _check_omega0(omega0)
    stage = _check_stage(stage)

    def make_conv(cin: int, cout: int, kernel: int, stride: int, padding: int) -> nn.Module:
        if full_precision:
            return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        return BiPerConv2d(
            cin,
            cout,
            kernel,
            stride=stride,
            padding=padding,
            bias=False,
            omega0=omega0,
            stage=stage,
            act_norm=act_norm,
        )

    # torch layers draw a throw-away default init from the global RNG while being constructed;
    # with a generator, fork the global RNG around that so it is neither read nor advanced here
    guard = torch.random.fork_rng(devices=[]) if generator is not None else contextlib.nullcontext()
    with guard:
        model = _construct(arch, in_channels, num_classes, make_conv, full_precision)
    _init_parameters(model, generator)
    return model


def _construct(
    arch: str, in_channels: int, num_classes: int, make_conv: ConvFactory, full_precision: bool
) -> nn.Module:
    if arch in _RESNETS:
        return _BiPerResNet(arch, in_channels=in_channels, num_classes=num_classes, make_conv=make_conv)
    return _BiRealNet(
        arch,
        in_channels=in_channels,
        num_classes=num_classes,
        make_conv=make_conv,
        full_precision=full_precision,
    )


def binarized_layer_shapes(arch: str, *, in_channels: int = 3) -> dict[str, tuple[int, ...]]:
    """Name → latent-weight shape of every binarized layer of ``arch``, in network order.

    Read from the architecture's layout, without building the network (building it, even on
    the ``meta`` device, took 10–45 ms: most of what identifying a checkpoint costs). The
    shapes depend on neither ``in_channels`` (the stem stays real) nor ``num_classes``; a test
    checks them against the built network of every architecture.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}; got {arch!r}")
    _check_count("in_channels", in_channels, 1)
    block = _BiPerBasicBlock if arch in _RESNETS else _BiRealBlock
    return {
        f"layer{i}.{j}.{conv}": shape
        for i, j, in_planes, planes, _ in _block_plan(arch)
        for conv, shape in block.conv_shapes(in_planes, planes).items()
    }


def binarized_layer_names(model: nn.Module) -> list[str]:
    """Qualified names of the BiPer layers of ``model`` (e.g. ``"layer1.0.conv1"``), in order.

    Empty for a full-precision model. A DDP/DataParallel wrapper is looked through.
    """
    return [name for name, _ in iter_biper_layers(model)]


def count_parameters(model: nn.Module, *, binarized_only: bool = False) -> int:
    """Number of parameter entries (all, or only the latent weights of BiPer layers)."""
    if binarized_only:
        return sum(layer.weight.numel() for _, layer in iter_biper_layers(model))
    return sum(p.numel() for p in model.parameters())
