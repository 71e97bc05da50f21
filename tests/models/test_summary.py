"""model.summary() prints Keras 3's table with Keras' numbers."""

import pytest

import cnnkit
from cnnkit.common.naming import clear_session

keras = pytest.importorskip("keras")


def tutorial(k):
    return k.models.Sequential(
        [
            k.layers.Input((64, 64, 3)),
            k.layers.Conv2D(32, (3, 3), activation="relu"),
            k.layers.MaxPooling2D(pool_size=(2, 2)),
            k.layers.BatchNormalization(),
            k.layers.Conv2D(64, (3, 3), activation="relu"),
            k.layers.MaxPooling2D(pool_size=(2, 2)),
            k.layers.Flatten(),
            k.layers.Dense(128, activation="relu"),
            k.layers.Dense(1, activation="sigmoid"),
        ]
    )


def two_inputs(k):
    a, b = k.layers.Input((8, 8, 3)), k.layers.Input((8, 8, 3))
    x, y = k.layers.Conv2D(2, 3)(a), k.layers.Conv2D(2, 3)(b)
    return k.models.Model([a, b], k.layers.Concatenate()([x, y]))


def _summary(model):
    lines = []
    model.summary(print_fn=lambda s, **_: lines.append(s))
    return "\n".join(lines).splitlines()


@pytest.mark.parametrize("build", [tutorial, two_inputs])
def test_summary_text_equals_keras(build):
    keras.backend.clear_session()
    clear_session()
    theirs = _summary(build(keras))
    ours = _summary(build(cnnkit))
    assert ours == [line.rstrip() for line in theirs if line.strip()]
