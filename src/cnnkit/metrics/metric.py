"""The stateful metric base class, `Mean` and `MeanMetricWrapper` (Keras 3 semantics).

Metric state lives in float32 tensors on the device of the predictions; `update_state()` only issues device ops
(in-place adds), so it never waits for the device. `result()` returns a 0-d tensor; reading it (`float()`) is the
only host sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnnkit.common.naming import auto_name, to_snake_case
from cnnkit.losses.loss import apply_mask, squeeze_or_expand_to_same_rank, to_tensor

__all__ = ["Mean", "MeanMetricWrapper", "Metric", "Sum"]


class Metric:
    """Base class: `update_state(...)` accumulates, `result()` reads, `reset_state()` clears.

    Subclasses create their state in `__init__` with `add_variable(name, shape)`.

    Example:
        >>> import cnnkit
        >>> m = cnnkit.metrics.Mean()
        >>> m.update_state([1.0, 3.0]); float(m.result())
        2.0
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        if dtype not in (None, "float32", torch.float32):
            raise ValueError(
                "cnnkit metrics accumulate in float32. Expected dtype=None or 'float32'. "
                f"Received: dtype={dtype!r}. Remove the argument."
            )
        self.name = name or auto_name(type(self).__name__)
        self.dtype = "float32"
        self._state_names: list[str] = []
        self._initial: dict[str, float] = {}

    def add_variable(self, name: str, shape: tuple[int, ...] = (), initial_value: float = 0.0) -> torch.Tensor:
        """Creates a float32 state tensor (an attribute called `name`)."""
        tensor = torch.full(shape, initial_value, dtype=torch.float32)
        setattr(self, name, tensor)
        self._state_names.append(name)
        self._initial[name] = initial_value
        return tensor

    @property
    def variables(self) -> list[torch.Tensor]:
        return [getattr(self, n) for n in self._state_names]

    def to(self, device: torch.device | str) -> Metric:
        """Moves the state to `device` (done automatically on the first update from another device)."""
        for n in self._state_names:
            setattr(self, n, getattr(self, n).to(device))
        return self

    def _follow(self, like: torch.Tensor) -> torch.device:
        # State follows the predictions' device; the move happens once, not per batch.
        if self._state_names and getattr(self, self._state_names[0]).device != like.device:
            self.to(like.device)
        return like.device

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Sets every state tensor back to its initial value (in place, on its device)."""
        for n in self._state_names:
            getattr(self, n).fill_(self._initial[n])

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _dims(start: int, stop: int) -> list[int]:
    return list(range(start, stop))


def reduce_to_samplewise_values(
    values: torch.Tensor, sample_weight: Any, reduce_fn: Callable[..., torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Keras' rule: reduce values to one per sample, weighting them (and the weights) as Keras 3 does."""
    mask = getattr(values, "_keras_mask", None)
    values = values.to(torch.float32)
    if sample_weight is not None:
        sample_weight = to_tensor(sample_weight, torch.float32, values.device)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, reduction="sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.dim(), values.dim()
        if v_ndim > w_ndim:
            values = reduce_fn(values, dim=_dims(w_ndim, v_ndim))
        sample_weight = torch.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, dim=_dims(1, w_ndim))
    if values.dim() > 1:
        values = reduce_fn(values, dim=_dims(1, values.dim()))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.add_variable("total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = to_tensor(values)
        self._follow(values)
        values, _ = reduce_to_samplewise_values(values, sample_weight, torch.sum)
        self.total.add_(values.sum())

    def result(self) -> torch.Tensor:
        return self.total.clone()


class Mean(Metric):
    """The (weighted) mean of the values seen: `total / count`.

    Example:
        >>> m = Mean(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]); float(m.result())
        2.0
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.add_variable("total")
        self.add_variable("count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = to_tensor(values)
        self._follow(values)
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, torch.mean)
        self.total.add_(values.sum())
        if sample_weight is not None:
            self.count.add_(sample_weight.sum())
        else:
            self.count.add_(values.shape[0] if values.dim() >= 1 else 1)

    def result(self) -> torch.Tensor:
        return torch.where(self.count == 0, torch.zeros_like(self.total), self.total / self.count)


class MeanMetricWrapper(Mean):
    """Averages a per-sample function `fn(y_true, y_pred, **kwargs)` over everything seen.

    Example:
        >>> l1 = MeanMetricWrapper(lambda t, p: (t - p).abs(), name="l1")
        >>> l1.update_state(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])); float(l1.result())
        1.5
    """

    def __init__(self, fn: Callable[..., torch.Tensor], name: str | None = None, dtype: Any = None, **kwargs: Any):
        super().__init__(name=name or to_snake_case(getattr(fn, "__name__", "mean_metric_wrapper")), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = to_tensor(y_pred, dtype=None)
        y_true = to_tensor(y_true, dtype=None, device=y_pred.device)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._fn_kwargs}


# ----------------------------------------------------------------------------- metric classes
class _Wrapper(MeanMetricWrapper):
    _fn_default: Callable[..., torch.Tensor]
    _name_default: str

    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(type(self)._fn_default, name=name or self._name_default, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)


def _wrapper(class_name: str, fn: Callable[..., torch.Tensor], default_name: str, doc: str) -> type:
    return type(class_name, (_Wrapper,), {"_fn_default": staticmethod(fn), "_name_default": default_name,
                                          "__doc__": doc})  # fmt: skip
