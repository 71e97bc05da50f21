"""Activations by Keras name (``cnnkit.activations.relu``), as ``keras.activations``."""

from cnnkit.layers.activations import *  # noqa: F403
from cnnkit.layers.activations import __all__, get, serialize  # noqa: F401
