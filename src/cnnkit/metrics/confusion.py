"""Threshold metrics on confusion counts: `Precision`, `Recall` and `AUC` (Keras 3 semantics and defaults).

Counts accumulate in float32 tensors on the predictions' device. AUC uses Keras' bucketed update for evenly spaced
thresholds (one `index_add_` and a reversed cumulative sum instead of a thresholds-by-samples comparison) and
Keras' Riemann sums, including the interpolated precision-recall formula of Davis & Goadrich (2006).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.losses.loss import squeeze_or_expand_to_same_rank, to_tensor
from cnnkit.metrics.metric import Metric

__all__ = ["AUC", "Precision", "Recall"]

NEG_INF = -1e10  # Keras' stand-in for -inf when filtering to the top k
EPSILON = 1e-7


def _div(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """`x / y`, 0 where `y == 0` (Keras' divide_no_nan)."""
    safe = torch.where(y == 0, torch.ones_like(y), y)
    return torch.where(y == 0, torch.zeros_like(x), x / safe)


def _parse_thresholds(thresholds: Any, default: float) -> list[float]:
    values = [default] if thresholds is None else (list(thresholds) if isinstance(thresholds, (list, tuple)) else
                                                   [thresholds])  # fmt: skip
    if thresholds is not None:
        bad = [t for t in values if t is None or t < 0 or t > 1]
        if bad:
            raise ValueError(
                f"Threshold values must be in [0, 1]. Expected floats between 0 and 1. Received: {bad}. "
                "Pass thresholds such as 0.5 or [0.3, 0.5, 0.7]."
            )
    return [float(t) for t in values]


def _prepare(y_true: Any, y_pred: Any, sample_weight: Any, top_k: int | None = None, class_id: int | None = None):
    """Keras' input handling for confusion metrics: align ranks, broadcast weights, filter top-k / one class."""
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true, device=y_pred.device)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = to_tensor(sample_weight, device=y_pred.device).unsqueeze(-1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        idx = y_pred.topk(top_k, dim=-1).indices
        keep = torch.zeros_like(y_pred).scatter_(-1, idx, 1.0)
        y_pred = y_pred * keep + NEG_INF * (1 - keep)
    if class_id is not None:
        if y_pred.dim() == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape (num_samples, num_classes). "
                f"Expected rank 2. Received: y_pred.shape={tuple(y_pred.shape)}. Drop class_id or pass class scores."
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    if sample_weight is not None:
        sample_weight = torch.broadcast_to(sample_weight, y_pred.shape).reshape(-1)
    return y_true.reshape(-1), y_pred.reshape(-1), sample_weight


def _threshold_counts(y_true, y_pred, weights, thresholds: torch.Tensor) -> dict[str, torch.Tensor]:
    """TP/FP/TN/FN per threshold by direct comparison `y_pred > threshold` (Keras' general path)."""
    pred_pos = y_pred.unsqueeze(0) > thresholds.unsqueeze(1)
    label_pos = y_true.bool().unsqueeze(0)
    w = torch.ones_like(y_pred) if weights is None else weights
    w = w.unsqueeze(0)

    def count(label: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        return torch.where(label & pred, w, torch.zeros_like(w)).sum(dim=1)

    return {
        "tp": count(label_pos, pred_pos),
        "fp": count(~label_pos, pred_pos),
        "fn": count(label_pos, ~pred_pos),
        "tn": count(~label_pos, ~pred_pos),
    }


class _ThresholdMetric(Metric):
    _counts: tuple[str, str] = ("tp", "fp")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._thresholds_t = torch.tensor(self.thresholds, dtype=torch.float32)
        names = {"tp": "true_positives", "fp": "false_positives", "fn": "false_negatives"}
        for c in self._counts:
            self._add_state(names[c], (len(self.thresholds),))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred, w = _prepare(y_true, y_pred, sample_weight, self.top_k, self.class_id)
        device = self._follow(y_pred)
        if self._thresholds_t.device != device:
            self._thresholds_t = self._thresholds_t.to(device)
        counts = _threshold_counts(y_true, y_pred, w, self._thresholds_t)
        self.true_positives.add_(counts["tp"])
        other = self.false_positives if self._counts[1] == "fp" else self.false_negatives
        other.add_(counts[self._counts[1]])

    def result(self) -> torch.Tensor:
        other = self.false_positives if self._counts[1] == "fp" else self.false_negatives
        value = _div(self.true_positives, self.true_positives + other)
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}  # fmt: skip


class Precision(_ThresholdMetric):
    """`TP / (TP + FP)` with predictions above `thresholds` (default 0.5) counted positive.

    Example:
        >>> float(Precision()([0, 1, 1, 1], [1, 0, 1, 1]))  # 2 of 3 predicted positives are right
        0.6667
    """

    _counts = ("tp", "fp")

    def __init__(
        self,
        thresholds: float | list[float] | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)


class Recall(_ThresholdMetric):
    """`TP / (TP + FN)` with predictions above `thresholds` (default 0.5) counted positive.

    Example:
        >>> float(Recall()([0, 1, 1, 1], [1, 0, 1, 1]))  # 2 of 3 positives found
        0.6667
    """

    _counts = ("tp", "fn")

    def __init__(
        self,
        thresholds: float | list[float] | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)


class AUC(Metric):
    """Area under the ROC or precision-recall curve from `num_thresholds` confusion counts (Keras' `AUC`).

    Supports `curve='ROC'|'PR'` and `summation_method='interpolation'|'minoring'|'majoring'` for single-label
    data (binary labels of any shape).

    Example:
        >>> auc = AUC(num_thresholds=200); auc.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); float(auc.result())
        0.75
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: list[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(
                f'Invalid `curve` argument value "{curve}". Expected one of: ROC, PR. '
                f"Received: curve={curve!r}. Use curve='ROC' or curve='PR'."
            )
        if str(summation_method).lower() not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                f'Invalid `summation_method` argument value "{summation_method}". Expected one of: interpolation, '
                f"minoring, majoring. Received: summation_method={summation_method!r}. Use 'interpolation'."
            )
        if multi_label or num_labels is not None or label_weights is not None:
            raise ValueError(
                "AUC with multi_label, num_labels or label_weights is not supported by cnnkit yet. Expected "
                f"single-label data. Received: multi_label={multi_label}, num_labels={num_labels}. "
                "Compute one AUC per label with class_id-style slicing instead."
            )
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            inner = sorted(float(t) for t in thresholds)
            self._evenly = _evenly_distributed([0.0, *inner, 1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. Expected e.g. 200. "
                    f"Received: num_thresholds={num_thresholds}. Pass a larger value."
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        # Endpoints just outside [0, 1] absorb floating-point error, as in Keras.
        self.thresholds = [0.0 - EPSILON, *inner, 1.0 + EPSILON]
        self._thresholds_t = torch.tensor(self.thresholds, dtype=torch.float32)
        self.curve = str(curve).upper()
        self.summation_method = str(summation_method).lower()
        self.multi_label = False
        self.num_labels = None
        self.label_weights = None
        self._from_logits = from_logits
        for n in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            self._add_state(n, (self.num_thresholds,))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred, w = _prepare(y_true, y_pred, sample_weight)
        device = self._follow(y_pred)
        if self._from_logits:
            y_pred = torch.sigmoid(y_pred)
        if self._evenly:
            tp, fp, tn, fn = self._bucketed_counts(y_true, y_pred, w)
        else:
            if self._thresholds_t.device != device:
                self._thresholds_t = self._thresholds_t.to(device)
            c = _threshold_counts(y_true, y_pred, w, self._thresholds_t)
            tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
        self.true_positives.add_(tp)
        self.false_positives.add_(fp)
        self.true_negatives.add_(tn)
        self.false_negatives.add_(fn)

    def _bucketed_counts(self, y_true, y_pred, w):
        n = self.num_thresholds
        weights = torch.ones_like(y_pred) if w is None else w.to(torch.float32)
        y_pred = y_pred.clamp(0.0, 1.0)
        positive = (y_true != 0).to(torch.float32)
        true_labels = positive * weights
        false_labels = (1.0 - positive) * weights
        # Prediction p is above threshold i exactly for i <= ceil(p * (n - 1)) - 1 (evenly spaced thresholds).
        bucket = (torch.ceil(y_pred * float(n - 1)) - 1).clamp_min(0).long()
        tp_bucket = torch.zeros(n, dtype=torch.float32, device=y_pred.device).index_add_(0, bucket, true_labels)
        fp_bucket = torch.zeros(n, dtype=torch.float32, device=y_pred.device).index_add_(0, bucket, false_labels)
        tp = tp_bucket.flip(0).cumsum(0).flip(0)
        fp = fp_bucket.flip(0).cumsum(0).flip(0)
        return tp, fp, false_labels.sum() - fp, true_labels.sum() - tp

    def _interpolate_pr_auc(self) -> torch.Tensor:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _div(dtp, dp.clamp_min(0))
        intercept = tp[1:] - prec_slope * p[1:]
        ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
        increment = _div(prec_slope * (dtp + intercept * ratio.log()), (tp[1:] + fn[1:]).clamp_min(0))
        return increment.sum()

    def result(self) -> torch.Tensor:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        else:
            x, y = recall, _div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum()

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": False, "num_labels": None,
                  "label_weights": None, "from_logits": self._from_logits}  # fmt: skip
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _evenly_distributed(thresholds: list[float]) -> bool:
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))
