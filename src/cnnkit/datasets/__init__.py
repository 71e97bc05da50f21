"""Built-in datasets with Keras' ``load_data()`` arrays, and ``to_folder`` to write them as image folders."""

from cnnkit.common.download import DatasetUnavailableError
from cnnkit.datasets import cifar10, cifar100, fashion_mnist, mnist
from cnnkit.datasets.to_folder import to_folder

__all__ = ["DatasetUnavailableError", "cifar10", "cifar100", "fashion_mnist", "mnist", "to_folder"]
