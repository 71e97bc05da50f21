"""``cnnkit.datasets`` (Keras' ``keras.datasets``): ``fashion_mnist.load_data()`` and friends, plus ``to_folder``."""

from cnnkit.data.datasets import DatasetUnavailableError, to_folder
from cnnkit.datasets import cifar10, cifar100, fashion_mnist, mnist

__all__ = ["DatasetUnavailableError", "cifar10", "cifar100", "fashion_mnist", "mnist", "to_folder"]
