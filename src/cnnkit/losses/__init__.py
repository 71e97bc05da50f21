"""Losses, as ``keras.losses``: one family per module, resolved by name with :func:`get`.

Example:
    >>> import cnnkit
    >>> cnnkit.losses.get("mse").name
    'mse'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import torch

from cnnkit.common.naming import to_snake_case
from cnnkit.losses.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)
from cnnkit.losses.hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from cnnkit.losses.loss import Loss, LossFunctionWrapper
from cnnkit.losses.probabilistic import KLDivergence, Poisson, kl_divergence, poisson
from cnnkit.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from cnnkit.saving.object_registration import register_package

# Keras' short aliases.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence

_CLASSES = (
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError, MeanAbsoluteError,
    CategoricalHinge, CosineSimilarity, Hinge, Huber, KLDivergence, LogCosh, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Poisson, SquaredHinge,
)  # fmt: skip
_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    fn.__name__: fn
    for fn in (
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        mean_squared_error,
        mean_absolute_error,
        categorical_hinge,
        cosine_similarity,
        hinge,
        huber,
        kl_divergence,
        log_cosh,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        poisson,
        squared_hinge,
    )  # fmt: skip
}
_FUNCTIONS.update({"bce": binary_crossentropy, "mse": mse, "mae": mae, "mape": mape, "msle": msle, "kld": kld})


def get(identifier: str | dict[str, Any] | Loss | Callable[..., Any]) -> Loss:
    """Resolves a loss as `compile()` does: a name, a class name, a config dict, a `Loss` or a function.

    Function names and plain functions come back wrapped in a `LossFunctionWrapper` named after them.

    Example:
        >>> loss = get("sparse_categorical_crossentropy")
        >>> float(loss(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1], [0.2, 0.8]])))  # mean of -log(0.9), -log(0.8)
        0.1643
    """
    if isinstance(identifier, Loss):
        return identifier
    classes = {cls.__name__: cls for cls in _CLASSES}
    if isinstance(identifier, str):
        if identifier in classes:
            return classes[identifier]()
        fn = _FUNCTIONS.get(identifier) or _FUNCTIONS.get(identifier.lower())
        if fn is not None:
            return LossFunctionWrapper(fn, name=identifier)
    elif isinstance(identifier, dict) and identifier.get("class_name") in classes:
        return classes[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    elif isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    elif callable(identifier):
        return LossFunctionWrapper(identifier, name=to_snake_case(getattr(identifier, "__name__", "loss")))
    names = ", ".join(repr(n) for n in sorted(_FUNCTIONS))
    error = ValueError if isinstance(identifier, (str, dict)) else TypeError
    close = difflib.get_close_matches(str(identifier), list(_FUNCTIONS) + list(classes), n=1)
    fix = f"Did you mean {close[0]!r}?" if close else "Check the spelling, e.g. loss='sparse_categorical_crossentropy'."
    raise error(
        f"Could not interpret loss identifier. Expected one of {names}, a Loss class name, a Loss object or a "
        f"function fn(y_true, y_pred). Received: loss={identifier!r}. {fix}"
    )


# The room's objects as saved configs name them (saving/ sits below losses/ and reads them from here).
register_package("losses", {**{c.__name__: c for c in _CLASSES}, **_FUNCTIONS, "Loss": Loss}, Loss, get)


__all__ = [
    "KLD", "MAE", "MAPE", "MSE", "MSLE", "BinaryCrossentropy", "CategoricalCrossentropy", "CategoricalHinge",
    "CosineSimilarity", "Hinge", "Huber", "KLDivergence", "LogCosh", "Loss", "LossFunctionWrapper",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson",
    "SparseCategoricalCrossentropy", "SquaredHinge", "binary_crossentropy", "categorical_crossentropy",
    "categorical_hinge", "cosine_similarity", "get", "hinge", "huber", "kl_divergence", "kld", "log_cosh", "mae",
    "mape", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "mse", "msle", "poisson", "sparse_categorical_crossentropy", "squared_hinge",
]  # fmt: skip
