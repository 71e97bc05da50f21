"""Learning-rate schedules: callables of the optimizer step, as in `keras.optimizers.schedules`.

The formulas follow Keras 3 (`keras/src/optimizers/schedules/learning_rate_schedule.py`); `OneCycle` follows
fastai's `fit_one_cycle` (`fastai/callback/schedule.py`). The Keras schedules compute in float32 scalars on the
host, with Keras' order of operations, so they return Keras' float32 values (near the end of a cosine decay,
float32 rounding changes the rate by up to ~3e-5 relative, and Keras trains with those values). The step comes
from the optimizer's host counter, so reading the learning rate never waits for the accelerator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "LearningRateSchedule",
    "OneCycle",
    "PiecewiseConstantDecay",
    "deserialize",
    "serialize",
]


_f32 = np.float32


def _step_value(step: Any) -> float:
    # A step may come as an int, a NumPy scalar or a 0-d tensor (one host read, outside the hot path).
    return float(step)


class LearningRateSchedule:
    """Base class: a serializable callable mapping the optimizer step (0 for the first update) to a learning rate."""

    def __call__(self, step: Any) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be > 0. Expected a positive number of steps. "
            f"Received: {name}={value!r}. Pass a positive number."
        )


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (the exponent floored when `staircase`).

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10)
        0.05
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> float:
        p = _f32(_step_value(step)) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) * _f32(self.decay_rate) ** p)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while `boundaries[i-1] < step <= boundaries[i]`, ...

    Example:
        >>> PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])(150)
        0.5
    """

    def __init__(self, boundaries: list[float], values: list[float], name: str = "PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Expected len(values) == len(boundaries) + 1. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} of length {len(values)}. "
                "Give one more value than boundaries."
            )
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step: Any) -> float:
        s = _step_value(step)
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if s <= boundary:
                return float(_f32(value))
        return float(_f32(self.values[-1]))

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up, then cosine decay to `alpha * peak` over `decay_steps` (the Keras 3 formula).

    Without `warmup_target` the peak is `initial_learning_rate` and decay starts at step 0. With it, the rate
    rises linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps`, then decays.

    Example:
        >>> CosineDecay(1.0, decay_steps=10)(5)
        0.5
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: np.float32, peak: np.float32) -> float:
        fraction = step / _f32(self.decay_steps)
        # torch's float32 cos (what Keras calls); 1 + cos cancels near the end, so one ulp of cos would show.
        cos = _f32(torch.cos(torch.tensor(_f32(math.pi) * fraction, dtype=torch.float32)).item())
        cosine = _f32(0.5) * (_f32(1.0) + cos)
        decayed = _f32(1 - self.alpha) * cosine + _f32(self.alpha)
        return float(peak * decayed)

    def __call__(self, step: Any) -> float:
        s = _f32(_step_value(step))
        initial = _f32(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(min(s, _f32(self.decay_steps)), initial)
        warmup_steps, target = _f32(self.warmup_steps), _f32(self.warmup_target)
        s = min(s, _f32(self.decay_steps) + warmup_steps)
        if s < warmup_steps:
            return float((target - initial) * (s / warmup_steps) + initial)
        return self._decay(s - warmup_steps, target)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


def _sched_cos(start: float, end: float, pos: float) -> float:
    # fastai's sched_cos: `start` at pos=0, `end` at pos=1, half a cosine period in between.
    return start + (1.0 + math.cos(math.pi * (1.0 - pos))) * (end - start) / 2.0


class OneCycle(LearningRateSchedule):
    """The 1cycle policy of fastai's `Learner.fit_one_cycle` (learning rate only; fastai also cycles momentum).

    With `pos = min(step, total_steps) / total_steps` and
    `sched_cos(a, b, t) = a + (1 + cos(pi * (1 - t))) * (b - a) / 2`:

    - `pos < pct_start`: `sched_cos(max_learning_rate / div_factor, max_learning_rate, pos / pct_start)`,
    - otherwise: `sched_cos(max_learning_rate, max_learning_rate / final_div_factor,
      (pos - pct_start) / (1 - pct_start))`.

    fastai sets the rate before each batch from `pct_train = batches_done / total_batches`, which is this schedule
    at the optimizer step. Source: fastai `callback/schedule.py` (`sched_cos`, `combine_scheds`, `combined_cos`,
    `fit_one_cycle(div=25., div_final=1e5, pct_start=0.25)`). Steps past `total_steps` keep the final rate.

    Example:
        >>> OneCycle(1.0, total_steps=100)(25)
        1.0
    """

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e5,
        name: str = "OneCycle",
    ) -> None:
        _check_positive("total_steps", total_steps)
        if not 0.0 <= pct_start <= 1.0:
            raise ValueError(
                "Argument `pct_start` is out of range. Expected a fraction in [0, 1]. "
                f"Received: pct_start={pct_start!r}. Pass e.g. pct_start=0.25."
            )
        self.max_learning_rate = max_learning_rate
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.name = name

    def __call__(self, step: Any) -> float:
        pos = min(_step_value(step), self.total_steps) / self.total_steps
        peak = self.max_learning_rate
        if pos < self.pct_start:
            return _sched_cos(peak / self.div_factor, peak, pos / self.pct_start)
        if self.pct_start >= 1.0:
            return peak
        return _sched_cos(peak, peak / self.final_div_factor, (pos - self.pct_start) / (1.0 - self.pct_start))

    def get_config(self) -> dict[str, Any]:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "name": self.name,
        }


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay, OneCycle)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Returns `{"class_name": ..., "config": ...}` (JSON-able), the form Keras writes for schedules."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any], custom_objects: dict[str, type] | None = None) -> LearningRateSchedule:
    """Rebuilds a schedule from `serialize()` output (Keras' form, with extra `module` keys, reads too)."""
    table = {**_SCHEDULES, **(custom_objects or {})}
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in table:
        raise ValueError(
            f"Unknown learning rate schedule: {name!r}. Expected one of {sorted(table)}. "
            f"Received: config={config!r}. Pass custom schedule classes with custom_objects={{name: cls}}."
        )
    return table[name].from_config(dict(config.get("config") or {}))
