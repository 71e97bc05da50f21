"""Hinge losses for labels in {-1, 1} or {0, 1}: hinge, squared hinge and categorical hinge (Keras 3's formulas)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.losses.loss import _loss_class, _pair


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


Hinge = _loss_class("Hinge", hinge, "hinge", "Hinge loss (`keras.losses.Hinge`).")


SquaredHinge = _loss_class(
    "SquaredHinge", squared_hinge, "squared_hinge", "Squared hinge (`keras.losses.SquaredHinge`)."
)


CategoricalHinge = _loss_class(
    "CategoricalHinge", categorical_hinge, "categorical_hinge", "Categorical hinge (`keras.losses.CategoricalHinge`)."
)
