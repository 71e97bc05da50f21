"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k (Keras 3 semantics)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.losses.loss import squeeze_or_expand_to_same_rank, to_tensor
from cnnkit.metrics.metric import _Wrapper, _wrapper


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


Accuracy = _wrapper("Accuracy", accuracy, "accuracy", "How often predictions equal labels exactly.")


CategoricalAccuracy = _wrapper(
    "CategoricalAccuracy", categorical_accuracy, "categorical_accuracy", "Accuracy for one-hot labels."
)


SparseCategoricalAccuracy = _wrapper(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy",
    "Accuracy for integer labels.",
)  # fmt: skip


class BinaryAccuracy(_Wrapper):
    """How often `(y_pred > threshold)` equals the 0/1 label.

    Example:
        >>> float(BinaryAccuracy(threshold=0.5)([[1], [0]], [[0.9], [0.7]]))  # the second is predicted 1
        0.5
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
