"""``cnnkit.datasets.mnist`` (as ``keras.datasets.mnist``)."""

from cnnkit.data.datasets.mnist import load_data

__all__ = ["load_data"]
