#!/usr/bin/env python3
"""Scale-out check: a real PostgreSQL server, two `biper-theory study run` workers, no trial twice.

Starts a throwaway PostgreSQL cluster in a temporary folder (Debian's ``postgresql`` package:
``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin`` or ``pg_config --bindir``; run as
the ``postgres`` user through ``runuser`` when this script runs as root, since ``initdb``
refuses root), listening only on a Unix socket in that folder. Then runs two
``biper-theory study run`` processes at once on one study (digits, a 2 ω₀ × 2 seeds grid, one
epoch), checks that the 4 trials are COMPLETE with every (ω₀, seed) cell exactly once and that
the workers' trial counts add up to 4, stops the server and deletes the folder.

Usage::

    python scripts/study_postgres.py            # exit 0 when the check holds

Needs: the ``postgresql`` Debian package (server binaries), ``pip install 'biper-theory[study,nn]'``
(Optuna, psycopg, torch). Workers on several machines use the same command with a TCP URL,
``--storage postgresql+psycopg://USER:PASSWORD@HOST:5432/DB``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 54329
OMEGA0 = ("2", "20")
SEEDS = ("0", "1")


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(re.findall(r"\d+", p)[0]))
    if found:
        return Path(found[-1])
    pg_config = shutil.which("pg_config")
    if pg_config:
        return Path(
            subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        )
    sys.exit("study_postgres: no PostgreSQL server binaries (apt-get install postgresql)")


def _as_server_user(cmd: list[str]) -> list[str]:
    """``initdb`` refuses root: run the server's commands as ``postgres`` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def main() -> int:
    bindir = _bindir()
    tmp = Path(tempfile.mkdtemp(prefix="biper-pg-"))
    data, sock = tmp / "data", tmp
    if os.geteuid() == 0:
        shutil.chown(tmp, user="postgres")
    started = False
    t0 = time.perf_counter()
    try:
        subprocess.run(
            _as_server_user(
                [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "biper", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )
        opts = f"-p {PORT} -k {sock} -c listen_addresses='' -c fsync=off"
        subprocess.run(
            _as_server_user(
                [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(tmp / "log"), "start"]
            ),
            check=True,
            capture_output=True,
        )
        started = True
        subprocess.run(
            [str(bindir / "createdb"), "-h", str(sock), "-p", str(PORT), "-U", "biper", "studies"],
            check=True,
            capture_output=True,
        )
        url = f"postgresql+psycopg://biper@/studies?host={sock}&port={PORT}"
        cmd = [
            sys.executable, "-m", "biper_theory", "study", "run", "--storage", url,
            "--name", "pg-two-workers",
            "--dataset", "digits", "--epochs", "1", "--omega0", *OMEGA0, "--seeds", *SEEDS, "--workers", "1",
        ]  # fmt: skip
        workers = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        outs = [w.communicate(timeout=600) for w in workers]
        for w, (out, err) in zip(workers, outs, strict=True):
            if w.returncode != 0:
                print(out, err, sep="\n", file=sys.stderr)
                raise SystemExit(f"study_postgres: a worker exited with {w.returncode}")
        ran = [int(re.search(r"ran (\d+) trial", out).group(1)) for out, _ in outs]  # type: ignore[union-attr]
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name="pg-two-workers", storage=url)
        cells = sorted((t.params["omega0"], t.params["seed"]) for t in study.trials)
        states = {t.state.name for t in study.trials}
        expected = sorted((float(w), int(s)) for w in OMEGA0 for s in SEEDS)
        ok = cells == expected and states == {"COMPLETE"} and sum(ran) == len(expected)
        print(
            f"PostgreSQL {bindir.parent.name}: two workers ran {ran[0]} + {ran[1]} trials; "
            f"{len(study.trials)} trials in the storage, cells {cells}; states {sorted(states)}; "
            f"{'no trial ran twice' if ok else 'CHECK FAILED'} ({time.perf_counter() - t0:.1f} s)"
        )
        return 0 if ok else 1
    finally:
        if started:
            subprocess.run(
                _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
