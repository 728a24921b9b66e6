"""Keep freed activation memory in the process: glibc ``malloc`` tuned for training loops.

Why this exists (measured, not in the paper). A training step allocates and frees the same
few-megabyte activation buffers every step. glibc's ``malloc`` decides by two adaptive
thresholds whether a freed buffer stays in the heap or goes back to the kernel: buffers
above the *mmap threshold* get their own mapping (unmapped on ``free``), and a free top of
the heap larger than the *trim threshold* is returned. Memory handed back has to be
faulted in again, a zero-filled page at a time, on the next step.

Measured on resnet-small with Fashion-MNIST-sized batches (64 images, one thread;
``benchmarks/_step_faults.py``, a fresh process, after 20 warm-up steps), minor
page faults per step with glibc's defaults: full-precision twin 3 940, BiPer stage 1 4 220,
stage 2 4 730 (15–18 MiB zero-filled every step); with :func:`steady_heap`: 0.1, 30 and 49.
Inside a long-lived process the count depends on what ran before: in the benchmark's
process the twin had settled at 0 while the BiPer model, whose sign activations and
surrogate backward allocate a few more buffers of the same sizes, kept 2 600–3 400 per
step: fixing that took a stage-1 study epoch from 1.15 to about 1.08 times the twin's.
The thresholds set here are glibc's own ceiling for the adaptive mmap threshold (32 MiB)
and a trim threshold four times that. This is the memory-allocator advice of PyTorch's CPU
performance tuning guide (there: preload jemalloc or tcmalloc), done with glibc's own
``mallopt`` so nothing has to be preloaded.

The setting is process-wide and one-way (``mallopt`` has no getter, and fixing either
threshold switches off glibc's adaptation for the rest of the process), so the library
never applies it on import: the processes that own their lifetime do (``biper-theory
train``, every ``study run`` worker). The cost is that up to the trim threshold of freed
memory stays mapped to the process, and buffers up to 32 MiB are served from the heap. For
one Fashion-MNIST epoch of resnet-small (6 000-image subset, one thread) the peak resident
memory was 784 MiB against 774 MiB without it, and the process kept 570 MiB afterwards
against 486 MiB.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "steady_heap"]

#: Allocations below this many bytes come from the heap: glibc's ceiling for its adaptive
#: mmap threshold on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``), so this fixes the threshold
#: where the adaptation could have taken it anyway.
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap up to this many bytes is kept, not returned to the kernel.
TRIM_THRESHOLD = 128 * 2**20

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, <malloc.h>
_M_MMAP_THRESHOLD = -3
#: environment variables through which a user has already chosen the allocator's behaviour
_USER_CHOICES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX")
_OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")


def _user_chose() -> bool:
    """Whether the user already chose the allocator's behaviour for this process."""
    preload = os.environ.get("LD_PRELOAD", "")
    return (
        any(name in os.environ for name in _USER_CHOICES)
        or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")
        or any(lib in preload for lib in _OTHER_ALLOCATORS)
    )


@functools.cache  # decided once per process
def steady_heap() -> bool:
    """Fix glibc's mmap and trim thresholds so a training loop reuses its freed buffers.

    Sets ``M_MMAP_THRESHOLD`` to :data:`MMAP_THRESHOLD` (32 MiB) and ``M_TRIM_THRESHOLD`` to
    :data:`TRIM_THRESHOLD` (128 MiB) with ``mallopt(3)``, once per process. Does nothing (and
    returns False) where that does not apply or is not ours to decide: not Linux with glibc
    (macOS, Windows, musl), or the user already chose through ``MALLOC_*_`` variables,
    ``GLIBC_TUNABLES`` or a preloaded jemalloc/tcmalloc/mimalloc.

    Returns
    -------
    bool
        True if the thresholds are set in this process (now or by an earlier call).

    Notes
    -----
    Process-wide and irreversible; see the module docstring for what it fixes (page faults
    of re-mapped activation buffers) and what it costs (freed memory up to 128 MiB stays
    with the process).
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc" or _user_chose():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    mmap_set = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return mmap_set and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
