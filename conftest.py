"""The names the docstring examples in src/cnnkit use (``pytest --doctest-modules src/cnnkit``).

The interpret examples talk about "a trained model and its validation images": here that is the tutorial CNN (64x64
RGB, three classes) with seeded random weights and images, small enough to run in a second.
"""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _doctest_names(doctest_namespace: dict) -> None:
    import cnnkit  # imported here so a plain `pytest tests/...` collection does not pay for it twice

    cnnkit.utils.set_random_seed(0)
    layers = cnnkit.layers
    model = cnnkit.Sequential(
        [
            layers.Input((64, 64, 3)),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv2d"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv2d_1"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(3, activation="softmax", name="predictions"),
        ]
    )
    rng = np.random.default_rng(0)
    x_val = rng.random((8, 64, 64, 3), dtype=np.float32)
    y_val = rng.integers(0, 3, size=8)
    doctest_namespace.update(
        cnnkit=cnnkit,
        np=np,
        model=model,
        x_val=x_val,
        y_val=y_val,
        images=torch.from_numpy(x_val[:2]),
        convs=[model.get_layer("conv2d"), model.get_layer("conv2d_1")],
    )
