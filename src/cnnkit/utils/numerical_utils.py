"""Keras' numerical helpers: ``to_categorical`` (one-hot labels) and ``normalize`` (unit-norm rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["normalize", "to_categorical"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray | torch.Tensor:
    """Converts a class vector (integers) to a one-hot matrix, the class axis last, as Keras does.

    A trailing axis of size 1 is dropped first (labels shaped ``(n, 1)`` give ``(n, num_classes)``). NumPy-like input
    gives a float64 NumPy array (Keras' exact output); a torch tensor gives a float32 tensor on its device.

    Args:
        x: Class indices from 0 to ``num_classes - 1``.
        num_classes: The number of classes; ``max(x) + 1`` when None.

    Returns:
        The one-hot encoding, shape ``x.shape + (num_classes,)``.

    Example:
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]])
    """
    if isinstance(x, torch.Tensor):
        if x.dim() > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        classes = int(num_classes) if num_classes else int(x.max()) + 1 if x.numel() else 0
        _check_labels(x.long(), classes)
        return torch.nn.functional.one_hot(x.long(), classes).float()
    try:
        labels = np.array(x, dtype="int64")
    except (TypeError, ValueError) as e:
        raise ValueError(
            "to_categorical needs integer class indices. Expected an array of integers from 0 to num_classes - 1. "
            f"Received: x={x!r}. Convert the labels to integers first (e.g. with np.unique(..., return_inverse=True))."
        ) from e
    shape = labels.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = tuple(shape[:-1])
    labels = labels.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(labels)) + 1 if labels.size else 0
    _check_labels(labels, int(num_classes))
    categorical = np.zeros((labels.shape[0], int(num_classes)))
    categorical[np.arange(labels.shape[0]), labels] = 1
    return categorical.reshape(shape + (int(num_classes),))


def _check_labels(labels: Any, num_classes: int) -> None:
    # NumPy would wrap a negative index around and write a 1 in the wrong column; say what is wrong instead.
    if labels.size if isinstance(labels, np.ndarray) else labels.numel():
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"Class index out of range. Expected integers from 0 to {num_classes - 1}. Received: labels from "
                f"{low} to {high} with num_classes={num_classes}. Pass num_classes=None (max + 1) or fix the labels."
            )


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray | torch.Tensor:
    """Scales ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero), as Keras' ``normalize``.

    Args:
        x: A NumPy array or torch tensor.
        axis: The axis along which to normalize.
        order: The norm order (2: Euclidean, 1: sum of absolute values).

    Returns:
        A normalized copy, of the input's kind.

    Example:
        >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
        array([[0.6, 0.8],
               [0. , 0. ]])
    """
    if isinstance(x, torch.Tensor):
        norm = torch.linalg.vector_norm(x, ord=order, dim=axis, keepdim=True)
        return x / torch.where(norm == 0, torch.ones_like(norm), norm)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    # Keras writes `axis or -1` here, which breaks axis=0 (a broadcasting error); the norm goes back where it was taken.
    return x / np.expand_dims(norm, axis) if x.ndim > 1 else x / norm
