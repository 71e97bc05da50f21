"""Precision policies: float32 or mixed precision (bfloat16/float16 autocast) for the forward pass.

A policy names the compute dtype; variables stay float32 (as Keras' ``mixed_bfloat16``). The global policy is the
default for ``compile()``; ``compile(dtype_policy=...)`` overrides it for one model.
"""

from __future__ import annotations

import contextlib
import warnings

import torch

_POLICIES = {"float32": None, "mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}


class Policy:
    """A dtype policy: ``Policy('mixed_bfloat16')``.

    Args:
        name: ``'float32'``, ``'mixed_bfloat16'`` or ``'mixed_float16'``.

    Example:
        >>> Policy("mixed_bfloat16").compute_dtype
        'bfloat16'
    """

    def __init__(self, name: str) -> None:
        if isinstance(name, Policy):
            name = name.name
        if name not in _POLICIES:
            raise ValueError(
                f"Unknown dtype policy. Expected one of {sorted(_POLICIES)}. Received: name={name!r}. "
                "Pass 'float32' for full precision or 'mixed_bfloat16' for bfloat16 autocast."
            )
        self.name = name

    @property
    def compute_dtype(self) -> str:
        dtype = _POLICIES[self.name]
        return "float32" if dtype is None else str(dtype).replace("torch.", "")

    @property
    def variable_dtype(self) -> str:
        return "float32"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return _POLICIES[self.name]

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """Context manager running the forward pass in the compute dtype on ``device``."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    def needs_loss_scaling(self, device: torch.device) -> bool:
        return self.autocast_dtype is torch.float16 and device.type == "cuda"

    def __repr__(self) -> str:
        return f'<Policy "{self.name}">'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 autocast is emulated."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def warn_if_slow(policy: Policy, device: torch.device) -> None:
    if policy.autocast_dtype is torch.bfloat16 and device.type == "cpu" and not native_bf16_cpu():
        warnings.warn(
            "This CPU has no native bfloat16 (AVX512-BF16 or AMX), so mixed_bfloat16 will be emulated and likely "
            "slower than float32. Use the 'float32' policy on this machine.",
            RuntimeWarning,
            stacklevel=3,
        )


class LossScaler:
    """Dynamic loss scaling for float16 (as Keras' LossScaleOptimizer): gradients of ``loss * scale`` are unscaled;
    a step whose gradients are not finite is skipped and the scale halved; after ``growth_interval`` good steps the
    scale doubles. Checking for inf costs one host sync per step, only under ``mixed_float16``.
    """

    def __init__(self, initial_scale: float = 2.0**15, growth_interval: int = 2000) -> None:
        self.scale, self.growth_interval, self.good_steps = float(initial_scale), growth_interval, 0

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * self.scale

    def unscale_and_check(self, params: list) -> bool:
        """Unscales ``.grad`` in place; returns whether the optimizer may step (all gradients finite)."""
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return True
        torch._foreach_mul_(grads, 1.0 / self.scale)
        finite = bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
        if not finite:
            self.scale, self.good_steps = max(self.scale / 2.0, 1.0), 0
            return False
        self.good_steps += 1
        if self.good_steps >= self.growth_interval:
            self.scale, self.good_steps = self.scale * 2.0, 0
        return True


_global_policy = Policy("float32")


def set_global_policy(policy: str | Policy) -> None:
    """Sets the default policy of models compiled afterwards (``'float32'``, ``'mixed_bfloat16'``...)."""
    global _global_policy
    _global_policy = Policy(policy)


def global_policy() -> Policy:
    """Returns the current global policy."""
    return _global_policy


# Keras 3 calls the policy class DTypePolicy (keras.mixed_precision.DTypePolicy); Policy is its Keras 2 name.
DTypePolicy = Policy

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy"]
