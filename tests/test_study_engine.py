"""The study engine: specs, storage URLs, the shared grid queue, resume, dead-worker re-runs."""

from __future__ import annotations

import math
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

optuna = pytest.importorskip("optuna", reason="the study extra (optuna) is not installed")
pytest.importorskip("torch", reason="the nn extra (torch) is not installed")

from optuna.trial import TrialState  # noqa: E402

from biper_theory.study import engine  # noqa: E402
from biper_theory.study.engine import StudySpec, open_storage, open_study, resolve_storage, run_worker  # noqa: E402

TINY = {"epochs": 1, "batch_size": 128}


def _fake_objective(trial: Any, spec: StudySpec) -> float:
    """A stand-in for training: records which worker ran the cell, returns a number."""
    omega0 = float(trial.suggest_categorical("omega0", list(spec.omega0)))
    seed = int(trial.suggest_categorical("seed", list(spec.seeds)))
    trial.set_user_attr("ran_by", multiprocessing.current_process().name)
    time.sleep(0.05)
    return omega0 + seed


# ---------------------------------------------------------------------------------------------
# spec


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"omega0": (), "seeds": (0,)}, "empty", id="empty-grid"),
        pytest.param({"omega0": (2.0,), "seeds": ()}, "empty", id="no-seeds"),
        pytest.param({"omega0": (0.0, 2.0), "seeds": (0,)}, r"\(0, inf\)", id="omega0-zero"),
        pytest.param({"omega0": (-1.0,), "seeds": (0,)}, r"\(0, inf\)", id="omega0-negative"),
        pytest.param({"omega0": (math.inf,), "seeds": (0,)}, r"\(0, inf\)", id="omega0-inf"),
        pytest.param({"omega0": (2.0, 2.0), "seeds": (0,)}, "distinct", id="duplicate-omega0"),
        pytest.param({"omega0": (2.0,), "seeds": (1, 1)}, "distinct", id="duplicate-seed"),
        pytest.param({"omega0": (2.0,), "seeds": (-1,)}, ">= 0", id="negative-seed"),
        pytest.param({"omega0": (2.0, 80.0), "seeds": (0,), "search": True}, "n_trials", id="search-no-n"),
        pytest.param(
            {"omega0": (2.0,), "seeds": (0,), "search": True, "n_trials": 3}, "two bounds", id="one-bound"
        ),
        pytest.param({"omega0": (2.0,), "seeds": (0,), "n_trials": 3}, "only applies", id="grid-n-trials"),
        pytest.param(
            {"omega0": (2.0,), "seeds": (0,), "train": {"omega0": 3}}, "set by the study", id="reserved"
        ),
    ],
)
def test_spec_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StudySpec(**kwargs)


def test_spec_json_round_trip_and_cells() -> None:
    spec = StudySpec(omega0=(2, 5.5), seeds=(0, 3), train={"epochs": 2})
    assert StudySpec.from_json(spec.to_json()) == spec
    assert spec.cells() == [(2.0, 0), (5.5, 0), (2.0, 3), (5.5, 3)]
    search = StudySpec(omega0=(2, 80), seeds=(0,), search=True, n_trials=4)
    assert StudySpec.from_json(search.to_json()) == search and search.cells() == []


def test_train_config_checks_training_settings() -> None:
    with pytest.raises(ValueError, match="epochs"):
        StudySpec(omega0=(2.0,), seeds=(0,), train={"epochs": 0}).train_config(2.0, 0)
    cfg = StudySpec(omega0=(2.0,), seeds=(0,), train=TINY).train_config(2.0, 7)
    assert (cfg.omega0, cfg.seed, cfg.epochs, cfg.progress) == (2.0, 7, 1, False)


# ---------------------------------------------------------------------------------------------
# storage URLs


def test_resolve_storage(tmp_path: Path) -> None:
    url = resolve_storage(tmp_path / "sub" / "s.db")
    assert url == f"sqlite:///{tmp_path / 'sub' / 's.db'}" and (tmp_path / "sub").is_dir()
    assert resolve_storage("postgresql+psycopg://u:p@localhost/db").startswith("postgresql")
    for bad, match in (
        ("redis://localhost", "unknown scheme"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:////proc/nope/s.db", "cannot create|not writable"),
        (str(tmp_path), "is a folder"),
    ):
        with pytest.raises(ValueError, match=match):
            resolve_storage(bad)


def test_redacted_password_in_errors() -> None:
    assert engine._redact("postgresql://me:secret@host/db") == "postgresql://me:***@host/db"


# ---------------------------------------------------------------------------------------------
# queue, resume, spec mismatch


def test_worker_keeps_its_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("biper_theory.nn.heap.steady_heap", lambda: calls.append(1) or True)
    spec = StudySpec(omega0=(2.0,), seeds=(0,), train=TINY)
    assert run_worker(resolve_storage(tmp_path / "s.db"), "h", spec, objective_fn=_fake_objective) == 1
    assert calls == [1]  # once, before the first trial


def test_grid_runs_once_and_resumes_with_nothing(tmp_path: Path) -> None:
    url = resolve_storage(tmp_path / "s.db")
    spec = StudySpec(omega0=(2.0, 20.0), seeds=(0, 1), train=TINY)
    assert run_worker(url, "g", spec, max_trials=1, objective_fn=_fake_objective) == 1
    assert run_worker(url, "g", spec, objective_fn=_fake_objective) == 3
    assert run_worker(url, "g", spec, objective_fn=_fake_objective) == 0
    study = open_study(open_storage(url), "g")
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert sorted((t.params["omega0"], t.params["seed"]) for t in done) == sorted(spec.cells())
    assert len(study.trials) == 4


def test_other_grid_under_same_name_is_refused(tmp_path: Path) -> None:
    url = resolve_storage(tmp_path / "s.db")
    spec = StudySpec(omega0=(2.0, 20.0), seeds=(0,), train=TINY)
    run_worker(url, "g", spec, objective_fn=_fake_objective)
    for other in (
        StudySpec(omega0=(2.0, 40.0), seeds=(0,), train=TINY),
        StudySpec(omega0=(2.0, 20.0), seeds=(0,), train={**TINY, "epochs": 2}),
    ):
        with pytest.raises(ValueError, match="exists with another grid"):
            run_worker(url, "g", other, objective_fn=_fake_objective)


def test_missing_study_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no study"):
        open_study(open_storage(resolve_storage(tmp_path / "s.db")), "nope")


def _worker_process(url: str, name: str, spec_json: dict[str, Any], out: Any) -> None:
    out.put(run_worker(url, name, StudySpec.from_json(spec_json), objective_fn=_fake_objective))


def test_two_processes_share_a_grid_without_duplicates(tmp_path: Path) -> None:
    url = resolve_storage(tmp_path / "s.db")
    spec = StudySpec(omega0=(2.0, 5.0, 20.0, 80.0), seeds=(0, 1, 2), train=TINY)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker_process, args=(url, "two", spec.to_json(), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    counts = [q.get(timeout=5) for _ in procs]
    study = open_study(open_storage(url), "two")
    cells = [(t.params["omega0"], t.params["seed"]) for t in study.trials]
    assert sum(counts) == len(spec.cells()) == len(study.trials)
    assert sorted(cells) == sorted(spec.cells())  # every cell once, none twice
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_dead_worker_trial_is_rerun(tmp_path: Path) -> None:
    url = resolve_storage(tmp_path / "s.db")
    spec = StudySpec(omega0=(2.0, 20.0), seeds=(0,), train=TINY)
    storage = open_storage(url, heartbeat_interval=1, grace_period=2)
    study = open_study(storage, "dead", spec)
    claimed = engine._claim_waiting(study)  # a worker claims a cell, beats once, and dies
    assert claimed is not None
    storage.record_heartbeat(claimed)
    time.sleep(3.0)
    ran = run_worker(url, "dead", spec, heartbeat_interval=1, grace_period=2, objective_fn=_fake_objective)
    assert ran == 2
    trials = open_study(open_storage(url), "dead").trials
    states = sorted(t.state.name for t in trials)
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    done = sorted((t.params["omega0"], t.params["seed"]) for t in trials if t.state == TrialState.COMPLETE)
    assert done == sorted(spec.cells())


def test_search_mode_stops_at_n_trials(tmp_path: Path) -> None:
    url = resolve_storage(tmp_path / "s.db")
    spec = StudySpec(omega0=(2.0, 80.0), seeds=(0, 1), train=TINY, search=True, n_trials=3)

    def fake(trial: Any, s: StudySpec) -> float:
        w = trial.suggest_float("omega0", s.omega0[0], s.omega0[1], log=True)
        return -abs(math.log(w / 20.0))

    assert run_worker(url, "s", spec, objective_fn=fake) == 3
    assert run_worker(url, "s", spec, objective_fn=fake) == 0
    study = open_study(open_storage(url), "s")
    assert all(2.0 <= t.params["omega0"] <= 80.0 for t in study.trials)


def test_real_trial_records_every_field(tmp_path: Path) -> None:
    from biper_theory.study.records import LAYER_FIELDS

    url = resolve_storage(tmp_path / "s.db")
    spec = StudySpec(omega0=(20.0,), seeds=(0,), train=TINY)
    reports: list[Any] = []
    assert run_worker(url, "real", spec, on_trial=reports.append) == 1
    assert reports[0].state == "COMPLETE" and reports[0].omega0 == 20.0
    (trial,) = open_study(open_storage(url), "real").trials
    (run,) = trial.user_attrs["runs"]
    assert run["omega0"] == 20.0 and run["seed"] == 0
    for stage in ("stage1", "stage2"):
        layers = run[stage]["layers"]
        assert "overall" in layers and len(layers) >= 2
        for fields in layers.values():
            assert set(LAYER_FIELDS) <= set(fields)
            assert 0.0 <= fields["qe"] <= 0.5 and 0.0 <= fields["share_past_half_period"] <= 1.0
        assert 0.0 <= run[stage]["test_accuracy"] <= 1.0 and 0.0 <= run[stage]["val_accuracy"] <= 1.0
        assert run[stage]["selection"] == "val"
        assert [r["epoch"] for r in run[stage]["trajectory"]] == [0, 1]  # before training, after epoch 1
    sw = run["switch"]
    assert sw["drop_test"] == pytest.approx(sw["stage1_forward_test_accuracy"] - sw["test_accuracy"])
    assert sw["drop_val"] == pytest.approx(sw["stage1_forward_val_accuracy"] - sw["val_accuracy"])
    assert (
        trial.value == pytest.approx(run["objective"]) and run["objective"] == run["stage2"]["val_accuracy"]
    )
