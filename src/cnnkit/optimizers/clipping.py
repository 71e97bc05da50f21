"""Gradient clipping as Keras 3 applies it, on lists of tensors with `torch._foreach_*` ops (no host sync).

All functions work out of place, so the caller's `.grad` tensors keep the raw gradients, as in Keras.
"""

from __future__ import annotations

import torch

__all__ = ["clip_by_global_norm", "clip_by_norm", "clip_by_value"]


def clip_by_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    """Each gradient scaled to norm at most `clipnorm`: `g * clipnorm / max(||g||, clipnorm)` (zeros stay zero)."""
    scales = torch._foreach_clamp_min(torch._foreach_norm(grads), clipnorm)
    torch._foreach_reciprocal_(scales)
    torch._foreach_mul_(scales, clipnorm)
    return torch._foreach_mul(grads, scales)


def clip_by_global_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    """All gradients scaled together so that their joint norm is at most `clipnorm`.

    Keras' form: `clipnorm * min(1 / norm, 1 / clipnorm)`, plus `norm - norm` so that a non-finite norm turns the
    update into NaN rather than into a silent no-op.
    """
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    scale = norm.reciprocal().clamp_max(1.0 / clipnorm) * clipnorm + (norm - norm)
    return torch._foreach_mul(grads, scale)


def clip_by_value(grads: list[torch.Tensor], clipvalue: float) -> list[torch.Tensor]:
    """Every gradient entry clamped to `[-clipvalue, clipvalue]`."""
    clipped = torch._foreach_clamp_min(grads, -clipvalue)
    torch._foreach_clamp_max_(clipped, clipvalue)
    return clipped
