"""MNIST: ``load_data()`` returns Keras' arrays ((60000, 28, 28) uint8, (60000,) uint8), read without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnkit.common.download import get_file

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # Keras' published file hash


def load_data(path: str = "mnist.npz") -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads MNIST as ``keras.datasets.mnist.load_data``: ``(x_train, y_train), (x_test, y_test)``.

    Looks in Keras' ``~/.keras/datasets`` and the cnnkit cache before downloading.
    """
    local = [str(Path.home() / ".keras" / "datasets")]
    file = get_file(path, URL, SHA256, "mnist", local)
    with np.load(file, allow_pickle=False) as f:
        # np.array copies: arrays read from a zip member are read-only views, which torch warns about in fit().
        return (np.array(f["x_train"]), np.array(f["y_train"])), (np.array(f["x_test"]), np.array(f["y_test"]))
