"""``cnnkit.datasets.cifar100`` (as ``keras.datasets.cifar100``)."""

from cnnkit.data.datasets.cifar100 import load_data

__all__ = ["load_data"]
