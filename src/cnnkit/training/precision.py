"""Precision policies: float32 or mixed precision (bfloat16/float16 autocast) for the forward pass.

A policy names the compute dtype; variables stay float32 (as Keras' ``mixed_bfloat16``). The global policy is the
default for ``compile()``; ``compile(dtype_policy=...)`` overrides it for one model.
"""

from __future__ import annotations

import contextlib

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


_global_policy = Policy("float32")


def set_global_policy(policy: str | Policy) -> None:
    """Sets the default policy of models compiled afterwards (``'float32'``, ``'mixed_bfloat16'``...)."""
    global _global_policy
    _global_policy = Policy(policy)


def global_policy() -> Policy:
    """Returns the current global policy."""
    return _global_policy
