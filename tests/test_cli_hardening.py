"""Bad input through the real command line, one table: exit 2, one line, nothing left behind.

Every case of issue #11 (and the ones added while fixing it) runs ``python -m biper_theory``
in a subprocess, in a fresh folder that holds only the case's input files. Each must

* exit with status 2,
* print nothing on stdout and exactly one line on stderr, ``biper-theory: error: ...``,
  without a traceback, an internal ``.part`` name or a NaN/inf,
* contain the case's fragment (what the user needs to read), and
* leave the folder exactly as it was (no output, no half-written file, no lock file).

The second half checks the success paths the issue names: no command exits 0 with NaN or inf
in its output, and every ``--format json`` output is strict JSON.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cli(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("RANK", None)
    return subprocess.run(
        [sys.executable, "-m", "biper_theory", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _tree(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` with its size (folders: -1)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1)
        for p in sorted(folder.rglob("*"))
    }


def _raise_constant(name: str) -> None:
    raise ValueError(f"non-strict JSON constant {name}")


def strict_json(text: str) -> object:
    return json.loads(text, parse_constant=_raise_constant)


# ------------------------------------------------------------------------------------------
# input files, each written by a small function into the case's folder
# ------------------------------------------------------------------------------------------
def _weights(d: Path) -> None:
    np.save(d / "w.npy", np.random.default_rng(0).laplace(0.0, 0.05, 1000).astype(np.float32))


def _npy_bomb(d: Path) -> None:
    with open(d / "bomb.npy", "wb") as f:  # a header claiming 1e11 float32 (373 GiB), 64 bytes of data
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**11,)})
        f.write(b"\0" * 64)


def _npz_bomb(d: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    with zipfile.ZipFile(d / "bomb.npz", "w") as z:
        z.writestr("conv.npy", buf.getvalue() + b"\0" * 80)


def _pt_bomb(d: Path) -> None:
    torch = pytest.importorskip("torch")
    # 1.6 KB on disk; the stride-0 view claims 1e11 elements
    torch.save({"layer1.0.conv1.weight": torch.zeros(1).expand(10**11)}, d / "bomb.pt")


def _pt_bad_meta(d: Path) -> None:
    torch = pytest.importorskip("torch")
    sd = {"layer1.0.conv1.weight": torch.randn(4, 4, 3, 3) * 0.05}
    torch.save({"format": "biper-theory/1", "state_dict": sd, "meta": {"omega0": "twenty"}}, d / "meta.pt")


def _one_weight(d: Path) -> None:
    np.save(d / "one.npy", np.array([0.1]))


def _same_magnitude(d: Path) -> None:
    np.save(d / "same.npy", np.array([0.1, -0.1] * 50))


def _bools(d: Path) -> None:
    np.save(d / "bool.npy", np.ones(100, dtype=bool))


def _dates(d: Path) -> None:
    np.save(d / "dates.npy", np.array(["2020-01-01"] * 10, dtype="datetime64[D]"))


def _text_npz(d: Path) -> None:
    (d / "text.npz").write_text("not an archive\n")


def _text_npy(d: Path) -> None:
    (d / "text.npy").write_text("not an array\n")


def _objects_npz(d: Path) -> None:
    np.savez(d / "objects.npz", conv=np.array([1, "x"], dtype=object))


def _foreign_npz(d: Path) -> None:
    import zipfile

    with zipfile.ZipFile(d / "foreign.npz", "w") as z:
        z.writestr("readme.txt", "hello")


def _big_float32(d: Path) -> None:
    np.save(d / "big.npy", np.full(100, 1e19, dtype=np.float32))


def _a_file(d: Path) -> None:
    (d / "afile").write_text("x\n")


def _nonempty(d: Path) -> None:
    (d / "full").mkdir()
    (d / "full" / "notes.txt").write_text("mine\n")


def _weights_and_file(d: Path) -> None:
    _weights(d)
    _a_file(d)


def _weights_and_folder(d: Path) -> None:
    _weights(d)
    (d / "folder").mkdir()


@dataclass(frozen=True)
class Case:
    argv: list[str]
    fragment: str
    setup: Callable[[Path], None] | None = None
    locked: str | None = None  # a folder the test holds locked, as another run would


CASES: dict[str, Case] = {
    # 1. outputs checked before any work
    "train-out-is-a-file": Case(["train", "--out", "afile"], "'afile' is a file, not a folder", _a_file),
    "train-out-under-a-file": Case(["train", "--out", "afile/run"], "is not a folder", _a_file),
    "train-out-unwritable": Case(["train", "--out", "/proc/biper-run"], "cannot create it"),
    "reproduce-out-is-a-file": Case(["reproduce", "--out", "afile"], "is a file, not a folder", _a_file),
    "reproduce-out-unwritable": Case(["reproduce", "--out", "/proc/biper-run"], "cannot create it"),
    "figures-out-is-a-file": Case(["figures", "--out", "afile"], "is a file, not a folder", _a_file),
    "pick-omega-out-is-a-folder": Case(
        ["pick-omega", "w.npy", "--omega0", "20", "--out", "folder"],
        "is a folder, not a file",
        _weights_and_folder,
    ),
    "pick-omega-out-under-a-file": Case(
        ["pick-omega", "w.npy", "--omega0", "20", "--out", "afile/r.txt"],
        "is not a folder",
        _weights_and_file,
    ),
    "pick-omega-plot-unwritable": Case(
        ["pick-omega", "w.npy", "--omega0", "20", "--plot", "/proc/biper.png"],
        "--plot '/proc/biper.png'",
        _weights,
    ),
    "pick-omega-out-and-plot-same": Case(
        ["pick-omega", "w.npy", "--omega0", "20", "--out", "x.png", "--plot", "x.png"], "same file", _weights
    ),
    # 2. a non-empty or busy output folder
    "train-out-not-empty": Case(["train", "--out", "full"], "not empty (holds 'notes.txt')", _nonempty),
    "reproduce-out-not-empty": Case(["reproduce", "--out", "full"], "add --overwrite", _nonempty),
    "figures-out-not-empty": Case(["figures", "--out", "full"], "add --overwrite", _nonempty),
    "train-out-busy": Case(["train", "--out", "busy"], "another run is writing to 'busy'", locked="busy"),
    "figures-out-busy": Case(["figures", "--out", "busy"], "another run is writing", locked="busy"),
    "reproduce-out-busy": Case(["reproduce", "--out", "busy"], "another run is writing", locked="busy"),
    # 3. memory bombs: refused from what the file holds, before reading
    "npy-header-claims-1e11": Case(
        ["pick-omega", "bomb.npy", "--omega0", "20"], "claims shape (100000000000,) of float32", _npy_bomb
    ),
    "npz-member-claims-1e11": Case(
        ["pick-omega", "bomb.npz", "--omega0", "20"], "but the file holds only", _npz_bomb
    ),
    "pt-stride-0-1e11": Case(["pick-omega", "bomb.pt", "--omega0", "20"], "stride-0", _pt_bomb),
    # 4. NaN/inf never reach the user
    "omega0-1e300": Case(
        ["pick-omega", "w.npy", "--omega0", "1e300"], "omega0 * max|w| must be <= 10000", _weights
    ),
    "omega0-nan": Case(["pick-omega", "w.npy", "--omega0", "nan"], "--omega0 must be finite", _weights),
    "single-weight": Case(["pick-omega", "one.npy", "--omega0", "20"], "has 1 weight", _one_weight),
    "single-weight-json": Case(
        ["pick-omega", "one.npy", "--omega0", "20", "--format", "json"], "need at least 2", _one_weight
    ),
    "all-one-magnitude": Case(
        ["pick-omega", "same.npy", "--omega0", "20", "--format", "json"],
        "empirical.sqnr_db.value is infinite",
        _same_magnitude,
    ),
    "qe-gamma-1e200": Case(["qe", "--gamma", "1e200"], "gamma must be in [-1e+150, 1e+150]"),
    "qe-gamma-1e200-json": Case(["qe", "--gamma", "1e200", "--format", "json"], "gamma must be in"),
    "qe-normalized-overflows": Case(
        ["qe", "--b", "1e-155", "--omega0", "1e-155", "--gamma", "1e-150", "--format", "json"],
        "normalized_qe overflows float64",
    ),
    "qe-b-1e400": Case(["qe", "--b", "1e400"], "b must be finite"),
    "boolean-weights": Case(["pick-omega", "bool.npy", "--omega0", "20"], "got a boolean", _bools),
    # 5. (Python API: tests/test_validation.py) dates through the CLI
    "datetime-weights": Case(["pick-omega", "dates.npy", "--omega0", "20"], "got a date or time", _dates),
    # 6. messages that say what is wrong
    "folder-as-checkpoint": Case(["pick-omega", "."], "is a folder, not a checkpoint file"),
    "dev-zero-as-checkpoint": Case(["pick-omega", "/dev/zero"], "/dev/zero is not a regular file"),
    "text-file-named-npz": Case(["pick-omega", "text.npz", "--omega0", "20"], "not a zip archive", _text_npz),
    "text-file-named-npy": Case(["pick-omega", "text.npy", "--omega0", "20"], "no NumPy header", _text_npy),
    "objects-in-npz": Case(["pick-omega", "objects.npz", "--omega0", "20"], "never unpickled", _objects_npz),
    "foreign-member-in-npz": Case(
        ["pick-omega", "foreign.npz", "--omega0", "20"], "not a .npy member", _foreign_npz
    ),
    "missing-npz-named-once": Case(["pick-omega", "gone.npz", "--omega0", "20"], "gone.npz: no such file"),
    "float32-overflow": Case(
        ["pick-omega", "big.npy", "--omega0", "1e-20"], "float32 (|w| ~ 1e17 or more", _big_float32
    ),
    "meta-omega0-not-a-number": Case(
        ["pick-omega", "meta.pt"], "meta.pt: meta['omega0'] must be", _pt_bad_meta
    ),
    "target-sqnr-in-db": Case(
        ["pick-omega", "w.npy", "--omega0", "20", "--criterion", "target-sqnr", "--target", "100"],
        "sqnr_db must be in (3.0103, 7.2255) dB",
        _weights,
    ),
    # added: other arguments checked before work
    "figures-mc-samples-1": Case(["figures", "--out", "new", "--mc-samples", "1"], "--mc-samples must be"),
    "figures-unknown-only": Case(["figures", "--out", "new", "--only", "fig9"], "unknown figure 'fig9'"),
    "pick-omega-bad-plot-suffix": Case(
        ["pick-omega", "w.npy", "--omega0", "20", "--plot", "x.gif"], ".png", _weights
    ),
}

#: cases whose command imports torch (a few seconds each)
TORCH_CASES = {"pt-stride-0-1e11", "meta-omega0-not-a-number"}


@dataclass
class Outcome:
    res: subprocess.CompletedProcess[str]
    before: dict[str, int]
    after: dict[str, int]
    elapsed: float


def _run_case(name: str, base: Path) -> Outcome:
    case = CASES[name]
    work = base / name
    work.mkdir()
    if case.setup is not None:
        case.setup(work)
    fd = None
    if case.locked is not None:  # held as a concurrent run would hold it
        (work / case.locked).mkdir()
        fd = os.open(work / case.locked / ".biper-theory.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    before = _tree(work)
    try:
        t0 = time.perf_counter()
        res = _cli(case.argv, work)
        elapsed = time.perf_counter() - t0
    finally:
        if fd is not None:
            os.close(fd)
    return Outcome(res, before, _tree(work), elapsed)


def _needs_torch(name: str) -> bool:
    return name in TORCH_CASES or CASES[name].argv[0] == "train"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case run once, a few at a time (each is a fresh interpreter; most of the time
    is the interpreter and numpy starting)."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        import torch  # noqa: F401

        names = list(CASES)
    except ModuleNotFoundError:
        names = [n for n in CASES if not _needs_torch(n)]
    base = tmp_path_factory.mktemp("cases")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(names, pool.map(lambda n: _run_case(n, base), names), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_in_one_line(name: str, outcomes: dict[str, Outcome]) -> None:
    if name not in outcomes:
        pytest.skip("needs torch (the nn extra)")
    case, out = CASES[name], outcomes[name]
    res, lines = out.res, out.res.stderr.splitlines()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert res.stdout == ""
    assert len(lines) == 1, res.stderr[-2000:]
    assert lines[0].startswith("biper-theory: error: ")
    assert "Traceback" not in res.stderr and ".part" not in res.stderr and "[Errno" not in res.stderr
    assert case.fragment in lines[0], lines[0]
    assert out.after == out.before, "the refused command changed its folder"
    assert out.elapsed < 180, f"refusal took {out.elapsed:.1f} s"  # seconds when idle; see the report


def test_missing_path_is_named_once(tmp_path: Path) -> None:
    res = _cli(["pick-omega", "gone.npz", "--omega0", "20"], tmp_path)
    assert res.returncode == 2 and res.stderr.count("gone.npz") == 1, res.stderr


def test_table_covers_every_defect_of_the_issue() -> None:
    # the groups of issue #11 that go through the CLI, by the case-name prefixes above
    assert len(CASES) >= 40
    for needed in ("train-out", "reproduce-out", "figures-out", "busy", "npy-header", "stride-0", "1e300",
                   "single-weight", "qe-gamma", "boolean", "datetime", "dev-zero", "text-file-named-npz",
                   "float32-overflow", "meta-omega0", "target-sqnr"):  # fmt: skip
        assert any(needed in k for k in CASES), needed


# ------------------------------------------------------------------------------------------
# success paths: strict JSON, no NaN/inf behind exit 0, outputs that are documented
# ------------------------------------------------------------------------------------------
def _no_nonfinite_words(text: str) -> None:
    for word in text.replace(",", " ").replace("(", " ").replace(")", " ").split():
        assert word.lower().strip("+-") not in ("nan", "inf", "infinity"), word


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["qe", "--format", "json"], id="qe"),
        pytest.param(["qe", "--b", "1e-155", "--omega0", "1e-155", "--format", "json"], id="qe-tiny-a"),
        pytest.param(["errata", "--format", "json"], id="errata"),
        pytest.param(["pick-omega", "w.npy", "--omega0", "20", "--format", "json"], id="pick-omega"),
        pytest.param(["figures", "--out", "f", "--only", "fig1_binarizer", "--format", "json"], id="figures"),
    ],
)
def test_json_outputs_are_strict(argv: list[str], tmp_path: Path) -> None:
    _weights(tmp_path)
    res = _cli(argv, tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    strict_json(res.stdout)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["qe", "--b", "1e-155", "--omega0", "1e-155"], id="qe-tiny-a"),
        pytest.param(["qe", "--b", "1e-3", "1e3", "--omega0", "1", "--gamma", "1e150"], id="qe-gamma-max"),
        pytest.param(["pick-omega", "w.npy", "--omega0", "20"], id="pick-omega"),
        pytest.param(["pick-omega", "w.npy", "--omega0", "20", "--format", "csv"], id="pick-omega-csv"),
    ],
)
def test_text_outputs_hold_no_nan_or_inf(argv: list[str], tmp_path: Path) -> None:
    _weights(tmp_path)
    res = _cli(argv, tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    body = res.stdout.split("\nfit: ")[0]  # pick-omega's footnotes name "inf" in prose
    _no_nonfinite_words(body)


def test_pick_omega_csv_carries_the_recommendation(tmp_path: Path) -> None:
    _weights(tmp_path)
    res = _cli(["pick-omega", "w.npy", "--omega0", "20", "--format", "csv", "--out", "r.csv"], tmp_path)
    assert res.returncode == 0 and res.stdout == "", res.stderr
    import csv

    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert rows and {"recommended_omega0", "criterion", "binding_layer"} <= set(rows[0])
    assert math.isfinite(float(rows[0]["recommended_omega0"])) and rows[0]["criterion"] == "avoid-peak"
    # the old spellings still work: --format table is text, -o is --out
    old = _cli(["pick-omega", "w.npy", "--omega0", "20", "--format", "table", "-o", "t.txt"], tmp_path)
    new = _cli(["pick-omega", "w.npy", "--omega0", "20", "--format", "text", "--out", "u.txt"], tmp_path)
    assert old.returncode == new.returncode == 0
    assert (tmp_path / "t.txt").read_text() == (tmp_path / "u.txt").read_text()


def test_figures_rerun_into_own_folder_and_overwrite(tmp_path: Path) -> None:
    argv = ["figures", "--only", "fig1_binarizer", "--quiet", "--out", "f"]
    assert _cli(argv, tmp_path).returncode == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "f").iterdir()}
    assert ".biper-theory.lock" not in first  # the lock is gone once the run ends
    assert _cli(argv, tmp_path).returncode == 0  # a folder of its own files is rewritten
    assert {p.name: p.read_bytes() for p in (tmp_path / "f").iterdir()} == first  # byte for byte
    (tmp_path / "f" / "mine.txt").write_text("x")
    assert _cli(argv, tmp_path).returncode == 2
    assert _cli([*argv, "--overwrite"], tmp_path).returncode == 0
    assert (tmp_path / "f" / "mine.txt").read_text() == "x"


def test_train_json_is_a_short_strict_summary(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    argv = ["train", "--stage", "1", "--epochs", "1", "--out", "run", "--format", "json", "--no-progress"]
    res = _cli(argv, tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = strict_json(res.stdout)
    assert isinstance(summary, dict)
    assert len(res.stdout.splitlines()) < 60  # the per-epoch data stay in metrics.json
    run = summary["runs"][0]
    assert Path(tmp_path / run["metrics"]).is_file() or Path(run["metrics"]).is_file()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "metrics.json"]
    again = _cli(argv, tmp_path, timeout=600)  # the same --out again: refused before training
    assert again.returncode == 2 and "not empty" in again.stderr
