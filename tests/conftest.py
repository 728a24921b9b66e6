"""Shared test configuration: hypothesis profiles (derandomized in CI) and fixtures."""

from __future__ import annotations

import os

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
