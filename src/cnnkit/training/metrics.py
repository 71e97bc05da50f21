"""Keras 3 metrics: accuracies, regression and crossentropy means, `get()` and compile-time `resolve_metric()`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnnkit.training import losses as losses_module
from cnnkit.training.confusion_metrics import AUC, Precision, Recall
from cnnkit.training.loss import Loss, squeeze_or_expand_to_same_rank, to_tensor
from cnnkit.training.metric import Mean, MeanMetricWrapper, Metric, Sum
from cnnkit.training.naming import to_snake_case

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "resolve_metric",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]


# ----------------------------------------------------------------------------- per-sample functions
def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `y_true == y_pred` exactly."""
    y_pred = to_tensor(y_pred, dtype=None)
    y_true = to_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).to(torch.float32)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> torch.Tensor:
    """1.0 where `(y_pred > threshold) == y_true`."""
    y_pred = to_tensor(y_pred, dtype=None)
    y_true = to_tensor(y_true, dtype=None, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ((y_pred > threshold).to(y_true.dtype) == y_true).to(torch.float32)


def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `argmax(y_pred) == argmax(y_true)` (one-hot labels)."""
    y_pred = to_tensor(y_pred, dtype=None)
    labels = to_tensor(y_true, dtype=None, device=y_pred.device).argmax(dim=-1)
    return (y_pred.argmax(dim=-1) == labels).to(torch.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `argmax(y_pred) == y_true` (integer labels of shape `(batch,)` or `(batch, 1)`)."""
    y_pred = to_tensor(y_pred, dtype=None)
    y_true = to_tensor(y_true, dtype=torch.float32, device=y_pred.device)
    original_shape = y_true.shape
    squeezed = y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1
    if squeezed:
        y_true = y_true.squeeze(-1)
    matches = (y_pred.argmax(dim=-1).to(y_true.dtype) == y_true).to(torch.float32)
    if squeezed:
        matches = matches.reshape(original_shape)
    if matches.dim() > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def _in_top_k(targets: torch.Tensor, predictions: torch.Tensor, k: int) -> torch.Tensor:
    # Keras' rule: the target's score is at least the k-th largest score (ties count as hits).
    kth = predictions.topk(min(k, predictions.shape[-1]), dim=-1).values[..., -1:]
    return (predictions.gather(-1, targets.long().unsqueeze(-1)) >= kth).squeeze(-1)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1.0 where the one-hot label's class is among the `k` highest scores."""
    y_pred = to_tensor(y_pred, dtype=None)
    labels = to_tensor(y_true, dtype=None, device=y_pred.device).argmax(dim=-1)
    shape = labels.shape
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.to(torch.float32).reshape(shape)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1.0 where the integer label is among the `k` highest scores."""
    y_pred = to_tensor(y_pred, dtype=None)
    labels = to_tensor(y_true, dtype=None, device=y_pred.device).long()
    shape = labels.shape
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.to(torch.float32).reshape(shape)


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


Accuracy = _wrapper("Accuracy", accuracy, "accuracy", "How often predictions equal labels exactly.")
CategoricalAccuracy = _wrapper(
    "CategoricalAccuracy", categorical_accuracy, "categorical_accuracy", "Accuracy for one-hot labels."
)
SparseCategoricalAccuracy = _wrapper(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy",
    "Accuracy for integer labels.",
)  # fmt: skip
MeanSquaredError = _wrapper("MeanSquaredError", losses_module.mean_squared_error, "mean_squared_error",
                            "Mean of squared errors.")  # fmt: skip
MeanAbsoluteError = _wrapper("MeanAbsoluteError", losses_module.mean_absolute_error, "mean_absolute_error",
                             "Mean of absolute errors.")  # fmt: skip


class BinaryAccuracy(_Wrapper):
    """How often `(y_pred > threshold)` equals the 0/1 label.

    Example:
        >>> BinaryAccuracy(threshold=0.5)([[1], [0]], [[0.9], [0.7]])  # 0.5
    """

    _fn_default = staticmethod(binary_accuracy)
    _name_default = "binary_accuracy"

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        super().__init__(name=name, dtype=dtype, threshold=threshold)


class TopKCategoricalAccuracy(_Wrapper):
    """How often the one-hot label's class is in the top `k` predictions."""

    _fn_default = staticmethod(top_k_categorical_accuracy)
    _name_default = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(_Wrapper):
    """How often the integer label is in the top `k` predictions."""

    _fn_default = staticmethod(sparse_top_k_categorical_accuracy)
    _name_default = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype, k=k)


class BinaryCrossentropy(_Wrapper):
    """Mean binary crossentropy over the samples seen."""

    _fn_default = staticmethod(losses_module.binary_crossentropy)
    _name_default = "binary_crossentropy"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0) -> None:
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_Wrapper):
    """Mean categorical crossentropy over the samples seen."""

    _fn_default = staticmethod(losses_module.categorical_crossentropy)
    _name_default = "categorical_crossentropy"

    def __init__(
        self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0, axis=-1
    ) -> None:
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapper):
    """Mean sparse categorical crossentropy over the samples seen."""

    _fn_default = staticmethod(losses_module.sparse_categorical_crossentropy)
    _name_default = "sparse_categorical_crossentropy"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1) -> None:
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, axis=axis)


# ----------------------------------------------------------------------------- resolution by name
_CLASSES: tuple[type, ...] = (
    Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, Precision, Recall, AUC, MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy,
)  # fmt: skip
_BY_NAME: dict[str, type] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({to_snake_case(c.__name__): c for c in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})  # fmt: skip


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
    raise error(
        f"Could not interpret metric identifier. Expected 'accuracy', one of {names}, a Metric object or a "
        f"function fn(y_true, y_pred). Received: metric={identifier!r}. Check the spelling, e.g. "
        "metrics=['accuracy']."
    )


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return to_snake_case(loss) if loss[:1].isupper() else loss.lower()
    if isinstance(loss, losses_module.LossFunctionWrapper):
        return to_snake_case(getattr(loss.fn, "__name__", ""))
    if isinstance(loss, Loss):
        return to_snake_case(type(loss).__name__)
    return to_snake_case(getattr(loss, "__name__", type(loss).__name__))


def resolve_metric(identifier: Any, loss: Any = None, y_true: Any = None, y_pred: Any = None) -> Metric:
    """Resolves one `compile(metrics=[...])` entry the way Keras 3 does, naming it for History.

    `'accuracy'`/`'acc'` becomes `BinaryAccuracy` when `y_pred` has one unit, `SparseCategoricalAccuracy` when
    `y_true` has a lower rank than `y_pred` (or a last dimension of 1 against several classes), and
    `CategoricalAccuracy` otherwise; the metric is named exactly as written (`'acc'` stays `'acc'`). Without
    example tensors the loss decides (binary/sparse/categorical crossentropy). Other strings resolve with `get()`
    and keep the string as their name (`'AUC'` -> `'AUC'`); objects keep their own name.

    Example:
        >>> resolve_metric("accuracy", "sparse_categorical_crossentropy", labels[:2], model(x[:2])).name
        'accuracy'
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        if y_true is not None and y_pred is not None:
            t_shape, p_shape = tuple(to_tensor(y_true, None).shape), tuple(to_tensor(y_pred, None).shape)
            t_last = t_shape[-1] if t_shape else 1
            p_last = p_shape[-1] if p_shape else 1
            binary = p_last == 1
            sparse = len(t_shape) < len(p_shape) or (t_last == 1 and p_last > 1)
        else:
            name = _loss_name(loss) if loss is not None else ""
            binary = name in ("binary_crossentropy", "bce")
            sparse = name == "sparse_categorical_crossentropy"
            if not (binary or sparse or name == "categorical_crossentropy"):
                raise ValueError(
                    "Cannot tell which accuracy 'accuracy' means. Expected example labels and predictions, or a "
                    f"crossentropy loss. Received: loss={loss!r}, y_true=None, y_pred=None. Pass y_true and y_pred "
                    "from the first batch, or name the metric, e.g. 'sparse_categorical_accuracy'."
                )
        cls = BinaryAccuracy if binary else SparseCategoricalAccuracy if sparse else CategoricalAccuracy
        return cls(name=identifier)
    metric = get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
