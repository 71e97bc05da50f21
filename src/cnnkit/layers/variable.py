"""Layer weights that behave like Keras variables: ``w.name``, ``w.path``, ``w.numpy()``, ``w.value``, ``w.assign()``.

A weight is still a ``torch.nn.Parameter`` (trainable) or a buffer tensor (non-trainable), so optimizers, DDP,
``state_dict`` and ``.to(device)`` treat it as PyTorch does. Its Keras face speaks Keras' layout, as
``get_weights()`` does: a convolution kernel stored as (out, in, kh, kw) reads back from ``numpy()`` and ``value``
as (kh, kw, in, out), and ``assign`` takes that layout. Its torch face (``shape``, indexing, ``.data``) is the stored
layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class _KerasVariable:
    """The Keras-variable methods shared by trainable and non-trainable weights."""

    _keras_name: str
    _keras_path: str
    _layout: tuple[int, ...] | None

    @property
    def name(self) -> str:  # type: ignore[override]
        """The short name, as Keras: ``kernel``."""
        return self._keras_name

    @property
    def path(self) -> str:
        """``layer_name/weight_name``, as Keras."""
        return self._keras_path

    @property
    def value(self) -> torch.Tensor:
        """The weight as a tensor in Keras' layout (a view: gradients flow through it)."""
        tensor = self.as_subclass(torch.Tensor)  # type: ignore[attr-defined]
        return tensor.permute(_inverse(self._layout)) if self._layout else tensor

    def numpy(self, *, force: bool = False) -> np.ndarray:  # type: ignore[override]
        """A NumPy copy in Keras' layout; works on trainable weights (no "requires grad" error)."""
        return self.value.detach().cpu().numpy().copy()

    def assign(self, value: Any) -> _KerasVariable:
        """Overwrite the weight with ``value`` (Keras' layout and shape), in place, without recording a gradient."""
        keras_shape = tuple(self.value.shape)
        new = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
        if tuple(new.shape) != keras_shape:
            raise ValueError(
                f"The shape of the target variable and the shape of the target value in `variable.assign(value)` "
                f"must match. variable.shape={keras_shape}, Received: value.shape={tuple(new.shape)}. "
                f"Target variable: {self.path}."
            )
        new = new.to(device=self.device, dtype=self.dtype)  # type: ignore[attr-defined]
        with torch.no_grad():
            self.copy_(new.permute(self._layout) if self._layout else new)  # type: ignore[attr-defined]
        return self

    def assign_add(self, value: Any) -> _KerasVariable:
        return self.assign(self.value.detach() + torch.as_tensor(value, dtype=self.dtype, device=self.device))  # type: ignore[attr-defined]

    def assign_sub(self, value: Any) -> _KerasVariable:
        return self.assign(self.value.detach() - torch.as_tensor(value, dtype=self.dtype, device=self.device))  # type: ignore[attr-defined]

    def _set_keras_identity(self, name: str, path: str, layout: tuple[int, ...] | None) -> None:
        self._keras_name, self._keras_path, self._layout = name, path, layout


class Variable(_KerasVariable, torch.nn.Parameter):
    """A trainable weight: a ``torch.nn.Parameter`` with Keras' variable API."""

    def __new__(cls, data: torch.Tensor, requires_grad: bool = True, **_: Any) -> Variable:
        return torch.Tensor._make_subclass(cls, data, requires_grad)

    def __init__(
        self,
        data: torch.Tensor,
        requires_grad: bool = True,
        name: str = "variable",
        path: str | None = None,
        layout: tuple[int, ...] | None = None,
    ) -> None:
        self._set_keras_identity(name, path or name, layout)

    @property
    def trainable(self) -> bool:
        return bool(self.requires_grad)

    def __deepcopy__(self, memo: dict) -> Variable:
        if id(self) in memo:
            return memo[id(self)]
        result = Variable(
            self.data.clone(memory_format=torch.preserve_format),
            self.requires_grad,
            name=self.name,
            path=self.path,
            layout=self._layout,
        )
        result.constraint = getattr(self, "constraint", None)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: int) -> Any:
        # Pickling (torch.save of a whole module, multiprocessing) keeps a plain Parameter: no cnnkit class in the file.
        return torch.nn.Parameter(self.data, self.requires_grad).__reduce_ex__(protocol)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={tuple(self.value.shape)}, dtype=float32>"


class NonTrainableVariable(_KerasVariable, torch.Tensor):
    """A non-trainable weight (a moving statistic): a buffer tensor with Keras' variable API."""

    __torch_function__ = torch._C._disabled_torch_function_impl  # ops on it return plain tensors, as a Parameter's do

    def __new__(cls, data: torch.Tensor, **_: Any) -> NonTrainableVariable:
        return torch.Tensor._make_subclass(cls, data, False)

    def __init__(
        self, data: torch.Tensor, name: str = "variable", path: str | None = None, layout: tuple[int, ...] | None = None
    ) -> None:
        self._set_keras_identity(name, path or name, layout)

    @property
    def trainable(self) -> bool:
        return False

    def __deepcopy__(self, memo: dict) -> NonTrainableVariable:
        if id(self) in memo:
            return memo[id(self)]
        result = NonTrainableVariable(
            self.as_subclass(torch.Tensor).detach().clone(memory_format=torch.preserve_format),
            name=self.name,
            path=self.path,
            layout=self._layout,
        )
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: int) -> Any:
        return self.as_subclass(torch.Tensor).detach().__reduce_ex__(protocol)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={tuple(self.value.shape)}, dtype=float32, trainable=False>"


def make_variable(
    value: torch.Tensor, trainable: bool, requires_grad: bool, name: str, path: str, layout: tuple[int, ...] | None
) -> torch.Tensor:
    """Wrap ``value`` as the right kind of weight."""
    if trainable:
        return Variable(value, requires_grad, name=name, path=path, layout=layout)
    return NonTrainableVariable(value, name=name, path=path, layout=layout)


def _inverse(layout: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(layout))
