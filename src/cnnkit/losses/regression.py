"""Regression losses: MSE, MAE, MAPE, MSLE, Huber, log-cosh and cosine similarity (Keras 3's formulas, float32,
epsilon 1e-7), as per-sample functions and `Loss` classes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from cnnkit.losses.loss import (
    EPSILON,
    Loss,
    LossFunctionWrapper,
    _loss_class,
    _pair,
    squeeze_or_expand_to_same_rank,
    to_tensor,
)


def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(square(y_true - y_pred), axis=-1)`."""
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true - y_pred).square().mean(dim=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true - y_pred).abs().mean(dim=-1)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors (`keras.losses.MeanSquaredError`)."""

    def __init__(
        self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error", dtype: Any = None
    ) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors (`keras.losses.MeanAbsoluteError`)."""

    def __init__(
        self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error", dtype: Any = None
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


def l2_normalize(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """`x * min(rsqrt(sum(x**2)), 1/epsilon)`, Keras' `ops.normalize(order=2)`."""
    inv_norm = torch.rsqrt(x.square().sum(dim=axis, keepdim=True)).clamp_max(1.0 / EPSILON)
    return x * inv_norm


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Quadratic within `delta` of the target, linear beyond."""
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = error.abs()
    delta_t = torch.tensor(delta, dtype=torch.float32)
    linear = delta * abs_error - 0.5 * float(delta_t.square())
    return torch.where(abs_error <= delta, 0.5 * error.square(), linear).mean(dim=-1)


def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(log(cosh(y_pred - y_true)))`, computed as `x + softplus(-2x) - log(2)`."""
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    return (x + F.softplus(x * -2.0) - math.log(2.0)).mean(dim=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))`."""
    y_true, y_pred = _pair(y_true, y_pred)
    return 100.0 * ((y_true - y_pred) / y_true.abs().clamp_min(EPSILON)).abs().mean(dim=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2)`."""
    y_true, y_pred = _pair(y_true, y_pred)
    first = (y_pred.clamp_min(EPSILON) + 1.0).log()
    second = (y_true.clamp_min(EPSILON) + 1.0).log()
    return (first - second).square().mean(dim=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """The loss form: minus the cosine similarity (so that minimizing aligns the vectors)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return -(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis)).sum(dim=axis)


class Huber(LossFunctionWrapper):
    """Huber loss (`keras.losses.Huber`), named `huber_loss` as in Keras."""

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None) -> None:
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "delta": self.delta}


class CosineSimilarity(LossFunctionWrapper):
    """Minus the cosine similarity along `axis` (`keras.losses.CosineSimilarity`)."""

    def __init__(self, axis: int = -1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "axis": self.axis}


LogCosh = _loss_class("LogCosh", log_cosh, "log_cosh", "Log-cosh loss (`keras.losses.LogCosh`).")


MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, "mean_absolute_percentage_error",
    "Mean absolute percentage error (`keras.losses.MeanAbsolutePercentageError`).",
)  # fmt: skip


MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, "mean_squared_logarithmic_error",
    "Mean squared logarithmic error (`keras.losses.MeanSquaredLogarithmicError`).",
)  # fmt: skip
