"""End to end: a real image folder made from Fashion-MNIST (PNG and JPEG, broken files mixed in) trains to a
sensible accuracy with fit(), augmentation layers inside the model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from support.images import text_as_jpg, truncated_jpeg, zero_byte

FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow  # ~15 s alone, ~30 s on a busy machine
def test_fit_on_fashion_mnist_folder_with_broken_files(tmp_path, caplog):
    if not (FMNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
    import torch

    from cnnkit.datasets import fashion_mnist, to_folder
    from cnnkit.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D, RandomFlip, Rescaling
    from cnnkit.models import Sequential
    from cnnkit.utils import image_dataset_from_directory

    torch.manual_seed(0)
    (x, y), _ = fashion_mnist.load_data()
    root = tmp_path / "fmnist"
    # T-shirt/top, Trouser, Bag, Ankle boot: 300 images each, alternately PNG and JPEG
    written = to_folder(x[:6000], y[:6000], root, classes=[0, 1, 8, 9], max_per_class=300, format=("png", "jpeg"),
                        class_names=fashion_mnist.CLASS_NAMES, verbose=False)  # fmt: skip
    truncated_jpeg(root / "Bag" / "zz_truncated.jpg")
    zero_byte(root / "Trouser" / "zz_empty.png")
    text_as_jpg(root / "Ankle boot" / "zz_text.jpg")
    with caplog.at_level(logging.WARNING, logger="cnnkit.data"):
        train, val = image_dataset_from_directory(root, validation_split=0.2, subset="both", seed=7,
                                                  image_size=(28, 28), color_mode="grayscale", batch_size=32,
                                                  verbose=False)  # fmt: skip
    assert train.class_names == ["Ankle boot", "Bag", "T-shirt_top", "Trouser"]
    assert train.num_samples + val.num_samples == len(written) == 1200  # no valid image lost
    assert len(train.skipped) + len(val.skipped) == 3

    model = Sequential([
        Input((28, 28, 1)),
        RandomFlip("horizontal", seed=1),
        Rescaling(1 / 255.0),
        Conv2D(8, 3, activation="relu"),
        MaxPooling2D(),
        Conv2D(16, 3, activation="relu"),
        MaxPooling2D(),
        Flatten(),
        Dense(4, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=4, verbose=0)
    # Four well-separated classes: a small CNN passes 85% on held-out images within a few epochs (typically ~95%).
    print("val_accuracy per epoch:", [round(v, 3) for v in history.history["val_accuracy"]])
    assert history.history["val_accuracy"][-1] > 0.85
    _, accuracy = model.evaluate(val, verbose=0)
    assert accuracy > 0.85
    probs = model.predict(val, verbose=0)
    assert np.asarray(probs).shape == (val.num_samples, 4)
