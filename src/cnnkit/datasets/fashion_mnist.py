"""``cnnkit.datasets.fashion_mnist`` (as ``keras.datasets.fashion_mnist``)."""

from cnnkit.data.datasets.fashion_mnist import CLASS_NAMES, load_data

__all__ = ["CLASS_NAMES", "load_data"]
