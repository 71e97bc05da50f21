"""Crossentropy losses (binary, categorical, sparse categorical), as functions and `Loss` classes.

Values follow Keras 3's PyTorch backend (probabilities clipped to [1e-7, 1 - 1e-7]). When `y_pred` carries the
`_keras_logits` attribute (set by cnnkit's sigmoid/softmax, as Keras' TensorFlow backend does), the loss is
computed from those logits (BCE-with-logits / log-softmax), which stays exact where the clipped probability
would saturate.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cnnkit.losses.loss import Loss, LossFunctionWrapper, to_tensor

EPSILON = 1e-7  # keras.config.epsilon()


def _logits_of(y_pred: torch.Tensor, from_logits: bool, activation: str, fn_name: str) -> tuple[torch.Tensor, bool]:
    """Swaps a sigmoid/softmax output for the logits attached to it (Keras' TensorFlow-backend behaviour)."""
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is None or tuple(logits.shape) != tuple(y_pred.shape):
        return y_pred, from_logits
    # A core that records which activation produced the logits lets us refuse a mismatch (softmax output fed to
    # binary_crossentropy), which Keras' TensorFlow backend silently gets wrong.
    if getattr(y_pred, "_keras_activation", activation) != activation:
        return y_pred, from_logits
    if from_logits:
        warnings.warn(
            f"`{fn_name}` received `from_logits=True`, but the `y_pred` argument was produced by a {activation} "
            "activation and thus does not represent logits. Was this intended?",
            stacklevel=3,
        )
    return logits.to(torch.float32), True


def _same_shape(fn_name: str, y_true: torch.Tensor, y_pred: torch.Tensor, fix: str) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn_name} needs labels and predictions of the same shape. Expected y_true.shape == y_pred.shape. "
            f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}. {fix}"
        )


def binary_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> torch.Tensor:
    """Per-sample binary crossentropy, averaged over `axis` (shape `y_pred.shape[:-1]`)."""
    y_pred = to_tensor(y_pred) if not isinstance(y_pred, torch.Tensor) else y_pred
    y_pred, from_logits = _logits_of(y_pred, from_logits, "sigmoid", "binary_crossentropy")
    y_pred = y_pred.to(torch.float32)
    y_true = to_tensor(y_true, device=y_pred.device)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _same_shape(
        "binary_crossentropy", y_true, y_pred,
        "Give one label per output unit, e.g. labels of shape (batch, 1) for a Dense(1, activation='sigmoid').",
    )  # fmt: skip
    if from_logits:
        per_entry = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        # Written out rather than F.binary_cross_entropy: torch's kernel raises on NaN predictions (Keras returns
        # NaN, which TerminateOnNaN needs to see) and refuses to run under autocast.
        p = y_pred.float().clamp(EPSILON, 1.0 - EPSILON)
        per_entry = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
    return per_entry.mean(dim=axis)


def _looks_sparse(y_true: torch.Tensor, y_pred: torch.Tensor) -> bool:
    if y_pred.dim() == 0 or y_pred.shape[-1] <= 1:
        return False
    if y_true.dim() == y_pred.dim() - 1:
        return tuple(y_true.shape) == tuple(y_pred.shape[:-1])
    return y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1 and y_true.shape[:-1] == y_pred.shape[:-1]


def categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> torch.Tensor:
    """Per-sample categorical crossentropy between one-hot (or soft) labels and class scores."""
    y_pred = to_tensor(y_pred) if not isinstance(y_pred, torch.Tensor) else y_pred
    y_pred, from_logits = _logits_of(y_pred, from_logits, "softmax", "categorical_crossentropy")
    y_pred = y_pred.to(torch.float32)
    y_true = to_tensor(y_true, device=y_pred.device)
    if _looks_sparse(y_true, y_pred):
        raise ValueError(
            "categorical_crossentropy received integer class labels, but it needs one-hot labels. Expected "
            f"y_true of shape {tuple(y_pred.shape)} (one column per class). Received: y_true.shape="
            f"{tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}. Use loss='sparse_categorical_crossentropy' "
            f"for integer labels, or one-hot encode them (torch.nn.functional.one_hot(labels, {y_pred.shape[-1]}))."
        )
    _same_shape(
        "categorical_crossentropy", y_true, y_pred,
        "Make the last layer's units equal the number of classes in the one-hot labels.",
    )  # fmt: skip
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    if label_smoothing:
        # Keras divides by the class count as a float32 tensor, which torch computes as reciprocal(n) * ls in
        # float32; doing the same on the host keeps its rounding without a host-to-device copy.
        share = float(np.float32(np.float32(1.0) / np.float32(y_true.shape[-1])) * np.float32(label_smoothing))
        y_true = y_true * (1.0 - label_smoothing) + share
    if from_logits:
        log_prob = F.log_softmax(y_pred, dim=axis)
    else:
        probs = y_pred / y_pred.sum(dim=axis, keepdim=True)
        log_prob = probs.clamp(EPSILON, 1.0 - EPSILON).log()
    return -(y_true * log_prob).sum(dim=axis)


def _check_class_range(labels: torch.Tensor, num_classes: int, ignore_class: int | None) -> None:
    # Out-of-range labels make torch fail with an opaque message (a device-side assert on CUDA).
    valid = labels if ignore_class is None else labels[labels != ignore_class]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        bad = int(valid.max()) if int(valid.max()) >= num_classes else int(valid.min())
        raise ValueError(
            f"A label is outside the range of classes. Expected integer labels in [0, {num_classes}) for "
            f"predictions with {num_classes} classes. Received: a label {bad}. Make the last layer's units equal "
            "the number of classes, or fix the labels."
        )


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, ignore_class: int | None = None, axis: int = -1
) -> torch.Tensor:
    """Per-sample crossentropy between integer class labels and class scores (ignored entries give 0).

    With `ignore_class`, the result carries a `_keras_mask` attribute so that `Loss` reductions average over the
    valid entries only, as in Keras.
    """
    y_pred = to_tensor(y_pred) if not isinstance(y_pred, torch.Tensor) else y_pred
    y_pred, from_logits = _logits_of(y_pred, from_logits, "softmax", "sparse_categorical_crossentropy")
    y_pred = y_pred.to(torch.float32)
    labels = to_tensor(y_true, dtype=None, device=y_pred.device)
    if labels.dtype.is_floating_point:
        labels = labels.round()
    labels = labels.long()
    if labels.dim() == y_pred.dim() and labels.shape[axis] == 1:
        labels = labels.squeeze(axis)
    if y_pred.dim() < 1:
        raise ValueError(
            "sparse_categorical_crossentropy needs class scores. Expected y_pred of rank >= 1. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}. Pass the model's (batch, num_classes) output."
        )
    class_axis = axis % y_pred.dim()
    expected = tuple(d for i, d in enumerate(y_pred.shape) if i != class_axis)
    if tuple(labels.shape) != expected:
        hint = (
            "The labels look one-hot: use loss='categorical_crossentropy', or pass labels.argmax(-1)."
            if tuple(labels.shape) == tuple(y_pred.shape)
            else "Pass one integer class index per sample."
        )
        raise ValueError(
            "sparse_categorical_crossentropy needs one integer label per prediction. Expected y_true.shape="
            f"{expected} (or {expected + (1,)}). Received: y_true.shape={tuple(to_tensor(y_true).shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}. {hint}"
        )
    if labels.device.type == "cpu":
        _check_class_range(labels, y_pred.shape[class_axis], ignore_class)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, torch.zeros_like(labels))
    scores = y_pred.unsqueeze(0) if y_pred.dim() == 1 else y_pred.movedim(class_axis, 1)
    target = labels.unsqueeze(0) if y_pred.dim() == 1 else labels
    if from_logits:
        result = F.cross_entropy(scores, target, reduction="none")
    else:
        probs = scores / scores.sum(dim=1, keepdim=True)
        result = F.nll_loss(probs.clamp(EPSILON, 1.0 - EPSILON).log(), target, reduction="none")
    if y_pred.dim() == 1:
        result = result.squeeze(0)
    if valid is not None:
        result = torch.where(valid, result, torch.zeros_like(result))
        result._keras_mask = valid
    return result


class _Crossentropy(LossFunctionWrapper):
    """Shared by the binary and categorical crossentropy classes: same arguments, another function."""

    _fn: Callable[..., torch.Tensor]
    _default_name: str

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            type(self)._fn, reduction=reduction, name=name or self._default_name, dtype=dtype,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )  # fmt: skip
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}  # fmt: skip


class BinaryCrossentropy(_Crossentropy):
    """Binary crossentropy (`keras.losses.BinaryCrossentropy`)."""

    _fn = staticmethod(binary_crossentropy)
    _default_name = "binary_crossentropy"


class CategoricalCrossentropy(_Crossentropy):
    """Categorical crossentropy on one-hot labels (`keras.losses.CategoricalCrossentropy`)."""

    _fn = staticmethod(categorical_crossentropy)
    _default_name = "categorical_crossentropy"


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy on integer labels (`keras.losses.SparseCategoricalCrossentropy`).

    The first call checks the labels against the number of classes (one host read); later calls do not sync.
    """

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
            from_logits=from_logits, ignore_class=ignore_class, axis=axis,
        )  # fmt: skip
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis
        self._labels_checked = False

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> Any:
        if not self._labels_checked and y_true.device.type != "cpu" and y_pred.dim() >= 1:
            labels = y_true.round().long() if y_true.dtype.is_floating_point else y_true.long()
            _check_class_range(labels, y_pred.shape[self.axis], self.ignore_class)
            self._labels_checked = True
        return super().call(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits, "ignore_class": self.ignore_class}
