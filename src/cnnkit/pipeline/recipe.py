"""The training recipe behind `cnnkit train`: optimizer, schedule, loss and precision for the chosen model.

For the tutorial CNN with BatchNorm (``tutorial_bn``) and the fast residual family (``ResNetXS``, ``ResNetS``,
``ResNetM``) it is the recipe that trains small CNNs well
in few epochs (fastai's ``fit_one_cycle``, Page's "How to train your ResNet"): batches of 128, SGD with Nesterov
momentum 0.9 under a one-cycle schedule peaking at 0.2 (a quarter warming up, the rest annealing), weight decay 5e-4,
cross-entropy with label smoothing 0.1, and
``mixed_bfloat16`` where the CPU computes bfloat16 natively (AVX512-BF16 or AMX). Other models keep Adam at a fixed
rate, as before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from cnnkit import losses, optimizers
from cnnkit.optimizers.schedules import OneCycle

__all__ = ["RECIPE_MODELS", "Recipe", "cpu_has_native_bf16", "recipe_for"]

RECIPE_MODELS = ("tutorial_bn", "ResNetXS", "ResNetS", "ResNetM")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU has bfloat16 arithmetic (AVX512-BF16 or AMX); elsewhere bf16 autocast is emulated (slow)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


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


def recipe_for(model_name: str, device: str | torch.device | None = None) -> Recipe:
    """The recipe for a model name: one-cycle SGD with label smoothing for the fast ResNets, Adam otherwise.

    Example:
        >>> recipe_for("ResNetS").label_mode, recipe_for("tutorial").label_mode
        ('categorical', 'int')
    """
    if model_name in RECIPE_MODELS:
        on_cpu = device is None or torch.device(device).type == "cpu"
        bf16 = "mixed_bfloat16" if on_cpu and cpu_has_native_bf16() else None
        return Recipe(one_cycle=True, default_lr=0.2, label_smoothing=0.1, dtype_policy=bf16, batch_size=128)
    return Recipe(one_cycle=False, default_lr=1e-3)
