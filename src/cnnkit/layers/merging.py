"""Layers that merge a list of inputs: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate."""

from __future__ import annotations

import functools
from typing import Any

import torch

from cnnkit.layers.base import Layer, _fmt
from cnnkit.layers.registry import register_layer


class _Merge(Layer):
    _min_inputs = 2

    def _check_list(self, input_shape: Any) -> list[tuple]:
        if not isinstance(input_shape, list) or len(input_shape) < self._min_inputs:
            received = "a single input" if not isinstance(input_shape, list) else f"{len(input_shape)} input(s)"
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects a list of at least {self._min_inputs} inputs. "
                f"Received: {received}. Call it as {type(self).__name__}()([x, y])."
            )
        return [tuple(s) for s in input_shape]

    def build(self, input_shape):
        shapes = self._check_list(input_shape)
        self._broadcast_shape(shapes)

    def _broadcast_shape(self, shapes: list[tuple]) -> tuple:
        out = list(shapes[0])
        for shape in shapes[1:]:
            if len(shape) != len(out):
                raise ValueError(
                    f"{type(self).__name__} {self.name!r} needs inputs of the same rank. Received shapes: "
                    f"{', '.join(_fmt(s) for s in shapes)}."
                )
            for i, (a, b) in enumerate(zip(out, shape)):
                if a is None or b is None:
                    out[i] = a if b is None else b
                elif a != b and 1 not in (a, b):
                    raise ValueError(
                        f"{type(self).__name__} {self.name!r} needs inputs of matching shapes. Received shapes: "
                        f"{', '.join(_fmt(s) for s in shapes)}. Make the shapes equal (e.g. with a 1x1 Conv2D)."
                    )
                else:
                    out[i] = max(a, b)
        return tuple(out)

    def compute_output_shape(self, input_shape):
        return self._broadcast_shape(self._check_list(input_shape))

    def call(self, inputs):
        return functools.reduce(self._op, inputs)

    @staticmethod
    def _op(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@register_layer
class Add(_Merge):
    """Element-wise sum: ``Add()([x, shortcut])``."""

    _op = staticmethod(torch.add)


@register_layer
class Subtract(_Merge):
    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"Subtract expects exactly 2 inputs. Received: {len(inputs)} inputs.")
        return inputs[0] - inputs[1]


@register_layer
class Multiply(_Merge):
    _op = staticmethod(torch.mul)


@register_layer
class Maximum(_Merge):
    _op = staticmethod(torch.maximum)


@register_layer
class Minimum(_Merge):
    _op = staticmethod(torch.minimum)


@register_layer
class Average(_Merge):
    def call(self, inputs):
        return functools.reduce(torch.add, inputs) / len(inputs)


@register_layer
class Concatenate(_Merge):
    """Join inputs along ``axis`` (default: channels)."""

    _min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        axis = self.axis % rank
        out = list(shapes[0])
        for shape in shapes[1:]:
            if len(shape) != rank or any(
                i != axis and a is not None and b is not None and a != b for i, (a, b) in enumerate(zip(out, shape))
            ):
                raise ValueError(
                    f"Concatenate {self.name!r} needs inputs whose shapes match except along the concatenation axis "
                    f"{self.axis}. Received shapes: {', '.join(_fmt(s) for s in shapes)}."
                )
            out[axis] = None if out[axis] is None or shape[axis] is None else out[axis] + shape[axis]
        return tuple(out)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def call(self, inputs):
        return torch.cat(list(inputs), dim=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


# Keras' functional forms: `add([x, y])` is `Add()([x, y])`.
def add(inputs: list, **kwargs: Any) -> Any:
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
