"""Weight initializers (``cnnkit.initializers.HeNormal()``), as ``keras.initializers``."""

from cnnkit.layers.initializers import *  # noqa: F403
from cnnkit.layers.initializers import __all__, get, serialize  # noqa: F401
