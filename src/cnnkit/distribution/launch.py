"""Starting local processes through torchrun (``torch.distributed.run``), for ``cnnkit train --nproc N``."""

from __future__ import annotations

import socket
import sys

from torch.distributed import run as torchrun
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError


def free_port() -> int:
    """A TCP port free on the loopback interface right now (the coordinator's port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_local(nproc: int, module: str, args: list[str], max_restarts: int = 0) -> int:
    """Runs ``python -m module *args`` in ``nproc`` processes on this machine, as torchrun does; returns the exit code.

    The processes get torchrun's environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``), so cnnkit
    inside them trains data-parallel. The coordinator listens on the loopback interface.

    Example:
        >>> launch_local(2, "cnnkit", ["train", "data/flowers"])  # doctest: +SKIP
        0
    """
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(
            f"Invalid number of processes. Expected a positive integer. Received: nproc={nproc!r}. Pass e.g. 2."
        )
    argv = [
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        f"--max-restarts={max_restarts}",
        "--module",
        module,
        *args,
    ]
    # torchrun starts `sys.executable -u -m module`: the children use this interpreter and its environment.
    try:
        torchrun.main(argv)
    except ChildFailedError as e:
        failures = getattr(e, "failures", {})
        codes = [f.exitcode for f in failures.values()] or [1]
        print(f"{module}: {len(failures)} of {nproc} processes failed (exit codes {codes}).", file=sys.stderr)
        return next((c for c in codes if c and c > 0), 1)
    return 0
