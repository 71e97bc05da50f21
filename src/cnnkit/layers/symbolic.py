"""Symbolic tensors and graph nodes for the functional API (``x = Conv2D(...)(Input((64, 64, 3)))``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


class KerasTensor:
    """A placeholder with a shape (batch axis ``None``) and dtype; records the layer call that produced it."""

    def __init__(
        self, shape: tuple, dtype: str = "float32", name: str | None = None, node: Node | None = None, index: int = 0
    ):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self.node = node  # the call that produced this tensor (None for an Input before it is wrapped)
        self.index = index  # which output of that call

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic tensor (from cnnkit.layers.Input) has no value, so it cannot be used as a Python bool. "
            "Use it as the input of a layer call."
        )


@dataclass(eq=False)
class Node:
    """One call of a layer in a functional graph: its symbolic inputs, outputs and extra call arguments."""

    layer: Any
    inputs: list[KerasTensor]
    outputs: list[KerasTensor]
    inputs_structure: str = "single"  # 'single', 'list', or 'args' (the call was layer(a, b))
    outputs_structure: str = "single"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def pack_inputs(self, values: list) -> Any:
        if self.inputs_structure == "args":
            return PositionalArgs(values)
        return values[0] if self.inputs_structure == "single" else list(values)


class PositionalArgs(tuple):
    """The tensors of a ``layer(a, b)`` call, replayed by a functional model; ``Layer.__call__`` unpacks them."""


def flatten(x: Any) -> list:
    """Nested lists/tuples/dicts of tensors -> a flat list (dict values in key order)."""
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in flatten(item)]
    if isinstance(x, dict):
        return [leaf for key in x for leaf in flatten(x[key])]
    return [x]


def is_symbolic(x: Any) -> bool:
    return any(isinstance(leaf, KerasTensor) for leaf in flatten(x))


def shape_of(x: Any) -> Any:
    """The Keras shape (tuple) of a tensor, KerasTensor, or a list of them."""
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        return [shape_of(item) for item in x]
    return tuple(x.shape)
