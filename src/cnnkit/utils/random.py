"""Seeding every random number generator cnnkit draws from."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy's global generator and torch (CPU and every accelerator), as Keras does.

    Args:
        seed: A non-negative integer below 2**32 (NumPy's limit).

    Example:
        >>> set_random_seed(1337)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            "Argument `seed` must be an integer. Expected a Python int such as 1337. "
            f"Received: seed={seed!r} of type {type(seed).__name__}. Pass an int."
        )
    if not 0 <= seed < 2**32:
        raise ValueError(
            "Argument `seed` is out of range. Expected an integer in [0, 2**32). "
            f"Received: seed={seed}. Pass a smaller non-negative integer."
        )
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
