"""Pooling layers with Keras' arguments and TensorFlow's ``same`` semantics.

``same`` max pooling ignores the padded positions; ``same`` average pooling averages only the real pixels of each
window (TensorFlow and Keras' JAX backend; Keras' torch backend replicates border pixels instead when the padding is
asymmetric, which we do not copy).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv_utils import normalize_padding, normalize_tuple, output_length, same_padding
from cnnkit.layers.core import _data_format
from cnnkit.layers.registry import register_layer


class _Pooling2D(Layer):
    _mode = "max"

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = _data_format(data_format)
        self.input_spec = InputSpec(
            ndim=4,
            description="(batch, height, width, channels)"
            if self.data_format == "channels_last"
            else "(batch, channels, height, width)",
        )

    def call(self, inputs):
        x = inputs.permute(0, 3, 1, 2) if self.data_format == "channels_last" else inputs
        pads = [(0, 0), (0, 0)]
        if self.padding == "same":
            pads = [same_padding(x.shape[2 + i], self.pool_size[i], self.strides[i]) for i in (0, 1)]
        x = self._pool(x, pads)
        return x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x

    def _pool(self, x: torch.Tensor, pads: list[tuple[int, int]]) -> torch.Tensor:
        (top, bottom), (left, right) = pads
        symmetric = top == bottom and left == right and top * 2 <= self.pool_size[0] and left * 2 <= self.pool_size[1]
        if self._mode == "max":
            if symmetric:
                return F.max_pool2d(x, self.pool_size, self.strides, (top, left))
            x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
            return F.max_pool2d(x, self.pool_size, self.strides)
        if symmetric:
            return F.avg_pool2d(x, self.pool_size, self.strides, (top, left), count_include_pad=False)
        # Asymmetric padding: sum over zero-padded windows, divided by the number of real pixels in each window.
        summed = F.avg_pool2d(F.pad(x, (left, right, top, bottom)), self.pool_size, self.strides)
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        counts = F.avg_pool2d(F.pad(ones, (left, right, top, bottom)), self.pool_size, self.strides)
        return summed / counts

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            batch, h, w, c = input_shape
        else:
            batch, c, h, w = input_shape
        oh, ow = (output_length(n, self.pool_size[i], self.strides[i], self.padding) for i, n in enumerate((h, w)))
        if 0 in (oh, ow):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the input is too small for pool_size={self.pool_size}. "
                f"Received: input_shape={tuple(input_shape)}. Use a larger input, a smaller pool or padding='same'."
            )
        return (batch, oh, ow, c) if self.data_format == "channels_last" else (batch, c, oh, ow)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


@register_layer
class MaxPooling2D(_Pooling2D):
    """Max over ``pool_size`` windows: ``MaxPooling2D(pool_size=(2, 2))``."""

    _mode = "max"


@register_layer
class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows."""

    _mode = "avg"


class _GlobalPooling2D(Layer):
    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.keepdims = keepdims
        self.input_spec = InputSpec(
            ndim=4,
            description="(batch, height, width, channels)"
            if self.data_format == "channels_last"
            else "(batch, channels, height, width)",
        )

    @property
    def _axes(self) -> tuple[int, int]:
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis in self._axes:
            shape[axis] = 1
        return tuple(shape) if self.keepdims else tuple(d for i, d in enumerate(shape) if i not in self._axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@register_layer
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: (batch, h, w, c) -> (batch, c)."""

    def call(self, inputs):
        return inputs.mean(dim=self._axes, keepdim=self.keepdims)


@register_layer
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width: (batch, h, w, c) -> (batch, c)."""

    def call(self, inputs):
        return inputs.amax(dim=self._axes, keepdim=self.keepdims)


MaxPool2D, AvgPool2D, GlobalAvgPool2D, GlobalMaxPool2D = (
    MaxPooling2D,
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
)


class _GlobalPooling1D(Layer):
    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=3, description="(batch, steps, features)")

    @property
    def _axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.keepdims:
            shape[self._axis] = 1
            return tuple(shape)
        return tuple(d for i, d in enumerate(shape) if i != self._axis)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@register_layer
class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps axis: (batch, steps, features) -> (batch, features)."""

    def call(self, inputs):
        return inputs.mean(dim=self._axis, keepdim=self.keepdims)


@register_layer
class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the steps axis: (batch, steps, features) -> (batch, features)."""

    def call(self, inputs):
        return inputs.amax(dim=self._axis, keepdim=self.keepdims)


GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D
