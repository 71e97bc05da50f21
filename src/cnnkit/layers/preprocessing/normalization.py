"""Normalization: ``(x - mean) / sqrt(variance)`` per feature, with ``adapt(data)`` computing mean and variance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer

EPSILON = 1e-7  # Keras' backend.epsilon(): the smallest standard deviation divided by


@register_layer
class Normalization(Layer):
    """Feature-wise normalization as Keras 3: ``axis`` keeps its own statistics (default: the last axis, one mean
    and variance per channel); ``mean``/``variance`` can be given, or learnt with ``adapt``; ``invert`` undoes it.

    Example:
        >>> norm = Normalization()
        >>> norm.adapt(np.array([[1.0], [3.0]]))  # a (N, ..., C) array, a tensor or a dataset of batches
        >>> norm(torch.tensor([[3.0]]))
        tensor([[1.]])
    """

    def __init__(self, axis: int | tuple[int, ...] | None = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization needs both mean and variance, or neither. Expected both set or both None. "
                f"Received: mean={mean!r}, variance={variance!r}. Pass both, or call adapt() instead."
            )
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)

    def _kept(self, ndim: int) -> list[int]:
        kept = sorted(a % ndim for a in self.axis)
        if any(a == 0 for a in kept):
            raise ValueError(
                f"Normalization cannot keep the batch axis. Expected axes 1..{ndim - 1} (or -1). "
                f"Received: axis={self.axis}. Use axis=-1 for per-channel statistics."
            )
        return kept

    def build(self, input_shape: Any) -> None:
        kept = self._kept(len(input_shape))
        self._ndim = len(input_shape)
        shape = tuple(int(input_shape[a]) for a in kept)
        if self.input_mean is None:
            self.add_weight("mean", shape, initializer="zeros", trainable=False)
            self.add_weight("variance", shape, initializer="ones", trainable=False)
            self.add_weight("count", (), initializer="zeros", trainable=False)
        else:
            self.register_buffer("mean", torch.broadcast_to(torch.as_tensor(self.input_mean, dtype=torch.float32),
                                                            shape).clone(), persistent=False)  # fmt: skip
            self.register_buffer("variance", torch.broadcast_to(torch.as_tensor(self.input_variance,
                                 dtype=torch.float32), shape).clone(), persistent=False)  # fmt: skip

    def _broadcast(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        kept = self._kept(ndim)
        shape = [1] * ndim
        for i, a in enumerate(kept):
            shape[a] = t.shape[i]
        return t.reshape(shape)

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Compute the mean and variance of ``data`` (array, tensor, or an iterable of batches / (x, y) pairs)."""
        batches: Iterable[Any]
        if isinstance(data, (np.ndarray, torch.Tensor)):
            batches = [data]
        else:
            batches = data
        total = sq = None
        count = 0
        for k, batch in enumerate(batches):
            if steps is not None and k >= steps:
                break
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).double()
            if not self.built:
                self._maybe_build(tuple(x.shape))
            reduce = [d for d in range(x.ndim) if d not in self._kept(x.ndim)]
            s, q = x.sum(dim=reduce), (x * x).sum(dim=reduce)
            total, sq = (s, q) if total is None else (total + s, sq + q)
            count += int(np.prod([x.shape[d] for d in reduce]))
        if total is None:
            raise ValueError(
                "Normalization.adapt() got no data. Expected a non-empty array or dataset. "
                f"Received: data={type(data).__name__} with no batches. Pass the training images."
            )
        mean = total / count
        variance = (sq / count - mean * mean).clamp_min(0.0)
        if self.input_mean is not None:
            raise ValueError(
                "Normalization was given mean and variance, so it cannot adapt. Expected mean=None and "
                "variance=None. Received: fixed statistics. Create the layer without them to adapt it."
            )
        with torch.no_grad():
            self.mean.copy_(mean.float())
            self.variance.copy_(variance.float())
            self.count.fill_(float(count))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if inputs.is_floating_point() else inputs.float()
        mean = self._broadcast(self.mean, x.ndim)
        std = torch.sqrt(self._broadcast(self.variance, x.ndim)).clamp_min(EPSILON)
        return mean + x * std if self.invert else (x - mean) / std

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return None if v is None else np.asarray(v, dtype=np.float64).tolist()

        axis = None if self.axis == () else self.axis[0] if len(self.axis) == 1 else list(self.axis)
        return {**super().get_config(), "axis": axis, "mean": plain(self.input_mean),
                "variance": plain(self.input_variance), "invert": self.invert}  # fmt: skip
