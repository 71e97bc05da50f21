"""Metrics (`keras.metrics` equivalents): the public names of ``cnnkit.training.metrics``."""

from cnnkit.training.metrics import *  # noqa: F403
from cnnkit.training.metrics import __all__  # noqa: F401
