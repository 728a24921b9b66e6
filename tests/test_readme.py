"""README.md: every ```python block runs, in order, in one namespace (as a reader pastes them).

The claims the README makes about the install are checked against pyproject.toml here too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _python_blocks() -> list[str]:
    return _FENCE.findall(README.read_text(encoding="utf-8"))


def test_readme_has_python_blocks() -> None:
    assert len(_python_blocks()) >= 2


def test_python_blocks_run_in_order_in_one_namespace() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    for i, block in enumerate(_python_blocks()):
        try:
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as exc:  # name the block in the failure, not only the line
            pytest.fail(f"README python block {i + 1} raised {type(exc).__name__}: {exc}\n{block}")


def test_each_block_imports_what_it_uses() -> None:
    # a block that runs only because an earlier one imported numpy would fail when pasted alone
    for i, block in enumerate(_python_blocks()):
        if re.search(r"\bnp\.", block):
            assert re.search(r"^import numpy as np$", block, re.MULTILINE), f"block {i + 1} uses np"


def test_stated_python_matches_requires_python() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    spec = meta["project"]["requires-python"]
    text = README.read_text(encoding="utf-8")
    assert spec == ">=3.11,<3.12"
    assert f'requires-python = "{spec}"' in text
    commands = re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    venvs = [line for block in commands for line in block.splitlines() if "-m venv" in line]
    assert venvs and all(line.startswith("python3.11 -m venv") for line in venvs), venvs


def test_reproduce_route_count_agrees_with_cli_help() -> None:
    from biper_theory.cli import reproduce

    text = README.read_text(encoding="utf-8")
    assert "4 routes" in reproduce.HELP and "checked four independent ways" in text
    assert "### Four independent routes" in text
