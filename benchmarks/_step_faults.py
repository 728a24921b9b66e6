"""Minor page faults per training step in a fresh interpreter (benchmark 8's child).

``python -m benchmarks._step_faults MODEL HEAP`` trains resnet-small on one fixed
Fashion-MNIST-sized batch (64 × 1 × 28 × 28, one thread) and prints, as JSON, the minor page
faults per step over 30 steps after 20 warm-up steps (overall, and the least and the most of
its six 5-step windows), and the seconds per step. ``MODEL`` is ``twin`` (the
full-precision twin), ``stage1`` or ``stage2``; ``HEAP`` is ``default`` (glibc's adaptive
thresholds) or ``steady`` (:func:`biper_theory.nn.heap.steady_heap` first). A fresh process
per case, because ``steady_heap`` cannot be undone; start it with :func:`child_env`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ._cold import page_faults

_REPO = Path(__file__).resolve().parents[1]
WINDOWS, WINDOW_STEPS = 6, 5


def child_env() -> dict[str, str]:
    """This environment without the user's allocator choices (``MALLOC_*``, ``GLIBC_TUNABLES``,
    ``LD_PRELOAD``), so that ``default`` means glibc's own heuristics, and with the repository
    on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.pop("LD_PRELOAD", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO), os.environ.get("PYTHONPATH")) if p)
    return env


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("twin", "stage1", "stage2") or argv[1] not in ("default", "steady"):
        print("usage: python -m benchmarks._step_faults twin|stage1|stage2 default|steady", file=sys.stderr)
        return 2
    import torch
    import torch.nn.functional as F

    from biper_theory.nn.heap import steady_heap
    from biper_theory.nn.models import build_model

    applied = steady_heap() if argv[1] == "steady" else False
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    model = build_model(
        "resnet-small",
        num_classes=10,
        in_channels=1,
        omega0=20.0,
        stage=2 if argv[0] == "stage2" else 1,
        full_precision=argv[0] == "twin",
        generator=g,
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    windows: list[float] = []
    t0 = time.perf_counter()
    for _ in range(WINDOWS):
        f0 = page_faults()
        for _ in range(WINDOW_STEPS):
            step()
        windows.append((page_faults() - f0) / WINDOW_STEPS)
    seconds = time.perf_counter() - t0
    row = {
        "steady_heap": applied,
        "faults_per_step": sum(windows) / WINDOWS,
        "least_window": min(windows),
        "most_window": max(windows),
        "seconds_per_step": seconds / (WINDOWS * WINDOW_STEPS),
    }
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
