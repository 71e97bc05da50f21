"""Shared logic of callbacks that watch a metric (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau)."""

from __future__ import annotations

import math
import operator
import warnings

from cnnkit.callbacks.callback import Callback

_MAX_WORDS = ("acc", "accuracy", "auc", "precision", "recall", "fmeasure", "f1")
_MIN_WORDS = ("loss", "error", "mse", "mae", "crossentropy")


class MonitorCallback(Callback):
    """Decides whether a monitored value improved, with Keras' ``mode`` and ``min_delta`` rules."""

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
            direction = self._metric_direction(name)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} cannot tell whether {self.monitor!r} should go up or down. Expected "
                    f"mode='min' or mode='max' for this metric. Received: monitor={self.monitor!r}, mode='auto'. "
                    "Pass mode='max' to keep the highest value or mode='min' to keep the lowest."
                )
            self.monitor_op = operator.gt if direction == "up" else operator.lt
        if self.monitor_op is operator.lt:
            self.min_delta = -abs(self.min_delta)

    def _metric_direction(self, name: str) -> str | None:
        for metric in getattr(getattr(self.model, "_trainer", None), "metrics", None) or []:
            if getattr(metric, "name", None) == name and getattr(metric, "_direction", None):
                return "up" if metric._direction == "up" else "down"
        if name == "loss" or any(name.endswith(w) for w in _MIN_WORDS):
            return "down"
        if any(name.endswith(w) for w in _MAX_WORDS):
            return "up"
        return None

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
