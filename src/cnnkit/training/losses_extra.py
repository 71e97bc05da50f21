"""The rest of Keras 3's everyday losses: Huber, log-cosh, MAPE, MSLE, cosine similarity, hinges, KL, Poisson.

Each function returns per-sample values (Keras' formulas, float32, epsilon 1e-7); the classes wrap them with
Keras' names and reductions.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from cnnkit.training.loss import Loss, LossFunctionWrapper, squeeze_or_expand_to_same_rank, to_tensor

__all__ = [
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SquaredHinge",
    "categorical_hinge",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "l2_normalize",
    "log_cosh",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "squared_hinge",
]

EPSILON = 1e-7


def _pair(y_true: Any, y_pred: Any, align: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true, device=y_pred.device)
    return squeeze_or_expand_to_same_rank(y_true, y_pred) if align else (y_true, y_pred)


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


def _hinge_labels(y_true: torch.Tensor) -> torch.Tensor:
    # Keras maps 0/1 labels to -1/1 when every label is 0 or 1; a device-side where avoids a host sync.
    is_binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(max(1 - y_true * y_pred, 0))` with labels in {-1, 1} (0/1 labels are converted)."""
    y_true, y_pred = _pair(y_true, y_pred, align=False)
    return (1.0 - _hinge_labels(y_true) * y_pred).clamp_min(0.0).mean(dim=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(max(1 - y_true * y_pred, 0)**2)` with labels in {-1, 1} (0/1 labels are converted)."""
    y_true, y_pred = _pair(y_true, y_pred, align=False)
    return (1.0 - _hinge_labels(y_true) * y_pred).clamp_min(0.0).square().mean(dim=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` for one-hot labels."""
    y_true, y_pred = _pair(y_true, y_pred, align=False)
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return (neg - pos + 1.0).clamp_min(0.0)


def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`sum(y_true * log(y_true / y_pred))`, both clipped to [epsilon, 1]."""
    y_true, y_pred = _pair(y_true, y_pred, align=False)
    y_true = y_true.clamp(EPSILON, 1.0)
    y_pred = y_pred.clamp(EPSILON, 1.0)
    return (y_true * (y_true / y_pred).log()).sum(dim=-1)


def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(y_pred - y_true * log(y_pred + epsilon))`."""
    y_true, y_pred = _pair(y_true, y_pred, align=False)
    return (y_pred - y_true * (y_pred + EPSILON).log()).mean(dim=-1)


def _loss_class(class_name: str, fn: Any, default_name: str, doc: str) -> type:
    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None):  # noqa: N807
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


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
Hinge = _loss_class("Hinge", hinge, "hinge", "Hinge loss (`keras.losses.Hinge`).")
SquaredHinge = _loss_class(
    "SquaredHinge", squared_hinge, "squared_hinge", "Squared hinge (`keras.losses.SquaredHinge`)."
)
CategoricalHinge = _loss_class(
    "CategoricalHinge", categorical_hinge, "categorical_hinge", "Categorical hinge (`keras.losses.CategoricalHinge`)."
)
KLDivergence = _loss_class(
    "KLDivergence", kl_divergence, "kl_divergence", "KL divergence (`keras.losses.KLDivergence`)."
)
Poisson = _loss_class("Poisson", poisson, "poisson", "Poisson loss (`keras.losses.Poisson`).")
