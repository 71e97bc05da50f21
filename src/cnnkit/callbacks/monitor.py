"""Shared logic of callbacks that watch a metric (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau)."""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

from cnnkit import metrics as metrics_module
from cnnkit.callbacks.callback import Callback

# Which way each metric improves, as Keras 3 declares it (``self._direction`` in each metric class's constructor).
# Kept here rather than on the metric classes so that the metrics room stays as Keras lays it out; a metric class
# not listed (Mean, Sum, a user's Metric subclass) has no direction, as in Keras, and needs an explicit mode.
_UP = (
    metrics_module.Accuracy,
    metrics_module.BinaryAccuracy,
    metrics_module.CategoricalAccuracy,
    metrics_module.SparseCategoricalAccuracy,
    metrics_module.TopKCategoricalAccuracy,
    metrics_module.SparseTopKCategoricalAccuracy,
    metrics_module.Precision,
    metrics_module.Recall,
    metrics_module.AUC,
    metrics_module.CosineSimilarity,
)
_DOWN = (
    metrics_module.MeanSquaredError,
    metrics_module.MeanAbsoluteError,
    metrics_module.MeanAbsolutePercentageError,
    metrics_module.MeanSquaredLogarithmicError,
    metrics_module.RootMeanSquaredError,
    metrics_module.LogCoshError,
    metrics_module.Hinge,
    metrics_module.SquaredHinge,
    metrics_module.CategoricalHinge,
    metrics_module.KLDivergence,
    metrics_module.Poisson,
    metrics_module.BinaryCrossentropy,
    metrics_module.CategoricalCrossentropy,
    metrics_module.SparseCategoricalCrossentropy,
)


def metric_direction(metric: Any) -> str | None:
    """``'up'`` if higher values of ``metric`` are better, ``'down'`` if lower ones are, None if unknown (Keras 3).

    Example:
        >>> from cnnkit.metrics import AUC
        >>> metric_direction(AUC(name="AUC"))
        'up'
    """
    if isinstance(metric, _UP):
        return "up"
    if isinstance(metric, _DOWN):
        return "down"
    return None


class MonitorCallback(Callback):
    """Decides whether a monitored value improved, with Keras' ``mode`` and ``min_delta`` rules.

    With ``mode='auto'`` the direction comes from the name, as in Keras 3: ``loss`` and ``val_loss`` go down;
    any other monitor must name a compiled metric (``val_AUC`` after ``compile(metrics=["AUC"])``), and goes the
    way that metric's class improves. A monitor that names no compiled metric with a known direction is an error
    that asks for ``mode='min'`` or ``mode='max'``.
    """

    def __init__(
        self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None, min_delta: float = 0.0
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"Unknown mode for {type(self).__name__}. Expected 'auto', 'min' or 'max'. Received: mode={mode!r}. "
                "Pass mode='min' for losses or mode='max' for accuracies."
            )
        self.monitor, self.mode, self.best = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            name = self.monitor.removeprefix("val_")
            direction = "down" if name == "loss" else None
            for metric in self._compiled_metrics():
                if metric.name == name:
                    direction = metric_direction(metric) or direction
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} cannot tell whether {self.monitor!r} should go up or down. Expected "
                    f"'loss' or the name of a compiled metric with a known direction, or mode='min' or mode='max'. "
                    f"Received: monitor={self.monitor!r}, mode='auto'. "
                    "Pass mode='max' to keep the highest value or mode='min' to keep the lowest."
                )
            self.monitor_op = operator.gt if direction == "up" else operator.lt
        if self.monitor_op is operator.lt:
            self.min_delta = -abs(self.min_delta)

    def _compiled_metrics(self) -> list:
        # The callback may run without a model (called by hand) or on a model that was never compiled.
        trainer = getattr(self.model, "trainer", None)
        return list(trainer.metrics) if trainer is not None else []

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False  # a NaN/inf value is never "best"
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))

    def get_monitor_value(self, logs: dict | None) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} is conditioned on metric {self.monitor!r} which is not available. "
                f"Available metrics are: {','.join(logs)}.",
                stacklevel=3,
            )
            return None
        return float(value)
