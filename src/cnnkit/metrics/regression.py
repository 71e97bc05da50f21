"""Regression metrics: mean squared/absolute errors, RMSE, MAPE, MSLE, log-cosh and cosine similarity."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit import losses
from cnnkit.losses.loss import squeeze_or_expand_to_same_rank, to_tensor
from cnnkit.metrics.metric import Mean, _Wrapper, _wrapper

MeanSquaredError = _wrapper("MeanSquaredError", losses.mean_squared_error, "mean_squared_error",
                            "Mean of squared errors.")  # fmt: skip


MeanAbsoluteError = _wrapper("MeanAbsoluteError", losses.mean_absolute_error, "mean_absolute_error",
                             "Mean of absolute errors.")  # fmt: skip


LogCoshError = _wrapper("LogCoshError", losses.log_cosh, "logcosh", "Mean log-cosh error.")


MeanAbsolutePercentageError = _wrapper(
    "MeanAbsolutePercentageError", losses.mean_absolute_percentage_error, "mean_absolute_percentage_error",
    "Mean absolute percentage error.",
)  # fmt: skip


MeanSquaredLogarithmicError = _wrapper(
    "MeanSquaredLogarithmicError", losses.mean_squared_logarithmic_error, "mean_squared_logarithmic_error",
    "Mean squared logarithmic error.",
)  # fmt: skip


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """The metric form: the cosine similarity itself (the loss is its negative)."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(_Wrapper):
    """Mean cosine similarity between labels and predictions along `axis`."""

    _fn_default = staticmethod(cosine_similarity)
    _name_default = "cosine_similarity"

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """`sqrt(mean((y_pred - y_true)**2))` over everything seen (weighted like Keras)."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = to_tensor(y_pred)
        y_true = to_tensor(y_true, device=y_pred.device)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight=sample_weight)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()
