"""CIFAR-100: ``load_data(label_mode)`` returns Keras' arrays ((50000, 32, 32, 3) uint8, (50000, 1) int64)."""

from __future__ import annotations

import numpy as np

from cnnkit.datasets.cifar import fetch, read_records, to_images

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
SHA256 = "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"
FNAME = "cifar-100-binary.tar.gz"


def load_data(label_mode: str = "fine") -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-100 as ``keras.datasets.cifar100.load_data``; ``label_mode`` is "fine" (100) or "coarse" (20).

    Labels are int64, as Keras' (it builds them from Python lists).
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            f"Unknown label_mode. Expected 'fine' or 'coarse'. Received: label_mode={label_mode!r}. "
            "Pass 'fine' for 100 classes or 'coarse' for 20."
        )
    archive = fetch(FNAME, URL, SHA256, "cifar100")
    column = 1 if label_mode == "fine" else 0  # each record: coarse label, fine label, 3072 pixels
    out = []
    for member in ("train.bin", "test.bin"):
        records = read_records(archive, [f"cifar-100-binary/{member}"], 2)
        out.append((to_images(records, 2), records[:, column : column + 1].astype(np.int64)))
    return out[0], out[1]
