"""Keras' ``keras.backend`` functions that programs call: ``clear_session`` and the global settings they read.

cnnkit runs on PyTorch only, so ``backend()`` is ``"torch"``; ``floatx()`` is float32 and ``image_data_format()``
channels-last, as Keras' defaults.
"""

from __future__ import annotations

import gc

import torch

from cnnkit.common.naming import clear_session as _reset_names

__all__ = ["backend", "clear_session", "epsilon", "floatx", "image_data_format"]


def clear_session(free_memory: bool = True) -> None:
    """Resets the automatic names (``dense``, ``dense_1``...) and frees memory, as ``keras.backend.clear_session``.

    Args:
        free_memory: Run Python's garbage collector (and empty torch's CUDA cache when CUDA is in use), as Keras 3.

    Example:
        >>> import cnnkit
        >>> clear_session(); cnnkit.layers.Dense(2).name
        'dense'
    """
    _reset_names()
    if free_memory:
        gc.collect()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.empty_cache()


def backend() -> str:
    """The name of the backend: always ``"torch"``."""
    return "torch"


def floatx() -> str:
    """The default float type: ``"float32"``."""
    return "float32"


def epsilon() -> float:
    """Keras' fuzz factor, ``1e-7``."""
    return 1e-7


def image_data_format() -> str:
    """The default image layout: ``"channels_last"``."""
    return "channels_last"
