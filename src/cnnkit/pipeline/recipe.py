"""The training recipe behind `cnnkit train`: optimizer, schedule, loss and precision for the chosen model.

For the tutorial CNN with BatchNorm (``tutorial_bn``) and the fast residual family (``ResNetXS``, ``ResNetS``,
``ResNetM``) it is the recipe that trains small CNNs well
in few epochs (fastai's ``fit_one_cycle``, Page's "How to train your ResNet"): batches of 128, SGD with Nesterov
momentum 0.9 under a one-cycle schedule peaking at 0.2 (a quarter warming up, the rest annealing), weight decay 5e-4,
cross-entropy with label smoothing 0.1, and
``mixed_bfloat16`` where the CPU computes bfloat16 natively (AVX512-BF16 or AMX) and a training step measures faster
in it (``bf16_faster``). Other models keep Adam at a fixed rate, as before. ``precision`` overrides the choice.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnkit import losses, optimizers
from cnnkit.mixed_precision import native_bf16_cpu
from cnnkit.optimizers.schedules import OneCycle

__all__ = ["PRECISIONS", "RECIPE_MODELS", "Recipe", "bf16_faster", "bf16_speedup", "recipe_for"]

RECIPE_MODELS = ("tutorial_bn", "ResNetXS", "ResNetS", "ResNetM")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
BF16_GAIN = 1.15  # bf16 must train at least this many times faster to be chosen: its rounding is not free


@functools.lru_cache(maxsize=1)
def bf16_faster() -> bool:
    """Whether ``mixed_bfloat16`` trains faster than float32 on this CPU, measured once per process (0.4-0.7 s idle).

    Only a CPU with native bfloat16 (AVX512-BF16 or AMX) is measured; elsewhere bf16 is emulated and many times
    slower. bf16 is chosen when ``bf16_speedup`` is at least ``BF16_GAIN``.

    Example:
        >>> isinstance(bf16_faster(), bool)
        True
    """
    return native_bf16_cpu() and bf16_speedup() >= BF16_GAIN


def bf16_speedup(clock: Callable[[], float] = time.perf_counter) -> float:
    """How many times faster a training step runs under bf16 autocast than in float32 on this CPU.

    The step: two 3x3 conv-BatchNorm-ReLU blocks (the fast ResNets' typical layer) on a batch of 64 28x28 images,
    channels-last, forward and backward; the two precisions alternate, and each gives the median of 5 steps after 2
    untimed ones.
    """
    with torch.random.fork_rng(devices=[]):  # the user's seeded random stream is left as it was
        torch.manual_seed(0)
        net = nn.Sequential(
            *(m for c in (16, 32) for m in (nn.Conv2d(c, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU()))
        ).to(memory_format=torch.channels_last)
        x = torch.randn(64, 16, 28, 28).contiguous(memory_format=torch.channels_last)
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(7):
        for bf16 in (False, True):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                start = clock()
                loss = net(x).float().square().mean()
            loss.backward()
            took = clock() - start
            if i >= 2:  # the first steps build kernels: not counted
                times[bf16].append(took)
    median = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return median[False] / max(median[True], 1e-12)


@dataclass
class Recipe:
    """How to compile a model for training: ``compile_args(lr, total_steps)`` gives ``model.compile``'s keywords."""

    one_cycle: bool
    default_lr: float
    label_smoothing: float = 0.0
    dtype_policy: str | None = None
    batch_size: int = 32  # when the user gives none: 128 for the fast ResNets (fewer, fuller steps on a CPU)

    @property
    def label_mode(self) -> str:
        # Keras' sparse cross-entropy has no label smoothing; the categorical one does.
        return "categorical" if self.label_smoothing else "int"

    def optimizer(self, lr: float, total_steps: int) -> Any:
        if not self.one_cycle:
            return optimizers.Adam(learning_rate=lr)
        schedule = OneCycle(lr, total_steps=max(1, int(total_steps)), pct_start=0.25)
        return optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def compile_args(self, lr: float | None, total_steps: int, plain_rate: bool = False) -> dict[str, Any]:
        """``model.compile`` keywords; ``plain_rate`` gives the optimizer a fixed rate (for the range test)."""
        lr = self.default_lr if lr is None else float(lr)
        if self.one_cycle and plain_rate:
            opt: Any = optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
        else:
            opt = self.optimizer(lr, total_steps)
        if self.label_smoothing:
            loss: Any = losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing)
        else:
            loss = "sparse_categorical_crossentropy"
        args: dict[str, Any] = {"optimizer": opt, "loss": loss, "metrics": ["accuracy"]}
        if self.dtype_policy:
            args["dtype_policy"] = self.dtype_policy
        return args


def check_precision(precision: str) -> str:
    """``precision`` if it is one of ``PRECISIONS``, else a ValueError that lists them."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"Unknown precision. Expected one of {', '.join(PRECISIONS)}. Received: {precision!r}. Use 'auto' to "
            "let cnnkit measure whether bfloat16 is faster here."
        )
    return precision


def recipe_for(model_name: str, device: str | torch.device | None = None, precision: str = "auto") -> Recipe:
    """The recipe for a model name: one-cycle SGD with label smoothing for the fast ResNets, Adam otherwise.

    ``precision="auto"`` gives the fast ResNets ``mixed_bfloat16`` on a CPU where it measures faster
    (``bf16_faster``) and every other model float32; ``"float32"`` or ``"mixed_bfloat16"`` is used as given.

    Example:
        >>> recipe_for("ResNetS").label_mode, recipe_for("tutorial").label_mode
        ('categorical', 'int')
        >>> recipe_for("ResNetS", precision="float32").dtype_policy is None
        True
    """
    check_precision(precision)
    if precision == "auto":
        on_cpu = device is None or torch.device(device).type == "cpu"
        auto_bf16 = model_name in RECIPE_MODELS and on_cpu and bf16_faster()
        policy = "mixed_bfloat16" if auto_bf16 else None
    else:
        policy = None if precision == "float32" else precision
    if model_name in RECIPE_MODELS:
        return Recipe(one_cycle=True, default_lr=0.2, label_smoothing=0.1, dtype_policy=policy, batch_size=128)
    return Recipe(one_cycle=False, default_lr=1e-3, dtype_policy=policy)
