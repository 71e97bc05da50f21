"""CIFAR-10: ``load_data()`` returns Keras' arrays ((50000, 32, 32, 3) uint8, (50000, 1) uint8)."""

from __future__ import annotations

import numpy as np

from cnnkit.datasets.cifar import fetch, read_records, to_images

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
FNAME = "cifar-10-binary.tar.gz"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-10 as ``keras.datasets.cifar10.load_data`` (same images, order, shapes and dtypes)."""
    archive = fetch(FNAME, URL, SHA256, "cifar10")
    train = read_records(archive, [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)], 1)
    test = read_records(archive, ["cifar-10-batches-bin/test_batch.bin"], 1)
    return (to_images(train, 1), train[:, :1].copy()), (to_images(test, 1), test[:, :1].copy())
