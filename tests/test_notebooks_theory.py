"""The theory notebooks are stored without outputs and execute headless without error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_derivations.ipynb", "02_figures.ipynb"]


@pytest.mark.parametrize("name", [pytest.param(n, id=n.removesuffix(".ipynb")) for n in NAMES])
def test_stored_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", [pytest.param(n, id=n.removesuffix(".ipynb")) for n in NAMES])
def test_executes_without_error(name: str, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        allow_errors=False,  # any cell error raises CellExecutionError and fails the test
        resources={"metadata": {"path": str(tmp_path)}},  # nothing is written next to the notebooks
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # the figures notebook draws every figure inline
    if name == "02_figures.ipynb":
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) >= 7
