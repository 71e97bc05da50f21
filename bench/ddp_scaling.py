"""Data-parallel scaling on this machine: 1 process x 2 threads vs 2 processes x 1 thread (DDP, gloo), in one run.

Both configurations train the same models on the same global batches: the tutorial CNN (64x64x3, batch 64) and
ResNet20 (32x32x3, batch 64), Adam + sparse categorical crossentropy, random data. Each configuration runs in its own
subprocess (2 processes through ``torch.distributed.run``); images/s is measured over the steps after a warm-up
epoch, on rank 0, and the side-by-side ratio is printed.

Usage:
    python bench/ddp_scaling.py [--steps 30] [--only tutorial,ResNet20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {"tutorial": (64, 2), "ResNet20": (32, 10)}  # image size, classes
BATCH = 64


def _worker(name: str, steps: int, out: str) -> None:
    import numpy as np
    import torch

    from cnnkit import callbacks, distribution, optimizers, utils
    from cnnkit.pipeline.models import build_classifier

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    utils.set_random_seed(0)
    size, classes = MODELS[name]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (steps * BATCH, size, size, 3)).astype("float32")
    y = rng.integers(0, classes, (steps * BATCH,))
    model = build_classifier(name, (size, size, 3), classes, augment=False)
    model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", device="cpu")
    times: list[float] = []
    timer = callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: times.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: times.append(time.perf_counter()),
    )
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[timer])  # epoch 1 warms up
    if distribution.is_chief():
        seconds = times[3] - times[2]
        Path(out).write_text(json.dumps({"images_per_s": steps * BATCH / seconds, "seconds": seconds}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _measure(name: str, steps: int, nproc: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        script = [os.path.abspath(__file__), "--worker", name, "--steps", str(steps), "--out", out]
        if nproc > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
                   "--master-addr=127.0.0.1", f"--master-port={_free_port()}", *script]  # fmt: skip
        else:
            cmd = [sys.executable, *script]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=1800)
        return json.loads(Path(out).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="measured steps per configuration (default 30)")
    parser.add_argument("--only", default=",".join(MODELS), help="models, comma-separated")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.steps, args.out)
        return
    print(f"DDP scaling on {os.cpu_count()} CPUs, global batch {BATCH}, {args.steps} measured steps")
    print(f"{'model':<10} {'1 proc x 2 threads':>20} {'2 procs x 1 thread':>20} {'2 procs / 1 proc':>17}")
    for name in args.only.split(","):
        one = _measure(name, args.steps, nproc=1, threads=2)
        two = _measure(name, args.steps, nproc=2, threads=1)
        ratio = two["images_per_s"] / one["images_per_s"]
        print(f"{name:<10} {one['images_per_s']:>15.1f} im/s {two['images_per_s']:>15.1f} im/s {ratio:>16.2f}x")


if __name__ == "__main__":
    main()
