"""``biper-theory study run|export|report``: resume, two workers, bad input, export ↔ report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("optuna", reason="the study extra (optuna) is not installed")
pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

from scipy import stats

from biper_theory.cli import main
from biper_theory.study.export import read_rows
from biper_theory.study.records import LAYER_FIELDS

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "128", "--workers", "1"]
GRID = ["--omega0", "2", "20", "--seeds", "0", "1"]
REPO = Path(__file__).resolve().parents[1]


def _exit_code(argv: list[str]) -> int:
    """``main``'s status, also where argparse itself exits (a missing value)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any training attempt fails the test: bad input must be refused before it."""
    import biper_theory.nn.train as nt

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("training started")

    monkeypatch.setattr(nt, "train_two_stage", refuse)


@pytest.fixture(scope="module")
def done_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2 ω₀ × 2 seeds × 1 epoch digits study, run by two concurrent worker processes."""
    tmp = tmp_path_factory.mktemp("study")
    db = tmp / "s.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [
        sys.executable,
        "-m",
        "biper_theory",
        "study",
        "run",
        "--storage",
        str(db),
        "--name",
        "d",
        *TINY,
        *GRID,
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ran = [int(out.split("ran ")[1].split()[0]) for out, _ in outs]
    assert sum(ran) == 4  # the two workers together ran the 4 cells
    for _, err in outs:  # one line per finished trial, though stderr is a pipe
        assert all(line.startswith("trial ") for line in err.strip().splitlines())
    return db


def test_two_workers_each_cell_once_and_rerun_runs_nothing(
    done_study: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    assert main(["study", "run", "--storage", str(done_study), "--name", "d", *TINY, *GRID]) == 0
    assert "ran 0 trial(s)" in capsys.readouterr().out
    import optuna

    study = optuna.load_study(study_name="d", storage=f"sqlite:///{done_study}")
    cells = sorted((t.params["omega0"], t.params["seed"]) for t in study.trials)
    assert cells == [(2.0, 0), (2.0, 1), (20.0, 0), (20.0, 1)]
    assert {t.state.name for t in study.trials} == {"COMPLETE"}


def test_export_has_every_field(done_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("csv", "json"):
        out = tmp_path / f"e.{fmt}"
        assert (
            main(
                [
                    "study",
                    "export",
                    "--storage",
                    str(done_study),
                    "--name",
                    "d",
                    "--format",
                    fmt,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        rows = read_rows(out.read_text(), fmt)
        assert [(r["omega0"], r["seed"]) for r in rows] == [(2.0, 0), (2.0, 1), (20.0, 0), (20.0, 1)]
        for r in rows:
            for key in (
                "stage1_val_accuracy",
                "stage1_test_accuracy",
                "stage2_val_accuracy",
                "stage2_test_accuracy",
                "switch_val_accuracy",
                "switch_test_accuracy",
                "switch_drop_val",
                "switch_drop_test",
                "stage1_seconds",
                "stage2_seconds",
            ):
                assert isinstance(r[key], float), key
            assert r["switch_drop_test"] == pytest.approx(
                r["switch_stage1_test_accuracy"] - r["switch_test_accuracy"]
            )
            for stage in ("stage1", "stage2"):
                for field in LAYER_FIELDS:
                    assert f"{stage}.overall.{field}" in r, field
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["meta"]["spec"]["omega0"] == [2.0, 20.0] and "torch" in doc["meta"]["versions"]
    timing = doc["meta"]["timing"]
    assert timing["trials"] == 4 and timing["wall_s"] > 0 and timing["trials_per_hour"] > 0
    capsys.readouterr()
    assert main(["study", "export", "--storage", str(done_study), "--name", "d"]) == 0  # CSV on stdout
    assert capsys.readouterr().out.startswith("trial,omega0,seed,")


def test_report_numbers_equal_recomputation_from_export(
    done_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "e.csv"
    assert main(["study", "export", "--storage", str(done_study), "--name", "d", "--out", str(csv_path)]) == 0
    capsys.readouterr()
    assert main(["study", "report", "--from", str(csv_path), "--format", "json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert (
        main(["study", "report", "--storage", str(done_study), "--name", "d", "--out", str(tmp_path / "r")])
        == 0
    )
    from_storage = json.loads((tmp_path / "r" / "report.json").read_text())
    assert from_file == from_storage
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["d.csv", "d.pdf", "d.png", "report.json"]
    rows = read_rows(csv_path.read_text(), "csv")
    y = np.array([r["stage2_test_accuracy"] for r in rows])
    w = np.array([r["omega0"] for r in rows])
    for e in from_file["per_omega0"]:
        assert e["accuracy_mean"] == pytest.approx(y[w == e["omega0"]].mean(), rel=1e-12)
    qe = np.array([r["stage2.overall.qe"] for r in rows])
    (entry,) = [e for e in from_file["correlations"]["accuracy"] if e["quantity"] == "qe"]
    res = stats.spearmanr(qe, y)
    assert entry["raw"]["r"] == pytest.approx(res.statistic, rel=1e-12)
    (paired,) = from_file["paired"]
    assert paired["omega0"] == 2.0 and paired["reference"] == 20.0
    assert paired["mean_difference"] == pytest.approx((y[w == 2.0] - y[w == 20.0]).mean(), rel=1e-12)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        pytest.param(["--storage", "redis://localhost/0", *GRID], "unknown scheme", id="unknown-scheme"),
        pytest.param(["--storage", "/proc/biper/s.db", *GRID], "storage", id="unwritable-path"),
        pytest.param(["--omega0", "2", "0", "--seeds", "0"], "ω₀|omega0", id="omega0-zero"),
        pytest.param(["--omega0", "-5", "--seeds", "0"], "ω₀|omega0", id="omega0-negative"),
        pytest.param(["--omega0", "--seeds", "0"], "omega0", id="empty-grid"),
        pytest.param(["--omega0", "2", "--seeds", "0", "0"], "distinct", id="duplicate-seed"),
        pytest.param(["--omega0", "2", "--seeds", "0", "--epochs", "0"], "epochs", id="bad-train-option"),
        pytest.param(["--omega0", "2", "80", "--search"], "n-trials", id="search-without-n"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_trained(
    argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    full = ["study", "run", "--name", "bad", *TINY]
    if "--storage" not in argv:
        full += ["--storage", str(tmp_path / "s.db")]
    assert _exit_code([*full, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert re.search(match, err), err
    assert not list(tmp_path.glob("*.db")) or "--storage" in argv or match != "unknown scheme"


def test_same_name_other_grid_is_refused(
    done_study: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    assert (
        main(
            [
                "study",
                "run",
                "--storage",
                str(done_study),
                "--name",
                "d",
                *TINY,
                "--omega0",
                "2",
                "40",
                "--seeds",
                "0",
                "1",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exists with another grid" in err and "omega0" in err


def test_export_and_report_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", "export", "--storage", str(tmp_path / "none.db"), "--name", "x"]) == 2
    assert "no SQLite file" in capsys.readouterr().err
    assert main(["study", "report", "--from", str(tmp_path / "none.csv")]) == 2
    assert "no file" in capsys.readouterr().err
    assert main(["study", "report"]) == 2
    assert "--name" in capsys.readouterr().err
    assert main(["study"]) == 2


@pytest.mark.parametrize(
    ("cores", "threads", "workers"), [(2, 1, 2), (2, 2, 1), (2, 4, 1), (16, 2, 8), (1, 1, 1)]
)
def test_default_workers_fill_the_usable_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, threads: int, workers: int
) -> None:
    from biper_theory.cli import study as cli_study

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert cli_study._default_workers(threads) == workers
