"""Optimizers (`keras.optimizers` equivalents) and `cnnkit.optimizers.schedules`."""

from cnnkit.optimizers import schedules as schedules
from cnnkit.training.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, get

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "get", "schedules"]
