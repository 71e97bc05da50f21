"""Rescaling: ``x * scale + offset`` (e.g. ``Rescaling(1./255)``), as in Keras."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer


@register_layer
class Rescaling(Layer):
    """Multiply by ``scale`` and add ``offset``; both may be scalars or per-channel lists."""

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.scale, self.offset = _plain(scale), _plain(offset)
        self.register_buffer("_scale", torch.as_tensor(scale, dtype=torch.float32), persistent=False)
        self.register_buffer("_offset", torch.as_tensor(offset, dtype=torch.float32), persistent=False)

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.float()
        return x * self._scale + self._offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _plain(value: Any) -> float | list:
    """A JSON-friendly copy of a scalar or per-channel value."""
    # NumPy, not torch: under ``torch.device("meta")`` (shape-only builds) a torch tensor has no value to read.
    array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array.tolist()
