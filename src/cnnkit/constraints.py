"""Weight constraints, as ``keras.constraints``: a projection applied to a weight after each optimizer step.

Example:
    >>> import torch
    >>> MaxNorm(2.0)(torch.tensor([[3.0], [4.0]])).flatten().tolist()  # the column's norm 5 -> 2
    [1.2000000476837158, 1.600000023841858]
"""

from __future__ import annotations

from typing import Any

import torch

_EPSILON = 1e-7  # Keras' backend.epsilon(), added to norms before dividing


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight; ``get_config`` its arguments."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        return cls(**config)


class MaxNorm(Constraint):
    """Scale each slice along ``axis`` so that its L2 norm is at most ``max_value``."""

    def __init__(self, max_value: float = 2, axis: int | list[int] = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = torch.sqrt(torch.sum(torch.square(w), dim=_dims(self.axis), keepdim=True))
        desired = torch.clamp(norms, 0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero the negative entries."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to unit L2 norm."""

    def __init__(self, axis: int | list[int] = 0) -> None:
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (_EPSILON + torch.sqrt(torch.sum(torch.square(w), dim=_dims(self.axis), keepdim=True)))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's L2 norm into [min_value, max_value], by a fraction ``rate`` of the way."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: int | list[int] = 0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = torch.sqrt(torch.sum(torch.square(w), dim=_dims(self.axis), keepdim=True))
        desired = self.rate * torch.clamp(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras' aliases: the class names and the lowercase/short spellings it accepts in get().
_BY_NAME: dict[str, type[Constraint]] = {
    "MaxNorm": MaxNorm,
    "max_norm": MaxNorm,
    "NonNeg": NonNeg,
    "non_neg": NonNeg,
    "UnitNorm": UnitNorm,
    "unit_norm": UnitNorm,
    "MinMaxNorm": MinMaxNorm,
    "min_max_norm": MinMaxNorm,
}
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


def get(identifier: Any) -> Constraint | None:
    """A constraint from a name, a config dict, a Constraint or a callable (``None`` stays ``None``)."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]].from_config(identifier.get("config") or {})
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret constraint identifier. Expected one of {sorted(_BY_NAME)}, a Constraint or a callable. "
        f"Received: constraint={identifier!r}."
    )


def serialize(constraint: Any) -> dict[str, Any] | None:
    """Keras' config form, ``{'class_name': 'MaxNorm', 'config': {...}}``, or ``None``."""
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise TypeError(
            f"Cannot serialize a plain callable constraint. Expected a cnnkit.constraints.Constraint. Received: "
            f"constraint={constraint!r}. Subclass Constraint and implement get_config()."
        )
    return {
        "module": "keras.constraints",
        "class_name": type(constraint).__name__,
        "config": constraint.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict[str, Any]) -> Constraint | None:
    return get(config)


def _dims(axis: int | list[int]) -> list[int]:
    return [axis] if isinstance(axis, int) else list(axis)


__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]
