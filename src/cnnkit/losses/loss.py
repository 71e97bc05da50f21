"""The loss base class and Keras 3's reduction rules (sample weights, masks, `reduction=`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from cnnkit.common.naming import auto_name, to_snake_case

__all__ = ["Loss", "LossFunctionWrapper", "reduce_weighted_values", "squeeze_or_expand_to_same_rank", "to_tensor"]

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def to_tensor(x: Any, dtype: torch.dtype | None = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """Converts arrays, lists and tensors to a torch tensor (no copy when already right)."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype or x.dtype, device=device or x.device)
    if isinstance(x, np.ndarray) and dtype is None and x.dtype == np.float64:
        dtype = torch.float32
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def squeeze_or_expand_to_same_rank(
    x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras' rule: when ranks differ by one and the longer ends in 1, squeeze it (or expand a rank-1 partner)."""
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _divide_no_nan(x: torch.Tensor, y: torch.Tensor | float) -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        return x / y if y != 0 else torch.zeros_like(x)
    return torch.where(y == 0, torch.zeros_like(x), x / torch.where(y == 0, torch.ones_like(y), y))


def standardize_reduction(reduction: str | None) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`. Expected one of {REDUCTIONS}. "
            f"Received: reduction={reduction!r}. Use 'sum_over_batch_size' (the default) in almost all cases."
        )
    return reduction


def apply_mask(
    sample_weight: torch.Tensor | None, mask: torch.Tensor | None, reduction: str | None
) -> torch.Tensor | None:
    """Merges a validity mask into the sample weights; mean reductions rescale valid entries by total/valid."""
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        total = float(mask.numel())
        valid = mask.sum(dtype=torch.float32)
        scale = _divide_no_nan(torch.full_like(valid, total), valid)
        float_mask = torch.where(mask.bool(), scale, torch.zeros_like(scale))
    else:
        float_mask = mask.to(torch.float32)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_weighted_values(
    values: torch.Tensor,
    sample_weight: Any = None,
    mask: torch.Tensor | None = None,
    reduction: str | None = "sum_over_batch_size",
) -> torch.Tensor:
    """Weights per-sample losses and reduces them exactly as Keras 3 `reduce_weighted_values`."""
    reduction = standardize_reduction(reduction)
    if sample_weight is not None:
        sample_weight = to_tensor(sample_weight, torch.float32, values.device)
    sample_weight = apply_mask(sample_weight, mask, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    if reduction is None or reduction == "none" or values.dim() == 0 or tuple(values.shape) == (0,):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(loss, sample_weight.sum())
    return _divide_no_nan(loss, float(values.numel()))


class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)` returning per-sample losses.

    A `_keras_mask` boolean attribute on the returned tensor (or a returned `(values, mask)` pair) marks the
    valid entries, as Keras' masks do.

    Example:
        >>> class MyMSE(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ((y_true - y_pred) ** 2).mean(dim=-1)
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size", dtype: Any = None):
        self.name = name or auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        if dtype not in (None, "float32", torch.float32):
            raise ValueError(
                "cnnkit losses compute in float32. Expected dtype=None or 'float32'. "
                f"Received: dtype={dtype!r}. Remove the argument."
            )
        self.dtype = "float32"

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        y_pred_t = to_tensor(y_pred)
        logits = getattr(y_pred, "_keras_logits", None)
        if logits is not None and y_pred_t is not y_pred:
            y_pred_t._keras_logits = logits  # keep the logits across the float32 conversion
            activation = getattr(y_pred, "_keras_activation", None)
            if activation is not None:
                y_pred_t._keras_activation = activation
        y_true_t = to_tensor(y_true, device=y_pred_t.device)
        out = self.call(y_true_t, y_pred_t)
        values, mask = out if isinstance(out, tuple) else (out, getattr(out, "_keras_mask", None))
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _reshape_like(y_pred: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    # The same squeeze/unsqueeze applied to the attached logits keeps them usable after the rank fix.
    logits = getattr(y_pred, "_keras_logits", None)
    if new is y_pred or logits is None or logits.shape != y_pred.shape:
        return new
    new._keras_logits = logits.reshape(new.shape)
    if hasattr(y_pred, "_keras_activation"):
        new._keras_activation = y_pred._keras_activation
    return new


class LossFunctionWrapper(Loss):
    """Wraps `fn(y_true, y_pred, **kwargs)` (per-sample losses) into a `Loss`, as Keras does for string losses."""

    def __init__(
        self,
        fn: Callable[..., Any],
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name or to_snake_case(getattr(fn, "__name__", "loss")), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> Any:
        y_true, new_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, _reshape_like(y_pred, new_pred), **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self._fn_kwargs}


EPSILON = 1e-7


def _pair(y_true: Any, y_pred: Any, align: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true, device=y_pred.device)
    return squeeze_or_expand_to_same_rank(y_true, y_pred) if align else (y_true, y_pred)


def _loss_class(class_name: str, fn: Any, default_name: str, doc: str) -> type:
    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None):  # noqa: N807
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})
