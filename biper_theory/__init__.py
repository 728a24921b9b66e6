"""biper-theory: the quantization error of BiPer binary neural networks.

The analytic core (:mod:`biper_theory.closed_form`) is re-exported here. The other
layers are imported on first use, so ``import biper_theory`` loads neither torch nor
matplotlib nor SymPy.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .closed_form import (
    GAMMA_LIMIT_LARGE_A,
    QE_LIMIT_LARGE_A,
    cdf,
    l1_quantization_error,
    logpdf,
    normalized_quantization_error,
    optimal_gamma,
    pdf,
    qe_peak,
    quantization_error,
    second_moment,
    sf,
    sign_flip_probability,
    sqnr_db,
)

try:
    __version__ = version("biper-theory")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_SUBMODULES = {
    "closed_form",
    "stats",
    "symbolic",
    "errata",
    "numeric",
    "montecarlo",
    "weights",
    "select",
    "figures",
    "nn",
    "reproduce",
}

__all__ = [
    "GAMMA_LIMIT_LARGE_A",
    "QE_LIMIT_LARGE_A",
    "__version__",
    "cdf",
    "l1_quantization_error",
    "logpdf",
    "normalized_quantization_error",
    "optimal_gamma",
    "pdf",
    "qe_peak",
    "quantization_error",
    "second_moment",
    "sf",
    "sign_flip_probability",
    "sqnr_db",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
