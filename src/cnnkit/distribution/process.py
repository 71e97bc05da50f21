"""The process group: joining it from a launcher's environment, rank and world size, barriers.

torchrun (``python -m torch.distributed.run``), SLURM wrappers and ``cnnkit train --nproc`` all start one process per
replica with ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in the environment; joining
the group from those is all :func:`initialize` needs. Everything here is a no-op in a single process, so library code
calls :func:`barrier` or :func:`is_chief` unconditionally.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

_LAUNCHER_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR")


def launched() -> bool:
    """True when a launcher started this process as one of several (its environment names a world of 2 or more).

    Example:
        >>> launched() == (int(os.environ.get("WORLD_SIZE", "1")) > 1)
        True
    """
    return all(v in os.environ for v in _LAUNCHER_VARS) and int(os.environ["WORLD_SIZE"]) > 1


def is_initialized() -> bool:
    """True once this process belongs to a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank in the group (0 without one)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """The number of processes in the group (1 without one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; 0 without a launcher)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_chief() -> bool:
    """True on the process that writes files and prints (rank 0), and in a single process.

    Example:
        >>> is_chief()
        True
    """
    return get_rank() == 0


def barrier() -> None:
    """Waits until every process of the group gets here (returns at once in a single process)."""
    if is_initialized():
        dist.barrier()


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def initialize(
    job_addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    device_type: str | None = None,
) -> bool:
    """Joins the process group (Keras' ``keras.distribution.initialize``); returns True when in a group of 2 or more.

    Without arguments the launcher's environment is read (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).
    ``job_addresses`` (``"host:port"``, the first being the coordinator), ``num_processes`` and ``process_id`` set
    them explicitly, as in Keras. Does nothing when the group already exists (the user created it) or when there is no
    launcher. CUDA processes use NCCL, one GPU per local rank; CPU processes use gloo.

    Example:
        >>> initialize()  # a single process: nothing to join
        False
    """
    if job_addresses is not None or num_processes is not None or process_id is not None:
        if job_addresses is None or num_processes is None or process_id is None:
            raise ValueError(
                "Incomplete process group settings. Expected job_addresses, num_processes and process_id together. "
                f"Received: job_addresses={job_addresses!r}, num_processes={num_processes!r}, "
                f"process_id={process_id!r}. Pass all three, or none to read the launcher's environment."
            )
        host, _, port = job_addresses.split(",")[0].strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                "Invalid job_addresses. Expected 'host:port' of the coordinator first. "
                f"Received: job_addresses={job_addresses!r}. Pass e.g. job_addresses='10.0.0.1:29500'."
            )
        os.environ.update(MASTER_ADDR=host, MASTER_PORT=port, WORLD_SIZE=str(num_processes), RANK=str(process_id))
        os.environ.setdefault("LOCAL_RANK", "0")
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if not launched():
        return False
    use_cuda = torch.cuda.is_available() if device_type is None else device_type in ("cuda", "gpu")
    device = torch.device("cuda", local_rank()) if use_cuda else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL binds each process to its own GPU
    # A generous timeout: the chief may spend minutes decoding an image cache while the others wait at a barrier.
    timeout = timedelta(minutes=30)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group(backend_for(device), store=_store(rank, world, timeout), rank=rank, world_size=world)
    atexit.register(_leave)
    return dist.get_world_size() > 1


def _leave() -> None:
    """Leaves the group this module joined, at exit, while the interpreter is still whole.

    A gloo worker thread drops its last collective's tensors just after the caller was told the collective finished;
    when that thread is held up until the interpreter is finalizing, dropping them needs the GIL, which it can no
    longer take, and the process aborts after its work is done (``terminate called without an active exception``,
    exit -6, reported by torchrun as a failed run; PyTorch issue 190489). So the group is destroyed here and the exit
    waits, up to a second, until no other thread of the process is still running.
    """
    if not dist.is_initialized():
        return
    dist.destroy_process_group()
    _quiet(1.0)


def _quiet(limit: float) -> bool:
    """Waits up to ``limit`` seconds until no other thread of this process is running; True once none is.

    Quiet means quiet in two looks a millisecond apart with the GIL released between them: a thread that was
    blocked waiting for the GIL at the first look (not running, yet not done) takes it in that millisecond.
    """
    deadline, quiet_looks = time.monotonic() + limit, 0
    while quiet_looks < 2:
        quiet_looks = 0 if _threads_running() else quiet_looks + 1
        if quiet_looks < 2:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
    return True


def _threads_running() -> bool:
    """Whether a thread of this process other than the caller is running or runnable (Linux; False elsewhere)."""
    me = str(threading.get_native_id())
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return False
    for tid in tids:
        if tid == me:
            continue
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        if stat.rpartition(")")[2].split()[:1] == ["R"]:
            return True
    return False


def _store(rank: int, world: int, timeout: timedelta) -> dist.Store:
    """The rendezvous store of this attempt: torchrun's (or rank 0's), under a prefix naming the restart.

    After a restart (``torchrun --max-restarts``) the agent's store still holds the failed attempt's keys, and gloo
    could read a dead process's address from them and wait forever to connect; a fresh prefix per attempt avoids it.
    """
    host, port = os.environ["MASTER_ADDR"], int(os.environ.get("MASTER_PORT", "29500"))
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":  # torchrun's agent hosts the store
        store = dist.TCPStore(host, port, world, is_master=False, timeout=timeout)
    else:
        store = dist.TCPStore(host, port, world, is_master=rank == 0, timeout=timeout, multi_tenant=True)
    return dist.PrefixStore(f"cnnkit/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def process_device(device: torch.device) -> torch.device:
    """The device of this process: ``cuda`` without an index becomes this process's GPU (``cuda:LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None and is_initialized():
        return torch.device("cuda", local_rank())
    return device
