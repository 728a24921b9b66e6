"""steady_heap: glibc keeps a training loop's freed buffers; the user's own choice is respected."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="biper_theory.nn needs the optional torch extra")

from biper_theory.nn import heap

glibc_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's",
)

ROOT = Path(__file__).resolve().parents[1]


@glibc_linux
@pytest.mark.parametrize("stage", [1, 2])
def test_steady_heap_stops_the_page_faults_of_a_training_step(
    stage: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64·16·28·28 floats = 3.1 MiB per first-stage activation: ~800 pages each. Under glibc's
    # adaptive thresholds a BiPer step took ~1 500–5 000 minor faults here; kept, ~0–1.
    # The step loop is benchmark 8's child, run in a fresh process (steady_heap is one-way).
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks._step_faults import child_env

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._step_faults", f"stage{stage}", "steady"],
        capture_output=True, text=True, check=True, env=child_env(), cwd=ROOT,
    )  # fmt: skip
    row = json.loads(out.stdout)
    assert row["steady_heap"] is True
    # a settled heap: some window without a fault to speak of (the heap may still grow by a
    # buffer now and then), none that faults every step as glibc's own heuristics did
    assert row["least_window"] < 50
    assert row["most_window"] < 800


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget whether this process already decided, and start from a clean environment."""
    heap.steady_heap.cache_clear()
    for name in list(os.environ):
        if name.startswith("MALLOC_") or name in ("GLIBC_TUNABLES", "LD_PRELOAD"):
            monkeypatch.delenv(name)
    yield
    heap.steady_heap.cache_clear()  # the stand-ins' answers must not outlive the test


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
