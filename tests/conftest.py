"""Shared test configuration: hypothesis profiles (derandomized in CI) and fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

# One intra-op thread for torch (and BLAS): the suite's models are tiny, and on a shared
# 2-core machine oversubscribed threads made small training steps ~50x slower. Must be set
# before numpy/torch are first imported; DDP tests run 2 processes with 1 thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# CI must be reproducible: the same examples on every run ("ci"). Locally, "dev"
# explores more. Select with HYPOTHESIS_PROFILE; CI=true picks "ci" by default.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator; tests that need randomness take it explicitly."""
    return np.random.default_rng(20240401)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a module's small-tensor torch tests on one intra-op thread, then restore it.

    On a shared 2-core machine two OpenMP threads spin-wait on each other and small ops run
    tens of times slower; one thread is also all that the tests' tiny models need. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
