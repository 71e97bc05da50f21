"""Layers that change shapes: ZeroPadding2D, Cropping2D, UpSampling2D, Reshape, Permute."""

from __future__ import annotations

import math
from typing import Any

import torch.nn.functional as F

from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv_utils import normalize_tuple
from cnnkit.layers.core import _data_format
from cnnkit.layers.registry import register_layer


def _pairs(value: Any, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras' forms: ``1``, ``(1, 2)`` (symmetric h, w) or ``((top, bottom), (left, right))``."""
    if isinstance(value, int):
        return (value, value), (value, value)
    value = tuple(value)
    if len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[0]), (value[1], value[1])
    if len(value) == 2:
        return normalize_tuple(value[0], 2, name, True), normalize_tuple(value[1], 2, name, True)
    raise ValueError(
        f"`{name}` must be an int, a tuple of 2 ints or a tuple of 2 tuples of 2 ints. Received: {name}={value!r}."
    )


class _Spatial(Layer):
    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.input_spec = InputSpec(ndim=4, description="(batch, height, width, channels)")

    def _hw_axes(self) -> tuple[int, int]:
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@register_layer
class ZeroPadding2D(_Spatial):
    """Pad height and width with zeros: ``ZeroPadding2D(padding=((0, 1), (0, 1)))``."""

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = _pairs(padding, "padding")

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        if self.data_format == "channels_last":
            return F.pad(inputs, (0, 0, left, right, top, bottom))
        return F.pad(inputs, (left, right, top, bottom))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (a, b) in zip(self._hw_axes(), self.padding):
            shape[axis] = None if shape[axis] is None else shape[axis] + a + b
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


@register_layer
class Cropping2D(_Spatial):
    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = _pairs(cropping, "cropping")

    def call(self, inputs):
        (top, bottom), (left, right) = self.cropping
        h, w = (inputs.shape[a] for a in self._hw_axes())
        if self.data_format == "channels_last":
            return inputs[:, top : h - bottom, left : w - right, :]
        return inputs[:, :, top : h - bottom, left : w - right]

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (a, b) in zip(self._hw_axes(), self.cropping):
            shape[axis] = None if shape[axis] is None else shape[axis] - a - b
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


@register_layer
class UpSampling2D(_Spatial):
    def __init__(
        self, size: Any = (2, 2), data_format: str | None = None, interpolation: str = "nearest", **kwargs: Any
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.size = normalize_tuple(size, 2, "size")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"interpolation must be 'nearest' or 'bilinear'. Received: {interpolation!r}.")
        self.interpolation = interpolation

    def call(self, inputs):
        x = inputs.permute(0, 3, 1, 2) if self.data_format == "channels_last" else inputs
        kwargs = {"align_corners": False} if self.interpolation == "bilinear" else {}
        x = F.interpolate(x, scale_factor=self.size, mode=self.interpolation, **kwargs)
        return x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, s in zip(self._hw_axes(), self.size):
            shape[axis] = None if shape[axis] is None else shape[axis] * s
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


@register_layer
class Reshape(Layer):
    """Reshape all axes but the batch: ``Reshape((7, 7, 64))``; one entry may be -1."""

    def __init__(self, target_shape: tuple, **kwargs: Any):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape accepts at most one -1. Received: target_shape={self.target_shape}.")

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def compute_output_shape(self, input_shape):
        if -1 not in self.target_shape:
            return (input_shape[0], *self.target_shape)
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        known = math.prod(d for d in self.target_shape if d != -1)
        return (input_shape[0], *(math.prod(rest) // known if d == -1 else d for d in self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register_layer
class Permute(Layer):
    """Permute the non-batch axes, 1-indexed as in Keras: ``Permute((2, 1))``."""

    def __init__(self, dims: tuple, **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}
