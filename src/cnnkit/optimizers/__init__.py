"""Optimizers (`keras.optimizers` equivalents) and `cnnkit.optimizers.schedules`."""

from cnnkit.optimizers import schedules as schedules
from cnnkit.training.optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, Optimizer, RMSprop, get

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer", "RMSprop", "get", "schedules"]
