"""steady_heap: glibc keeps a training loop's freed buffers; the user's own choice is respected."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
import types

import pytest

pytest.importorskip("torch", reason="biper_theory.nn needs the optional torch extra")

from biper_theory.nn import heap

glibc_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's",
)

# A fresh process: BiPer resnet-small on Fashion-MNIST-sized batches, one thread; prints the
# minor page faults per step in six 5-step windows after 20 warm-up steps: the least and the most.
_FAULTS_PER_STEP = textwrap.dedent(
    """
    import resource, sys
    import torch
    import torch.nn.functional as F
    from biper_theory.nn.heap import steady_heap
    from biper_theory.nn.models import build_model

    applied = steady_heap() if sys.argv[1] == "on" else False
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    model = build_model("resnet-small", num_classes=10, in_channels=1, omega0=20.0, stage=int(sys.argv[2]),
                        generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for _ in range(20):
        step()
    windows = []
    for _ in range(6):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            step()
        windows.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 5)
    print(applied, min(windows), max(windows))
    """
)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.pop("LD_PRELOAD", None)
    return env


@glibc_linux
@pytest.mark.parametrize("stage", [1, 2])
def test_steady_heap_stops_the_page_faults_of_a_training_step(stage: int) -> None:
    # 64·16·28·28 floats = 3.1 MiB per first-stage activation: ~800 pages each. Under glibc's
    # adaptive thresholds a BiPer step took ~1 500–5 000 minor faults here; kept, ~0–1.
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS_PER_STEP, "on", str(stage)],
        capture_output=True, text=True, check=True, env=_clean_env(),
    )  # fmt: skip
    applied, least, most = out.stdout.split()
    assert applied == "True"
    # a settled heap: some window without a fault to speak of (the heap may still grow by a
    # buffer now and then), none that faults every step as glibc's own heuristics did
    assert float(least) < 50
    assert float(most) < 800


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget whether this process already applied it, and start from a clean environment."""
    monkeypatch.setattr(heap, "_applied", None)
    for name in list(os.environ):
        if name.startswith("MALLOC_") or name in ("GLIBC_TUNABLES", "LD_PRELOAD"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("MALLOC_ARENA_MAX", "2", id="malloc-env"),
        pytest.param("MALLOC_TRIM_THRESHOLD_", "0", id="trim-env"),
        pytest.param("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0", id="tunables"),
        pytest.param("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", id="jemalloc"),
        pytest.param("LD_PRELOAD", "libtcmalloc_minimal.so.4", id="tcmalloc"),
    ],
)
def test_a_users_own_allocator_choice_is_left_alone(
    fresh: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setattr(heap.ctypes, "CDLL", lambda _: pytest.fail("mallopt must not be looked up"))
    monkeypatch.setenv(name, value)
    assert heap.steady_heap() is False
    assert heap.steady_heap() is False  # decided once per process


def test_not_glibc_is_a_no_op(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap.platform, "libc_ver", lambda: ("musl", "1.2"))
    monkeypatch.setattr(heap.ctypes, "CDLL", lambda _: pytest.fail("mallopt must not be looked up"))
    assert heap.steady_heap() is False


@glibc_linux
def test_mallopt_gets_the_documented_thresholds_once(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    class _Mallopt:  # stands in for the C function: records its arguments, reports success
        argtypes: object = None
        restype: object = None

        def __call__(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.setattr(heap.ctypes, "CDLL", lambda _: types.SimpleNamespace(mallopt=_Mallopt()))
    assert heap.steady_heap() is True
    assert heap.steady_heap() is True
    assert calls == [(-3, 32 * 2**20), (-1, 128 * 2**20)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
