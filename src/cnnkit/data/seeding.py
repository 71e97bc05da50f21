"""Seeds for the pipeline: epoch orders and augmentation draws as pure functions of (seed, epoch, batch)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

_SCOPE: contextvars.ContextVar[list | None] = contextvars.ContextVar("cnnkit_augment_scope", default=None)


def mix(*values: int) -> int:
    """A well-spread 63-bit seed from integers (SeedSequence hashing, so (1, 2) and (2, 1) differ)."""
    state = np.random.SeedSequence([int(v) & 0xFFFFFFFFFFFFFFFF for v in values]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of an epoch: a permutation of ``range(n)`` that depends only on (seed, epoch)."""
    gen = torch.Generator().manual_seed(mix(seed, epoch))
    return torch.randperm(n, generator=gen)


@contextmanager
def seed_scope(seed: int) -> Iterator[None]:
    """Within this scope, random preprocessing layers draw from generators derived from ``seed``.

    The dataset opens one scope per batch with ``mix(seed, epoch, batch)``, so augmentation in the pipeline is a
    pure function of (seed, epoch, batch index), whatever ran before.
    """
    token = _SCOPE.set([seed, 0])
    try:
        yield
    finally:
        _SCOPE.reset(token)


def scoped_generator(layer_seed: int | None) -> torch.Generator | None:
    """A fresh generator for one draw inside a :func:`seed_scope`, else None (the caller uses its own)."""
    scope = _SCOPE.get()
    if scope is None:
        return None
    scope[1] += 1  # each draw in the scope gets its own stream, so two identical layers differ
    return torch.Generator().manual_seed(mix(scope[0], scope[1], -1 if layer_seed is None else layer_seed))
