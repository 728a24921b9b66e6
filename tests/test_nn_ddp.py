"""The training loop under torchrun: 2 gloo processes on digits end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="biper_theory.nn needs the optional torch extra")

import torch.distributed as dist  # noqa: E402

from biper_theory.nn.checkpoint import load_checkpoint  # noqa: E402
from biper_theory.nn.train import state_dict_sha256  # noqa: E402

# Each rank trains with the library's unchanged loop and records what it ended with; only the
# library's rank 0 writes the checkpoint and metrics.
_WORKER = textwrap.dedent(
    """
    import json, os, sys
    from biper_theory.nn.train import TrainConfig, train

    out = sys.argv[1]
    r = train(TrainConfig(epochs=1, seed=0, batch_size=64, progress=False, out=os.path.join(out, "run")))
    record = {"rank": r.rank, "world_size": r.world_size, "sha256": r.state_dict_sha256,
              "accuracy": r.test_accuracy_at_best, "train_loss": r.epochs[-1]["train_loss"]}
    with open(os.path.join(out, f"rank{os.environ['RANK']}.json"), "w") as f:
        json.dump(record, f)
    """
)


@pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="torch built without gloo"
)
@pytest.mark.timeout(300)
def test_two_ranks_end_with_identical_weights(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*cmd, str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=280, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1))
    assert (r0["rank"], r1["rank"]) == (0, 1)
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["sha256"] == r1["sha256"]  # parameters and BatchNorm buffers bitwise equal
    assert r0["accuracy"] == r1["accuracy"] and r0["train_loss"] == r1["train_loss"]
    sd, meta, _ = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state_dict_sha256(sd) == r0["sha256"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["rank"] == 0
    assert meta["accuracy"] == r0["accuracy"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "metrics.json"]
