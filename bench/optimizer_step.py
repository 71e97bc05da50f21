"""Time one optimizer step on a 1.6M-parameter CNN's weights: cnnkit vs torch.optim (foreach), side by side.

Run: `python bench/optimizer_step.py [--device cuda] [--repeats 300]`. Prints the median step time of each
optimizer and the ratio cnnkit / torch (below 1.0 means cnnkit is faster). Steps are interleaved (cnnkit, torch,
cnnkit, ...) so that drift in machine load hits both sides alike. On a shared CPU, pass `--threads 1`: with
more torch threads than idle cores, every parallel kernel waits for a descheduled thread (~30 ms per op).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import cnnkit.optimizers as co

# The tutorial-style CNN cnnkit trains: 3 conv blocks (with BatchNormalization), Dense(240), Dense(10) on
# 56x56x3 inputs -> 1,601,626 parameters.
SHAPES = [
    (32, 3, 3, 3), (32,), (32,), (32,),
    (64, 32, 3, 3), (64,), (64,), (64,),
    (128, 64, 3, 3), (128,), (128,), (128,),
    (6272, 240), (240,),
    (240, 10), (10,),
]  # fmt: skip


def make_params(device: str) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in SHAPES:
        t = torch.randn(shape, generator=gen).to(device)
        if t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)  # conv kernels as cnnkit stores them
        p = torch.nn.Parameter(t)
        p.grad = torch.randn(shape, generator=gen).to(device).to(memory_format=torch.preserve_format)
        if t.dim() == 4:
            p.grad = p.grad.contiguous(memory_format=torch.channels_last)
        params.append(p)
    return params


def time_steps(step_a, step_b, repeats: int, sync) -> tuple[float, float]:
    for _ in range(10):  # warm-up: allocations, lazy state
        step_a()
        step_b()
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((step_a, a), (step_b, b)):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    n = sum(p.numel() for p in make_params("cpu"))
    print(f"device={args.device} params={n:,} tensors={len(SHAPES)} repeats={args.repeats} "
          f"threads={torch.get_num_threads()} torch={torch.__version__}")  # fmt: skip

    pairs = [
        ("Adam", lambda p: co.Adam(1e-3), lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7, foreach=True)),
        ("Adam amsgrad", lambda p: co.Adam(1e-3, amsgrad=True),
         lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7, amsgrad=True, foreach=True)),
        ("AdamW", lambda p: co.AdamW(1e-3), lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.004, foreach=True)),
        ("SGD momentum", lambda p: co.SGD(0.01, momentum=0.9),
         lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True)),
        ("SGD nesterov", lambda p: co.SGD(0.01, momentum=0.9, nesterov=True),
         lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, foreach=True)),
        ("RMSprop", lambda p: co.RMSprop(1e-3), lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, foreach=True)),
    ]  # fmt: skip
    print(f"{'optimizer':<14} {'cnnkit (us)':>12} {'torch (us)':>12} {'cnnkit/torch':>13}")
    for name, make_ours, make_torch in pairs:
        ours_params, torch_params = make_params(args.device), make_params(args.device)
        ours = make_ours(ours_params)
        ours.build(ours_params)
        theirs = make_torch(torch_params)
        t_ours, t_torch = time_steps(ours.step, theirs.step, args.repeats, sync)
        print(f"{name:<14} {t_ours * 1e6:>12.1f} {t_torch * 1e6:>12.1f} {t_ours / t_torch:>13.2f}")


if __name__ == "__main__":
    main()
