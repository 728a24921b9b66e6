"""One call in a fresh interpreter, timed inside it after its imports (benchmark 4's child).

``python -m benchmarks._cold load PATH`` times ``torch.load(PATH, weights_only=True)``;
``python -m benchmarks._cold pick PATH OMEGA0`` times ``biper-theory pick-omega PATH --omega0
OMEGA0`` (output discarded). Either prints the seconds and the minor page faults of the call
(-1 where the platform does not count them) on stdout. The modules the call needs
are imported before the clock starts: interpreter and library start-up are not the call's
cost, while everything a first call does in a new process (page faults on fresh memory and on
the mapped file, first-use set-up inside numpy, scipy and torch) is.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time


def page_faults() -> int:
    """Minor page faults of this process so far (-1 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return -1
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("load", "pick"):
        print("usage: python -m benchmarks._cold load PATH | pick PATH OMEGA0", file=sys.stderr)
        return 2
    kind, path = argv[0], argv[1]
    import torch

    if kind == "load":
        f0, t0 = page_faults(), time.perf_counter()
        torch.load(path, weights_only=True)
        elapsed, faults = time.perf_counter() - t0, page_faults() - f0
    else:
        # the modules pick-omega imports while it runs
        import biper_theory.cli.pick_omega
        import biper_theory.nn.checkpoint
        import biper_theory.select
        import biper_theory.weights  # noqa: F401
        from biper_theory.cli import main as cli

        out = io.StringIO()
        f0, t0 = page_faults(), time.perf_counter()
        with contextlib.redirect_stdout(out):
            rc = cli(["pick-omega", path, "--omega0", argv[2]])
        elapsed, faults = time.perf_counter() - t0, page_faults() - f0
        if rc != 0:
            print(f"pick-omega exited {rc}", file=sys.stderr)
            return 1
    print(repr(elapsed), faults if faults >= 0 and f0 >= 0 else -1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
