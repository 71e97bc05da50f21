"""Activation layers with weights or arguments beyond ``Activation``: PReLU and ELU (Keras 3's arguments)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnkit import constraints, initializers, regularizers
from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer


@register_layer
class PReLU(Layer):
    """``max(x, 0) + alpha * min(x, 0)`` with a learned ``alpha`` per input position (shared along ``shared_axes``).

    Example:
        >>> import torch
        >>> layer = PReLU(shared_axes=[1, 2])
        >>> tuple(layer(torch.ones(2, 4, 4, 3)).shape), tuple(layer.alpha.shape)
        ((2, 4, 4, 3), (1, 1, 3))
    """

    def __init__(
        self,
        alpha_initializer: Any = "Zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"PReLU {self.name!r} needs every non-shared axis to be known. Received: "
                f"input_shape={tuple(input_shape)}, shared_axes={self.shared_axes}. Share the unknown axes."
            )
        self.add_weight(
            name="alpha",
            shape=tuple(shape),
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )

    def call(self, inputs):
        return F.relu(inputs) - self.alpha * F.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


@register_layer
class ELU(Layer):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import torch
        >>> ELU()(torch.tensor([-1.0, 2.0])).tolist()
        [-0.6321205496788025, 2.0]
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return F.elu(inputs, self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register_layer
class SpatialDropout2D(Layer):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel), scaled by 1 / (1 - rate).

    Example:
        >>> import torch
        >>> out = SpatialDropout2D(0.5)(torch.ones(2, 4, 4, 8), training=True)
        >>> bool(((out == 0) | (out == 2)).all())
        True
    """

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate}")  # fmt: skip
        self.rate, self.seed = float(rate), seed
        self.data_format = "channels_last" if data_format is None else data_format
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"Invalid data_format. Expected 'channels_last' or 'channels_first'. Received: "
                f"data_format={data_format!r}."
            )
        self._generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if inputs.ndim != 4:
            raise ValueError(
                f"SpatialDropout2D expects a 4D input (batch, height, width, channels). Received: "
                f"shape={tuple(inputs.shape)}."
            )
        n, c = inputs.shape[0], inputs.shape[-1 if self.data_format == "channels_last" else 1]
        shape = (n, 1, 1, c) if self.data_format == "channels_last" else (n, c, 1, 1)
        keep = torch.rand(shape, generator=self._generator).to(inputs.device) >= self.rate
        return inputs * keep.to(inputs.dtype) / (1 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "data_format": self.data_format, "seed": self.seed}
