"""The tutorial model learns a real two-class problem: Fashion-MNIST sneakers vs ankle boots."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from cnnkit.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from cnnkit.models import Sequential
from cnnkit.utils import set_random_seed

ROOT = Path("/usr/share/datasets/fashion-mnist")
SNEAKER, ANKLE_BOOT = 7, 9


def _load(split, n):
    with gzip.open(ROOT / f"{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    with gzip.open(ROOT / f"{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    keep = np.flatnonzero((labels == SNEAKER) | (labels == ANKLE_BOOT))[:n]
    return images[keep].astype("float32") / 255.0, (labels[keep] == ANKLE_BOOT).astype("float32").reshape(-1, 1)


@pytest.mark.skipif(not ROOT.exists(), reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_tutorial_model_learns_two_fashion_mnist_classes():
    x, y = _load("train", 1200)
    x_test, y_test = _load("t10k", 400)
    set_random_seed(0)
    model = Sequential(
        [
            Input((28, 28, 1)),
            Conv2D(32, (3, 3), activation="relu"),
            MaxPooling2D(pool_size=(2, 2)),
            Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D(pool_size=(2, 2)),
            Flatten(),
            Dense(128, activation="relu"),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=3, validation_split=0.2, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.9, history.history
    assert history.history["loss"][-1] < history.history["loss"][0]
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert test_accuracy > 0.9
