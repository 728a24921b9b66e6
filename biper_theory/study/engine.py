r"""ω₀ studies on Optuna: a grid over ω₀ × seed, or a search over ω₀; every run recorded.

A study is an Optuna storage URL plus a name. The objective (:func:`objective`) is a plain
function of a trial: it trains BiPer in two stages (:func:`biper_theory.nn.train.train_two_stage`)
at the trial's ω₀ for its seed(s) and stores everything it measured in the trial's user
attributes (accuracies of both stages, the accuracy right after the stage switch, per-layer
and overall weight statistics and the QE models at the end of each stage, timings), so that
:mod:`biper_theory.study.export` is a read of the storage, not a recomputation.

How the grid is shared between workers (not in Optuna's defaults, chosen here)
------------------------------------------------------------------------------
- The process that creates the study stores its :class:`StudySpec` in the study's user
  attributes and enqueues one trial per (ω₀, seed) cell (``Study.enqueue_trial``). A worker
  claims a cell by moving a WAITING trial to RUNNING (``storage.set_trial_state_values``), which
  succeeds for exactly one worker: on PostgreSQL/MySQL through ``SELECT ... FOR UPDATE``, on
  SQLite because every transaction of the storage opened here is ``BEGIN IMMEDIATE`` (the
  Python driver would otherwise read outside the write lock, and two workers could both see
  the same trial waiting). A worker never creates a trial of its own in grid mode, so no cell
  runs twice and none is added.
- A worker records a heartbeat while it trains; a RUNNING trial whose heartbeat is older than
  the grace period (its worker died) is failed by the next worker that looks
  (``optuna.storages.fail_stale_trials``) and re-enqueued with the same ω₀ and seed
  (``RetryHeartbeatStaleTrialCallback``), so a killed trial is re-run. A trial interrupted
  with Ctrl-C is failed and re-enqueued at once.
- Resuming is running the same command again: cells already COMPLETE are not queued again, so
  a finished study runs 0 trials. The same name with another spec (grid or training
  settings) is refused before anything trains.
- ``search`` mode asks Optuna's TPE sampler for ω₀ on a log scale between two bounds; each
  trial trains every seed at that ω₀ and its value is their mean stage-2 validation accuracy
  (the test set is never used to choose). Several workers may
  overshoot ``n_trials`` by at most one trial each (the count is read before the trial is
  asked for).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optuna is imported lazily: the core never needs it
    import optuna

__all__ = [
    "DEFAULT_STORAGE",
    "GRACE_PERIOD_S",
    "HEARTBEAT_INTERVAL_S",
    "STORAGE_SCHEMES",
    "StudySpec",
    "TrialReport",
    "objective",
    "run_record",
    "open_storage",
    "open_study",
    "print_trial",
    "resolve_storage",
    "run_worker",
    "study_spec",
]

#: Where a study lives when no storage is given: a SQLite file (embedded, nothing to start).
DEFAULT_STORAGE = "sqlite:///runs/studies.db"
#: URL schemes accepted (SQLAlchemy's dialect names, with an optional ``+driver``).
STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql")
#: Seconds between heartbeats of a running trial, and the age after which a RUNNING trial
#: counts as dead (its worker was killed) and is re-run.
HEARTBEAT_INTERVAL_S = 20
GRACE_PERIOD_S = 90
#: How often a dead trial is re-run before it is left failed.
MAX_RETRY = 3

_SPEC_KEY = "biper_theory_spec"
_READY_KEY = "biper_theory_ready"
_RUNS_KEY = "runs"
_READY_WAIT_S = 120.0


# --------------------------------------------------------------------------------------------
# what a study is


@dataclass(frozen=True)
class StudySpec:
    """The grid (or search range) and the training settings shared by every run of a study.

    Parameters
    ----------
    omega0 : sequence of float
        Grid mode: the values of ω₀ (each finite and > 0; duplicates are refused).
        Search mode: exactly two, the bounds of the log-uniform range.
    seeds : sequence of int
        Seeds of the runs (≥ 0, distinct). Grid mode: one trial per (ω₀, seed); search mode:
        every trial trains every seed.
    train : mapping
        Keyword arguments of :class:`biper_theory.nn.train.TrainConfig` common to all runs
        (``omega0``, ``seed``, ``stage``, ``out``, ``init_from`` and ``full_precision`` are set
        by the study and refused here).
    search : bool
        Search ω₀ with Optuna's TPE sampler instead of running the grid.
    n_trials : int, optional
        Search mode only: the number of ω₀ values to try (≥ 1).
    """

    omega0: tuple[float, ...]
    seeds: tuple[int, ...]
    train: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    search: bool = False
    n_trials: int | None = None

    def __post_init__(self) -> None:
        omega0 = tuple(self.omega0)
        seeds = tuple(self.seeds)
        if not omega0:
            raise ValueError("omega0: the grid is empty; give at least one value of ω₀ > 0")
        for v in omega0:
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0 < v < math.inf):
                raise ValueError(f"omega0 values must be finite and in (0, inf); got {v!r}")
        if not seeds:
            raise ValueError("seeds: the grid is empty; give at least one seed >= 0")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds must be integers >= 0; got {s!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct; got {list(seeds)}")
        if self.search:
            if len(omega0) != 2 or not omega0[0] < omega0[1]:
                raise ValueError(f"omega0: a search needs two bounds LOW < HIGH; got {list(omega0)}")
            if isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int) or self.n_trials < 1:
                raise ValueError(f"n_trials must be an integer >= 1 for a search; got {self.n_trials!r}")
        else:
            if len(set(omega0)) != len(omega0):
                raise ValueError(f"omega0 values must be distinct; got {list(omega0)}")
            if self.n_trials is not None:
                raise ValueError("n_trials only applies to a search (the grid fixes the trials)")
        reserved = {"omega0", "seed", "stage", "out", "init_from", "full_precision"} & set(self.train)
        if reserved:
            raise ValueError(f"train: {', '.join(sorted(reserved))} are set by the study; leave them out")
        object.__setattr__(self, "omega0", tuple(float(v) for v in omega0))
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "train", dict(self.train))

    def to_json(self) -> dict[str, Any]:
        """The spec as plain JSON values (what is stored with the study and compared on resume)."""
        return json.loads(
            json.dumps(
                {
                    "mode": "search" if self.search else "grid",
                    "omega0": list(self.omega0),
                    "seeds": list(self.seeds),
                    "n_trials": self.n_trials,
                    "train": dict(sorted(self.train.items())),
                }
            )
        )

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StudySpec:
        """Inverse of :meth:`to_json`."""
        return cls(
            omega0=tuple(d["omega0"]),
            seeds=tuple(d["seeds"]),
            train=dict(d["train"]),
            search=d["mode"] == "search",
            n_trials=d["n_trials"],
        )

    def cells(self) -> list[tuple[float, int]]:
        """The (ω₀, seed) cells of the grid in queue order, seed outermost (empty in search mode).

        Seed outermost: a study stopped early holds whole sweeps over ω₀ for the first seeds.
        """
        return [] if self.search else [(w, s) for s in self.seeds for w in self.omega0]

    def train_config(self, omega0: float, seed: int) -> Any:
        """The :class:`~biper_theory.nn.train.TrainConfig` of one run (checks the settings)."""
        from biper_theory.nn.train import TrainConfig

        return TrainConfig(**{"progress": False, **self.train, "omega0": float(omega0), "seed": int(seed)})


@dataclass(frozen=True)
class TrialReport:
    """What a worker says about a finished trial (one line in the CLI)."""

    number: int
    omega0: float
    seeds: tuple[int, ...]
    state: str
    value: float | None
    seconds: float
    message: str = ""


# --------------------------------------------------------------------------------------------
# storage


def resolve_storage(url: str | os.PathLike[str] | None) -> str:
    """Check a storage URL (or a path, meaning a SQLite file) and return the URL to open.

    Raises
    ------
    ValueError
        An unknown scheme, an in-memory SQLite database (it cannot be shared or resumed), or a
        SQLite file whose folder cannot be created or written.
    """
    raw = DEFAULT_STORAGE if url is None else os.fspath(url)
    if "://" not in raw:  # a plain path: a SQLite file
        if not raw:
            raise ValueError("storage: empty; give a URL such as sqlite:///studies.db")
        raw = "sqlite:///" + str(Path(raw).expanduser().resolve())
    scheme = raw.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in STORAGE_SCHEMES:
        raise ValueError(
            f"storage: unknown scheme {scheme!r} in {raw!r}; use sqlite:///FILE, "
            "postgresql://USER@HOST/DB or mysql://USER@HOST/DB"
        )
    if scheme == "sqlite":
        path = raw.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel, sqlite:////abs
        if path in ("", ":memory:") or path.startswith(":memory:") or "mode=memory" in path:
            raise ValueError("storage: an in-memory SQLite database cannot be shared or resumed; give a file")
        file = Path(path.split("?", 1)[0])
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"storage: cannot create the folder of {str(file)!r}: {exc.strerror}") from exc
        if file.is_dir():
            raise ValueError(f"storage: {str(file)!r} is a folder, not a SQLite file")
        if not os.access(file.parent, os.W_OK | os.X_OK) or (
            file.exists() and not os.access(file, os.R_OK | os.W_OK)
        ):
            raise ValueError(f"storage: {str(file)!r} is not writable")
    return raw


def open_storage(
    url: str,
    *,
    heartbeat_interval: int = HEARTBEAT_INTERVAL_S,
    grace_period: int = GRACE_PERIOD_S,
) -> optuna.storages.RDBStorage:
    """Open (creating its tables if needed) the Optuna storage at ``url``, heartbeat enabled.

    SQLite: every transaction is ``BEGIN IMMEDIATE`` and a writer waits up to 60 s for the
    lock, so that claiming a trial is atomic between processes (see the module docstring).
    """
    import optuna
    import sqlalchemy
    from sqlalchemy import event

    callback_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or (
        optuna.storages.RetryFailedTrialCallback
    )
    sqlite = url.lower().startswith("sqlite")
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 60.0, "isolation_level": None}} if sqlite else {"pool_pre_ping": True}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        last: Exception | None = None
        for attempt in range(5):  # two workers creating the tables at once: one may lose the race
            try:
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    failed_trial_callback=callback_cls(max_retry=MAX_RETRY),
                )
                break
            except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as exc:
                last = exc
                time.sleep(0.5 * (attempt + 1))
            except optuna.exceptions.StorageInternalError as exc:
                last = exc
                time.sleep(0.5 * (attempt + 1))
        else:
            first = str(last).strip().splitlines()[0] if last is not None else "unknown error"
            raise ValueError(f"storage: cannot open {_redact(url)}: {first}")
    if sqlite:

        @event.listens_for(storage.engine, "begin")
        def _begin_immediate(conn: Any) -> None:  # take the write lock before the first read
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        storage.engine.dispose()  # connections made before the listener existed are dropped
    return storage


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for error messages)."""
    head, sep, rest = url.partition("://")
    if "@" in rest:
        cred, _, host = rest.rpartition("@")
        if ":" in cred:
            return f"{head}{sep}{cred.split(':', 1)[0]}:***@{host}"
    return url


def open_study(storage: Any, name: str, spec: StudySpec | None = None) -> optuna.Study:
    """Create the study ``name`` from ``spec``, or load it and check that its spec is ``spec``.

    With ``spec=None`` the study must exist (export, report). Creating enqueues the grid.

    Raises
    ------
    ValueError
        The study exists with another spec, or does not exist and ``spec`` is ``None``, or was
        created by a worker that died before it had queued the grid.
    """
    import optuna

    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: give a non-empty study name")
    if spec is None:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError as exc:
            raise ValueError(f"name: no study {name!r} in this storage") from exc
        _wait_ready(study, name)
        return study
    sampler = optuna.samplers.TPESampler(constant_liar=True) if spec.search else None
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize", sampler=sampler)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        _wait_ready(study, name)
        stored = study.user_attrs.get(_SPEC_KEY)
        if stored != spec.to_json():
            raise ValueError(
                f"name: study {name!r} exists with another grid or settings "
                f"({_spec_difference(stored, spec.to_json())}); use another --name or the same settings"
            ) from None
        return study
    study.set_user_attr(_SPEC_KEY, spec.to_json())
    for omega0, seed in spec.cells():
        study.enqueue_trial({"omega0": omega0, "seed": seed})
    study.set_user_attr(_READY_KEY, True)
    return study


def study_spec(study: optuna.Study) -> StudySpec:
    """The :class:`StudySpec` stored with ``study``."""
    stored = study.user_attrs.get(_SPEC_KEY)
    if stored is None:
        raise ValueError(f"name: study {study.study_name!r} was not made by biper-theory study run")
    return StudySpec.from_json(stored)


def _wait_ready(study: optuna.Study, name: str) -> None:
    deadline = time.monotonic() + _READY_WAIT_S
    while not study.user_attrs.get(_READY_KEY):
        if _SPEC_KEY not in study.user_attrs and study.trials:
            raise ValueError(f"name: study {name!r} was not made by biper-theory study run")
        if time.monotonic() > deadline:
            raise ValueError(
                f"name: study {name!r} was created but its grid was never queued (its creator stopped); "
                "use another --name"
            )
        time.sleep(0.5)


def _spec_difference(stored: Any, wanted: Mapping[str, Any]) -> str:
    if not isinstance(stored, Mapping):
        return "it was not made by biper-theory study run"
    diffs = []
    for key in ("mode", "omega0", "seeds", "n_trials"):
        if stored.get(key) != wanted.get(key):
            diffs.append(f"{key}: stored {stored.get(key)}, asked {wanted.get(key)}")
    old, new = stored.get("train", {}), wanted.get("train", {})
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            diffs.append(f"{key}: stored {old.get(key)!r}, asked {new.get(key)!r}")
    return "; ".join(diffs) or "the stored spec differs"


# --------------------------------------------------------------------------------------------
# the objective


def objective(trial: optuna.Trial, spec: StudySpec) -> float:
    """Train every run of ``trial`` and record it in the trial's user attributes.

    Grid mode: one run at the trial's (ω₀, seed). Search mode: ω₀ from the sampler (log scale),
    one run per seed. Returns the mean stage-2 accuracy used to rank ω₀: the best validation
    accuracy, or (with ``val_fraction=0``) the last epoch's test accuracy.
    """
    if spec.search:
        omega0 = trial.suggest_float("omega0", spec.omega0[0], spec.omega0[1], log=True)
        seeds: Sequence[int] = spec.seeds
    else:
        omega0 = float(trial.suggest_categorical("omega0", list(spec.omega0)))
        seeds = [int(trial.suggest_categorical("seed", list(spec.seeds)))]
    runs = [run_record(spec, omega0, seed) for seed in seeds]
    trial.set_user_attr(_RUNS_KEY, runs)
    values = [r["objective"] for r in runs]
    return float(sum(values) / len(values))


def run_record(spec: StudySpec, omega0: float, seed: int) -> dict[str, Any]:
    """Train one run (stage 1, then stage 2 warm-started from it) and return its record (JSON values)."""
    from biper_theory.nn.train import train_two_stage

    from .records import stage_record, switch_record

    config = spec.train_config(omega0, seed)
    t0 = time.perf_counter()
    result = train_two_stage(config, baseline=False)
    seconds = time.perf_counter() - t0
    s1 = stage_record(result.stage1)
    s2 = stage_record(result.stage2)
    sw = switch_record(result)
    objective_value = s2["val_accuracy"] if s2["val_accuracy"] is not None else s2["test_accuracy"]
    return {
        "omega0": float(omega0),
        "seed": int(seed),
        "objective": float(objective_value),
        "selection": s2["selection"],
        "stage1": s1,
        "stage2": s2,
        "switch": sw,
        "seconds": seconds,
        "dataset": result.stage1.dataset_info.get("name"),
        "n_train": result.stage1.dataset_info.get("n_train"),
        "n_test": result.stage1.dataset_info.get("n_test"),
    }


# --------------------------------------------------------------------------------------------
# the worker


def run_worker(
    storage_url: str,
    name: str,
    spec: StudySpec,
    *,
    on_trial: Callable[[TrialReport], None] | None = None,
    heartbeat_interval: int = HEARTBEAT_INTERVAL_S,
    grace_period: int = GRACE_PERIOD_S,
    max_trials: int | None = None,
    objective_fn: Callable[[optuna.Trial, StudySpec], float] = objective,
) -> int:
    """Run trials of the study until none is left (grid) or ``n_trials`` exist (search).

    All trials train in this process, under :func:`biper_theory.nn.heap.steady_heap` (glibc
    keeps the freed activation buffers instead of faulting them back in every step). Returns
    how many trials this worker ran (0 when the study is already complete). ``on_trial`` is
    called after each finished trial; ``max_trials`` stops this worker after that many (a test
    hook; the rest stay queued).
    """
    import optuna
    from optuna.trial import TrialState

    from biper_theory.nn.heap import steady_heap

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    steady_heap()  # this process trains trial after trial: keep its freed buffers (nn/heap.py)
    storage = open_storage(storage_url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    study = open_study(storage, name, spec)
    ran = 0
    while max_trials is None or ran < max_trials:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # dead workers' trials: failed and re-enqueued
        if spec.search:
            alive = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
            assert spec.n_trials is not None
            if len(study.get_trials(deepcopy=False, states=alive)) >= spec.n_trials:
                break
            with warnings.catch_warnings():  # we run the heartbeat ourselves, not Study.optimize
                warnings.simplefilter("ignore")
                trial = study.ask()
        else:
            trial_id = _claim_waiting(study)
            if trial_id is None:
                break
            trial = optuna.Trial(study, trial_id)
        report = _run_trial(study, trial, spec, objective_fn)
        ran += 1
        if on_trial is not None:
            on_trial(report)
    return ran


def _claim_waiting(study: optuna.Study) -> int | None:
    """Move one WAITING trial to RUNNING and return its id; ``None`` when no trial waits."""
    import optuna
    from optuna.trial import TrialState

    for attempt in range(10):
        try:
            for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                try:
                    if study._storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                        return int(t._trial_id)
                except optuna.exceptions.UpdateFinishedTrialError:
                    continue
            return None
        except optuna.exceptions.StorageInternalError:  # a busy database: try again
            time.sleep(0.2 * (attempt + 1))
    raise ValueError("storage: the database stayed busy; could not claim a trial")


@contextlib.contextmanager
def _heartbeat(storage: Any, trial_id: int) -> Iterator[None]:
    interval = storage.get_heartbeat_interval()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):  # a missed beat is retried at the next interval
                storage.record_heartbeat(trial_id)

    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    spec: StudySpec,
    objective_fn: Callable[[optuna.Trial, StudySpec], float],
) -> TrialReport:
    from optuna.trial import TrialState

    t0 = time.perf_counter()
    try:
        with _heartbeat(study._storage, trial._trial_id):
            value = objective_fn(trial, spec)
    except KeyboardInterrupt:
        study.tell(trial, state=TrialState.FAIL)
        if trial.params:  # queue it again so that the resumed study re-runs it
            study.enqueue_trial(dict(trial.params))
        raise
    except (ValueError, FloatingPointError, RuntimeError) as exc:  # this trial failed; go on
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        trial.set_user_attr("error", f"{type(exc).__name__}: {msg}")
        study.tell(trial, state=TrialState.FAIL)
        return _report(trial, spec, "FAIL", None, time.perf_counter() - t0, msg)
    if not math.isfinite(value):
        trial.set_user_attr("error", f"objective is not finite: {value!r}")
        study.tell(trial, state=TrialState.FAIL)
        return _report(trial, spec, "FAIL", None, time.perf_counter() - t0, "objective is not finite")
    study.tell(trial, value)
    return _report(trial, spec, "COMPLETE", value, time.perf_counter() - t0)


def _report(
    trial: optuna.Trial, spec: StudySpec, state: str, value: float | None, seconds: float, message: str = ""
) -> TrialReport:
    params = trial.params
    seeds = spec.seeds if spec.search else (int(params.get("seed", -1)),)
    return TrialReport(
        number=trial.number,
        omega0=float(params.get("omega0", math.nan)),
        seeds=tuple(seeds),
        state=state,
        value=value,
        seconds=seconds,
        message=message,
    )


def print_trial(report: TrialReport, *, total: int | None = None, stream: Any = None) -> None:
    """One line per finished trial (works whether or not the stream is a terminal)."""
    stream = sys.stderr if stream is None else stream
    of = f"/{total}" if total else ""
    seeds = ",".join(str(s) for s in report.seeds)
    what = f"value {report.value:.4f}" if report.value is not None else f"FAILED: {report.message}"
    print(
        f"trial {report.number}{of}: ω₀ = {report.omega0:g}, seed {seeds}: {what} ({report.seconds:.1f} s)",
        file=stream,
        flush=True,
    )
