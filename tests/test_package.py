"""The package surface: light import, version, exports, layering."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import biper_theory

PKG = Path(biper_theory.__file__).parent


def test_import_is_light() -> None:
    # A fresh interpreter: what `import biper_theory` pulls in, nothing else loaded before.
    heavy = "{'torch', 'matplotlib', 'sympy', 'scipy.optimize', 'scipy.stats'}"
    code = f"import biper_theory, sys; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_from_metadata() -> None:
    from importlib.metadata import version

    assert biper_theory.__version__ == version("biper-theory")


def test_exports_resolve() -> None:
    for name in biper_theory.__all__:
        assert hasattr(biper_theory, name), name


def _imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


CORE = sorted(
    p.name
    for p in PKG.glob("*.py")
    if p.name not in {"figures.py", "__main__.py"}  # figures.py is the matplotlib layer
)


@pytest.mark.parametrize("module", CORE)
def test_core_never_imports_torch_or_matplotlib(module: str) -> None:
    assert not {"torch", "matplotlib"} & _imported_top_modules(PKG / module)


def test_cli_holds_no_science() -> None:
    # The CLI wires: it may import the library, never torch/scipy/sympy directly.
    for path in (PKG / "cli").glob("*.py"):
        assert not {"torch", "scipy", "sympy", "mpmath"} & _imported_top_modules(path), path.name
