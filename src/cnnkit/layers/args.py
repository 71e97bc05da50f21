"""Small shared pieces of the Layer contract: the input spec, weight bookkeeping, argument errors, shape helpers."""

from __future__ import annotations

import difflib
import functools
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class WeightInfo:
    created_trainable: bool
    layout: tuple[int, ...] | None  # permutation from Keras' layout to ours; None when they are the same
    regularizer: Any = None
    constraint: Any = None


@dataclass
class InputSpec:
    """What a layer accepts: a number of axes, and fixed sizes for some axes once built."""

    ndim: int | None = None
    min_ndim: int | None = None
    axes: dict[int, int] | None = None
    description: str = ""


def _unexpected_arguments(cls: type, kwargs: dict[str, Any]) -> TypeError:
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "args")]
    accepted += [p for p in ("name", "trainable", "dtype", "input_shape", "input_dim") if p not in accepted]
    parts = []
    for key in kwargs:
        close = difflib.get_close_matches(key, accepted, n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return TypeError(
        f"{cls.__name__} got unexpected keyword argument(s) {', '.join(parts)}. "
        f"Accepted arguments: {', '.join(accepted)}."
    )


def _unique(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _with_batch_none(shape: Any) -> Any:
    if isinstance(shape, list):
        return [_with_batch_none(s) for s in shape]
    shape = tuple(shape)
    return (None, *shape[1:]) if shape else shape


def _device_of(layer: torch.nn.Module) -> torch.device:
    for t in layer.parameters():
        return t.device
    for t in layer.buffers():
        return t.device
    return torch.device("cpu")


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _is_number_list(x: Any) -> bool:
    while isinstance(x, (list, tuple)) and x:
        x = x[0]
    return isinstance(x, (int, float, np.number))


def check_input_spec(layer: Any, input_shape: Any) -> None:
    """Raise a clear ValueError when ``input_shape`` does not fit ``layer.input_spec``."""
    spec = layer.input_spec
    if spec is None or isinstance(input_shape, list):
        return
    shape = tuple(input_shape)
    what = f"Layer {layer.name!r} ({type(layer).__name__})"
    if spec.ndim is not None and len(shape) != spec.ndim:
        hint = " Add a batch axis: x[None]." if len(shape) == spec.ndim - 1 else " Reshape the input."
        raise ValueError(
            f"{what} expects a {spec.ndim}D input {spec.description}. Received: shape={_fmt(shape)}.{hint}".replace(
                "  ", " "
            )
        )
    if spec.min_ndim is not None and len(shape) < spec.min_ndim:
        raise ValueError(
            f"{what} expects an input with at least {spec.min_ndim} axes {spec.description}. "
            f"Received: shape={_fmt(shape)}. Reshape the input.".replace("  ", " ")
        )
    for axis, size in (spec.axes or {}).items():
        if shape[axis] is not None and shape[axis] != size:
            raise ValueError(
                f"{what} was built for inputs whose axis {axis} has size {size}. Received: shape={_fmt(shape)}. "
                f"Feed inputs of the size it was built for, or create a new layer."
            )


_KERAS_ORDER = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint", "aggregation")
_LEGACY_ORDER = ("name", "shape", "initializer", "trainable", "regularizer")


def _marking_built(build: Any) -> Any:
    """Wrap a ``build`` so that calling it directly marks the layer built, as Keras does (no second build)."""

    @functools.wraps(build)
    def wrapper(self: Any, input_shape: Any = None, *args: Any, **kwargs: Any) -> Any:
        result = build(self, input_shape, *args, **kwargs)
        self.built = True
        if self._build_input_shape is None and input_shape is not None:
            self._build_input_shape = _with_batch_none(input_shape)
        return result

    wrapper._marks_built = True
    return wrapper
