"""Leaving the process group at exit: a process that joined through cnnkit destroys the group before the interpreter
is finalized, and waits for its other threads (gloo's workers) to stop running first."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from cnnkit.distribution import process
from cnnkit.distribution.launch import free_port

SRC = Path(__file__).parent.parent.parent / "src"

SCRIPT = """
import atexit, torch, torch.distributed as dist
from cnnkit.distribution import get_rank, initialize
atexit.register(lambda: print("left:", not dist.is_initialized(), flush=True))  # runs after cnnkit's handler
assert initialize()
parts = [torch.zeros(2) for _ in range(2)]
dist.all_gather(parts, torch.full((2,), float(get_rank())))
print("gathered:", [p.tolist() for p in parts], flush=True)
"""


def test_threads_running_sees_a_busy_thread_and_quiet_waits_for_it():
    stop = threading.Event()

    def busy():
        a = torch.randn(512, 512)
        while not stop.is_set():
            a = torch.tanh(a @ a)  # torch releases the GIL while it computes: the thread is running, not waiting

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        assert not process._quiet(0.3)  # gave up after 0.3 s: the thread was running all along
    finally:
        stop.set()
        worker.join()
    assert process._quiet(1.0)


@pytest.mark.slow  # two processes that import cnnkit: ~5 s idle
def test_a_group_joined_through_cnnkit_is_destroyed_before_the_interpreter_finalizes():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHELASTIC")}
    env.update(PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port))  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        assert out.splitlines() == ["gathered: [[0.0, 0.0], [1.0, 1.0]]", "left: True"]
