"""Confusion matrix, per-class precision/recall/F1, and the examples a model gets most wrong."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cnnkit.interpret.utils import eval_mode, first_output, labels_to_int, probabilities

__all__ = ["confusion_matrix", "per_class_metrics", "collect_predictions", "Predictions", "top_losses", "TopLosses"]


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts ``cm[i, j]`` of examples of true class ``i`` predicted as class ``j`` (int64 ``(n, n)``).

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2)
        array([[1, 0],
               [1, 1]])
    """
    t = labels_to_int(y_true)
    p = labels_to_int(y_pred)
    if t.shape != p.shape:
        raise ValueError(
            "y_true and y_pred must have the same number of labels. "
            f"Received: len(y_true)={t.size}, len(y_pred)={p.size}. Pass one prediction per label."
        )
    for name, v in (("y_true", t), ("y_pred", p)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(
                f"{name} holds a class index outside [0, {num_classes}). Expected labels 0..{num_classes - 1}. "
                f"Received: {name} in [{v.min()}, {v.max()}], num_classes={num_classes}. Check num_classes."
            )
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined, as scikit-learn).

    Returns:
        ``{"precision": (n,), "recall": (n,), "f1": (n,), "support": (n,)}``.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}


@dataclass
class Predictions:
    """What a model predicts on a dataset: ``probs (n, classes)``, ``y_true (n,)``, and optionally the images."""

    probs: np.ndarray
    y_true: np.ndarray
    images: np.ndarray | None = None

    @property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Per-example cross-entropy ``-log p(true class)``."""
        p = self.probs[np.arange(len(self.y_true)), self.y_true]
        return -np.log(np.clip(p, 1e-12, 1.0))

    @property
    def accuracy(self) -> float:
        return float((self.y_pred == self.y_true).mean()) if len(self.y_true) else 0.0


def _batches(data: Any, batch_size: int) -> Iterator[tuple[Any, Any]]:
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        x, y = data
        n = len(x)
        if len(y) != n:
            raise ValueError(
                f"Images and labels differ in number. Received: {n} images and {len(y)} labels. "
                "Pass (images, labels) of the same length."
            )
        for i in range(0, n, batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]
        return
    if not isinstance(data, Iterable):
        raise TypeError(
            "Expected a dataset yielding (images, labels) batches or a tuple (images, labels). "
            f"Received: data={type(data).__name__}. Pass e.g. (x_val, y_val)."
        )
    yield from data


def collect_predictions(
    model: torch.nn.Module, data: Any, batch_size: int = 64, keep_images: bool = False
) -> Predictions:
    """Runs ``model`` over ``data`` (a dataset of ``(images, labels)`` batches or a tuple of arrays)."""
    probs, labels, images = [], [], []
    with torch.no_grad(), eval_mode(model):
        for x, y in _batches(data, batch_size):
            xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)
            probs.append(probabilities(first_output(model(xt))).cpu().numpy())
            labels.append(labels_to_int(y))
            if keep_images:
                images.append(xt.detach().cpu().numpy())
    if not probs:
        raise ValueError("The dataset is empty. Expected at least one batch. Received: 0 batches. Check the data.")
    return Predictions(
        probs=np.concatenate(probs).astype(np.float32),
        y_true=np.concatenate(labels),
        images=np.concatenate(images) if keep_images else None,
    )


@dataclass
class TopLosses:
    """The ``k`` examples with the highest loss, highest first."""

    indices: np.ndarray  # position in the dataset's iteration order
    losses: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray  # (k, classes)
    images: np.ndarray | None  # (k, height, width, channels)


def top_losses(model: torch.nn.Module, dataset_or_arrays: Any, k: int = 9, batch_size: int = 64) -> TopLosses:
    """The ``k`` examples on which ``model`` has the highest cross-entropy loss.

    Example:
        >>> worst = cnnkit.interpret.top_losses(model, (x_val, y_val), k=5)
        >>> worst.losses.shape, bool((np.diff(worst.losses) <= 0).all())  # the k largest, largest first
        ((5,), True)
    """
    if isinstance(dataset_or_arrays, Predictions):
        preds = dataset_or_arrays
    else:
        preds = collect_predictions(model, dataset_or_arrays, batch_size=batch_size, keep_images=True)
    losses = preds.losses
    order = np.argsort(-losses, kind="stable")[: max(int(k), 0)]
    return TopLosses(
        indices=order,
        losses=losses[order],
        y_true=preds.y_true[order],
        y_pred=preds.y_pred[order],
        probs=preds.probs[order],
        images=None if preds.images is None else preds.images[order],
    )
