"""Learning-rate schedules (`keras.optimizers.schedules` equivalents)."""

from cnnkit.training.schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    OneCycle,
    PiecewiseConstantDecay,
    deserialize,
    serialize,
)

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "LearningRateSchedule",
    "OneCycle",
    "PiecewiseConstantDecay",
    "deserialize",
    "serialize",
]
