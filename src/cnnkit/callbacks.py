"""Public callbacks, as ``keras.callbacks``: ``from cnnkit.callbacks import EarlyStopping``."""

from cnnkit.training.callbacks import *  # noqa: F403
from cnnkit.training.callbacks import __all__  # noqa: F401
