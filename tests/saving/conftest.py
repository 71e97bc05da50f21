"""Shared model for the saving tests: conv, batch norm, a branch and a head, so every weight kind is saved."""

import pytest

from cnnkit import layers as L
from cnnkit.models import Model


def _small_model():
    inputs = L.Input((12, 12, 3))
    x = L.Conv2D(4, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    y = L.Conv2D(4, 1)(inputs)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    return Model(inputs, L.Dense(3, activation="softmax")(x), name="small")


@pytest.fixture
def small_model():
    """A factory: each call builds a new model (with the next automatic layer names)."""
    return _small_model
