"""ω₀ studies on Optuna: run a grid (or a search) of two-stage trainings, export them, report statistics.

Needs the ``study`` extra (``pip install 'biper-theory[study]'``: Optuna, and psycopg for
PostgreSQL) and the ``nn`` extra (torch). ``import biper_theory`` never imports this package.
The engine is :mod:`~biper_theory.study.engine`, the records of a run
:mod:`~biper_theory.study.records`, the export :mod:`~biper_theory.study.export` and the
statistics :mod:`~biper_theory.study.report`.
"""

from __future__ import annotations

from .engine import DEFAULT_STORAGE, StudySpec, open_storage, open_study, resolve_storage, run_worker

__all__ = ["DEFAULT_STORAGE", "StudySpec", "open_storage", "open_study", "resolve_storage", "run_worker"]
