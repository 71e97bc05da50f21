"""Metrics, as ``keras.metrics``: one family per module, resolved by name with :func:`get`.

Example:
    >>> import cnnkit
    >>> cnnkit.metrics.get("AUC").name
    'auc'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from cnnkit.common.naming import to_snake_case
from cnnkit.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from cnnkit.metrics.confusion import AUC, Precision, Recall
from cnnkit.metrics.hinge import CategoricalHinge, Hinge, SquaredHinge
from cnnkit.metrics.metric import Mean, MeanMetricWrapper, Metric, Sum
from cnnkit.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from cnnkit.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    cosine_similarity,
)
from cnnkit.saving.object_registration import register_package

_CLASSES: tuple[type, ...] = (
    Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, Precision, Recall, AUC, MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, RootMeanSquaredError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, Hinge, SquaredHinge, CategoricalHinge, KLDivergence,
    Poisson,
)  # fmt: skip
_BY_NAME: dict[str, type] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({to_snake_case(c.__name__): c for c in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})  # fmt: skip


def get(identifier: str | dict[str, Any] | Metric | type | Callable[..., Any]) -> Metric:
    """A metric object from a name (`'precision'`, `'AUC'`, `'mse'`), a config dict, a class or an instance.

    A plain function `fn(y_true, y_pred)` is averaged with `MeanMetricWrapper`.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier) and not isinstance(identifier, (str, dict, type)):
        return MeanMetricWrapper(identifier)
    names = ", ".join(sorted(repr(n) for n in _BY_NAME if n == to_snake_case(n)))
    error = ValueError if isinstance(identifier, (str, dict)) else TypeError
    close = difflib.get_close_matches(str(identifier), ["accuracy", *_BY_NAME], n=1)
    fix = f"Did you mean {close[0]!r}?" if close else "Check the spelling, e.g. metrics=['accuracy']."
    raise error(
        f"Could not interpret metric identifier. Expected 'accuracy', one of {names}, a Metric object or a "
        f"function fn(y_true, y_pred). Received: metric={identifier!r}. {fix}"
    )


# The room's objects as saved configs name them (saving/ sits below metrics/ and reads them from here).
register_package("metrics", {**_BY_NAME, "Mean": Mean, "Sum": Sum, "MeanMetricWrapper": MeanMetricWrapper}, Metric, get)


__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalAccuracy", "CategoricalCrossentropy",
    "CategoricalHinge", "CosineSimilarity", "Hinge", "KLDivergence", "LogCoshError", "Mean", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanMetricWrapper", "MeanSquaredError", "MeanSquaredLogarithmicError", "Metric",
    "Poisson", "Precision", "Recall", "RootMeanSquaredError", "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy", "SquaredHinge", "Sum", "TopKCategoricalAccuracy",
    "accuracy", "binary_accuracy", "categorical_accuracy", "cosine_similarity", "get", "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy",
]  # fmt: skip
