"""Running the distributed tests' processes: torchrun (2 processes, gloo on CPU, loopback) or one plain process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cnnkit.distribution.launch import free_port

HERE = Path(__file__).parent.parent / "distributed"
SRC = HERE.parent.parent / "src"
WORKER = HERE / "worker.py"
LAUNCHER_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK")


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS and not k.startswith("TORCHELASTIC")}
    path = os.pathsep.join([str(SRC), str(HERE.parent)])
    return {**clean, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "torch"}


def run_worker(out: Path, *args: str, nproc: int = 2, restarts: int = 0) -> subprocess.CompletedProcess:
    """Runs worker.py in ``nproc`` processes under torchrun (plainly when ``nproc`` is 1) and checks it succeeded."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(WORKER), str(out), *args]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--master-addr=127.0.0.1",
               f"--master-port={free_port()}", f"--max-restarts={restarts}", *cmd[1:]]  # fmt: skip
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def result(out: Path, rank: int) -> dict:
    return json.loads((out / f"rank{rank}.json").read_text())
