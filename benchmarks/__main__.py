"""``python -m benchmarks``: see :mod:`benchmarks.runner`."""

from __future__ import annotations

import sys

from .runner import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
