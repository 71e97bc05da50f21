"""Losses between distributions and counts: KL divergence and Poisson (Keras 3's formulas)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.losses.loss import EPSILON, _loss_class, _pair


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


KLDivergence = _loss_class(
    "KLDivergence", kl_divergence, "kl_divergence", "KL divergence (`keras.losses.KLDivergence`)."
)


Poisson = _loss_class("Poisson", poisson, "poisson", "Poisson loss (`keras.losses.Poisson`).")
