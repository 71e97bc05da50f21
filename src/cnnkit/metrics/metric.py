"""The stateful metric base class, `Mean` and `MeanMetricWrapper` (Keras 3 semantics).

Metric state lives in float32 tensors on the device of the predictions; `update_state()` only issues device ops
(in-place adds), so it never waits for the device. `result()` returns a 0-d tensor; reading it (`float()`) is the
only host sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnnkit import initializers
from cnnkit.common.naming import auto_name, to_snake_case
from cnnkit.losses.loss import apply_mask, squeeze_or_expand_to_same_rank, to_tensor

__all__ = ["Mean", "MeanMetricWrapper", "Metric", "MetricVariable", "Sum"]


class MetricVariable(torch.Tensor):
    """A metric's state: a float32 tensor with Keras' variable methods (``assign``, ``assign_add``, ``value``...).

    Arithmetic on it gives plain tensors (as ``nn.Parameter`` does), so results never carry the variable type.
    """

    # Plain tensors out of every op: no per-op dispatch cost and no variable-typed intermediates.
    __torch_function__ = torch._C._disabled_torch_function_impl

    def __new__(cls, data: torch.Tensor, name: str = "variable") -> MetricVariable:
        variable = torch.Tensor._make_subclass(cls, data, False)
        variable._name = name
        return variable

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        return self._name

    @property
    def value(self) -> torch.Tensor:
        """The current value as a plain tensor (shares memory with the variable)."""
        return self.data

    def _same_place(self, value: Any) -> torch.Tensor:
        value = torch.as_tensor(value)
        if value.device != self.device:  # state follows the values' device (CPU state, CUDA predictions)
            self.data = self.data.to(value.device)
        return value.to(torch.float32)

    def assign(self, value: Any) -> MetricVariable:
        self.data.copy_(self._same_place(value).expand(self.shape) if self.dim() else self._same_place(value))
        return self

    def assign_add(self, value: Any) -> MetricVariable:
        self.data.add_(self._same_place(value))
        return self

    def assign_sub(self, value: Any) -> MetricVariable:
        self.data.sub_(self._same_place(value))
        return self

    def numpy(self) -> Any:
        return self.data.detach().cpu().numpy()

    def __repr__(self) -> str:
        return f"<MetricVariable name={self._name!r} shape={tuple(self.shape)} value={self.data.tolist()}>"

    def __reduce_ex__(self, protocol: int) -> Any:
        # copy/deepcopy of a metric (clone_model, callbacks) copies the values and the name, not a pickle payload.
        return (MetricVariable, (self.data.clone(), self._name))


class Metric:
    """Base class: `update_state(...)` accumulates, `result()` reads, `reset_state()` clears.

    Subclasses create their state in `__init__` with `self.x = self.add_variable(shape, initializer, name=...)`.

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
        self._variables: list[MetricVariable] = []

    def add_variable(
        self,
        shape: tuple[int, ...] = (),
        initializer: Any = "zeros",
        dtype: Any = None,
        aggregation: str = "sum",
        name: str | None = None,
    ) -> MetricVariable:
        """Creates a state variable, as Keras' ``Metric.add_variable`` (assign it to an attribute yourself).

        The variable is a float32 tensor with Keras' variable methods (``assign``, ``assign_add``, ``assign_sub``,
        ``value``, ``numpy()``, ``name``); ``reset_state()`` sets it back to zeros, as Keras does.

        Args:
            shape: The variable's shape.
            initializer: An initializer name (``"zeros"``, ``"ones"``...), instance, or a number.
            dtype: ``None`` or ``"float32"`` (metric state accumulates in float32).
            aggregation: Accepted for Keras compatibility (how replicas combine the variable: ``"sum"``, ``"mean"``).
            name: The variable's name.

        Example:
            >>> class Hits(Metric):
            ...     def __init__(self, name="hits", **kwargs):
            ...         super().__init__(name=name, **kwargs)
            ...         self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
            ...     def update_state(self, y_true, y_pred, sample_weight=None):
            ...         self.hits.assign_add(torch.sum(torch.as_tensor(y_true) == torch.as_tensor(y_pred)))
            ...     def result(self):
            ...         return self.hits.value
            >>> m = Hits(); m.update_state([1, 2, 3], [1, 0, 3]); float(m.result())
            2.0
        """
        if dtype not in (None, "float32", torch.float32):
            raise ValueError(
                "cnnkit metrics accumulate in float32. Expected dtype=None or 'float32'. "
                f"Received: dtype={dtype!r}. Remove the argument."
            )
        shape = tuple(int(d) for d in ((shape,) if isinstance(shape, int) else shape or ()))
        if isinstance(initializer, (int, float)):
            values = torch.full(shape, float(initializer), dtype=torch.float32)
        else:
            values = torch.as_tensor(initializers.get(initializer)(shape, dtype=torch.float32), dtype=torch.float32)
        variable = MetricVariable(values.detach().clone(), name=name or f"variable_{len(self._variables)}")
        self._variables.append(variable)
        return variable

    def add_weight(
        self, shape: tuple[int, ...] = (), initializer: Any = None, dtype: Any = None, name: str | None = None
    ) -> MetricVariable:
        """Keras' backwards-compatible alias of :meth:`add_variable`."""
        return self.add_variable(shape=shape, initializer=initializer or "zeros", dtype=dtype, name=name)

    def _add_state(self, name: str, shape: tuple[int, ...] = ()) -> MetricVariable:
        """A zero state variable stored as attribute ``name`` (how cnnkit's own metrics declare their state)."""
        variable = self.add_variable(shape=shape, name=name)
        setattr(self, name, variable)
        return variable

    @property
    def variables(self) -> list[torch.Tensor]:
        return list(self._variables)

    def to(self, device: torch.device | str) -> Metric:
        """Moves the state to `device` (done automatically on the first update from another device)."""
        for v in self._variables:
            v.data = v.data.to(device)  # in place: attributes and user references keep pointing at the variable
        return self

    def _follow(self, like: torch.Tensor) -> torch.device:
        # State follows the predictions' device; the move happens once, not per batch.
        if self._variables and self._variables[0].device != like.device:
            self.to(like.device)
        return like.device

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Sets every state variable back to zero (in place, on its device), as Keras does."""
        for v in self._variables:
            v.data.zero_()

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
        self._add_state("total")

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
        self._add_state("total")
        self._add_state("count")

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
