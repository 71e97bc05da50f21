"""``cnnkit.datasets.cifar10`` (as ``keras.datasets.cifar10``)."""

from cnnkit.data.datasets.cifar10 import CLASS_NAMES, load_data

__all__ = ["CLASS_NAMES", "load_data"]
