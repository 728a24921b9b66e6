"""notebooks/03_pick_omega.ipynb: stored without outputs, executes headless without error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_pick_omega.ipynb"


def test_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_executes_without_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch", reason="the notebook trains a model (nn extra)")
    from nbclient import NotebookClient

    # the kernel's temporary files go to a folder of our own, which must be empty at the end
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        allow_errors=False,  # any cell error raises CellExecutionError and fails the test
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "target-nqe" in text and "avoid-peak" in text and "min-qe-flip" in text
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) >= 2
    # torch keeps its per-user compile cache there (torchinductor_<user>, shared by every run)
    left = sorted(p.name for p in tmp.iterdir() if not p.name.startswith("torchinductor_"))
    assert left == [], f"the notebook left files in the temp folder: {left}"
