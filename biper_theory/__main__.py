"""``python -m biper_theory`` is the same as the ``biper-theory`` command."""

import sys

from .cli import main

sys.exit(main())
