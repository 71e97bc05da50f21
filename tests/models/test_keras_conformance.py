"""cnnkit against Keras 3 (torch backend): the same code builds the same network, with the same parameter counts,
and with Keras' weights loaded from the files Keras writes, the same predictions.

Each architecture is written once, as a function of the framework module, so the test itself shows that tutorial
code runs with only the import prefix changed.
"""

import numpy as np
import pytest

import cnnkit

keras = pytest.importorskip("keras")

# float32 throughout; the frameworks run the same math through different kernel paths (oneDNN channels-last vs
# torch's default layout), so agreement is to float32 rounding, a few 1e-7 relative: 1e-5 absolute is tight.
ATOL = 1e-5


def tutorial(k):
    return k.models.Sequential(
        [
            k.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)),
            k.layers.MaxPooling2D(pool_size=(2, 2)),
            k.layers.Conv2D(64, (3, 3), activation="relu"),
            k.layers.MaxPooling2D(pool_size=(2, 2)),
            k.layers.Flatten(),
            k.layers.Dense(128, activation="relu"),
            k.layers.Dense(1, activation="sigmoid"),
        ]
    )


def bn_dropout(k):
    return k.models.Sequential(
        [
            k.layers.Input(shape=(32, 32, 3)),
            k.layers.Conv2D(16, 3, padding="same", use_bias=False),
            k.layers.BatchNormalization(),
            k.layers.Activation("relu"),
            k.layers.Dropout(0.3),
            k.layers.Conv2D(16, 3),
            k.layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
            k.layers.ReLU(),
            k.layers.Flatten(),
            k.layers.Dropout(0.5),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


def same_stride2(k):
    # Odd sizes make TensorFlow's `same` padding asymmetric (the extra pixel goes bottom/right).
    return k.models.Sequential(
        [
            k.layers.Input(shape=(15, 17, 3)),
            k.layers.Conv2D(8, (3, 3), strides=2, padding="same", activation="relu"),
            k.layers.Conv2D(8, (4, 4), strides=(2, 1), padding="same"),
            k.layers.MaxPooling2D((3, 3), strides=2, padding="same"),
            k.layers.ZeroPadding2D(((1, 0), (0, 2))),
            k.layers.Conv2D(4, (5, 5), strides=3, padding="same"),
            k.layers.Flatten(),
            k.layers.Dense(3),
        ]
    )


def pooling(k):
    inputs = k.layers.Input(shape=(24, 24, 3))
    x = k.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = k.layers.AveragePooling2D((2, 2))(x)
    x = k.layers.AveragePooling2D((3, 3), strides=1, padding="same")(x)
    x = k.layers.Conv2D(8, 3, activation="tanh")(x)
    a = k.layers.GlobalAveragePooling2D()(x)
    m = k.layers.GlobalMaxPooling2D()(x)
    outputs = k.layers.Dense(2, activation="softmax")(k.layers.Concatenate()([a, m]))
    return k.models.Model(inputs, outputs)


def residual(k):
    inputs = k.layers.Input(shape=(16, 16, 3))
    x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    shortcut = x
    y = k.layers.Conv2D(16, 3, padding="same")(x)
    y = k.layers.BatchNormalization()(y)
    y = k.layers.Activation("relu")(y)
    y = k.layers.Conv2D(16, 3, padding="same")(y)
    y = k.layers.BatchNormalization()(y)
    x = k.layers.Add()([shortcut, y])
    x = k.layers.ReLU()(x)
    x = k.layers.Conv2D(32, 1, strides=2)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.models.Model(inputs, k.layers.Dense(5)(x))


def two_inputs(k):
    image = k.layers.Input(shape=(12, 12, 1))
    meta = k.layers.Input(shape=(4,))
    x = k.layers.Conv2D(6, 3, activation="relu")(image)
    x = k.layers.MaxPooling2D()(x)
    x = k.layers.Flatten()(x)
    m = k.layers.Dense(8, activation="relu")(meta)
    x = k.layers.Concatenate()([x, m])
    return k.models.Model([image, meta], k.layers.Dense(1, activation="sigmoid")(x))


def nested(k):
    block = k.models.Sequential(
        [
            k.layers.Conv2D(8, 3, padding="same", activation="relu"),
            k.layers.BatchNormalization(),
            k.layers.MaxPooling2D(),
        ]
    )
    inputs = k.layers.Input(shape=(16, 16, 3))
    x = block(inputs)
    x = k.layers.Conv2D(4, 3)(x)
    x = k.layers.Flatten()(x)
    return k.models.Model(inputs, k.layers.Dense(3, activation="softmax")(x))


def frozen_base(k):
    base_in = k.layers.Input(shape=(20, 20, 3))
    b = k.layers.Conv2D(8, 3, activation="relu")(base_in)
    b = k.layers.BatchNormalization()(b)
    b = k.layers.Conv2D(8, 3, strides=2, activation="relu")(b)
    base = k.models.Model(base_in, b)
    base.trainable = False
    inputs = k.layers.Input(shape=(20, 20, 3))
    x = base(inputs, training=False)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dropout(0.2)(x)
    return k.models.Model(inputs, k.layers.Dense(1, activation="sigmoid")(x))


ARCHITECTURES = [tutorial, bn_dropout, same_stride2, pooling, residual, two_inputs, nested, frozen_base]


def _inputs(model, rng, batch=3):
    shapes = [tuple(t.shape) for t in model.inputs]
    arrays = [rng.uniform(0, 1, size=(batch, *s[1:])).astype("float32") for s in shapes]
    return arrays if len(arrays) > 1 else arrays[0]


def _randomize_keras(model, rng):
    """Non-trivial values everywhere, BatchNormalization statistics included (a fresh model has 0/1 there)."""
    weights = []
    for w in model.get_weights():
        if w.ndim == 1:
            weights.append(rng.uniform(0.5, 1.5, size=w.shape).astype("float32"))
        else:
            weights.append(w)
    model.set_weights(weights)


@pytest.mark.parametrize("build", ARCHITECTURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("file_format", ["weights.h5", "legacy.h5"])
def test_same_counts_and_predictions_as_keras(build, file_format, tmp_path):
    rng = np.random.default_rng(0)
    reference = build(keras)
    ours = build(cnnkit)
    assert ours.count_params() == reference.count_params()
    assert sum(w.numel() for w in ours.trainable_weights) == sum(
        int(np.prod(w.shape)) for w in reference.trainable_weights
    )
    _randomize_keras(reference, rng)
    path = tmp_path / f"model.{file_format}"
    if file_format == "weights.h5":
        reference.save_weights(path)
    else:
        reference.save(path)  # Keras 3 writes the legacy Keras 2 HDF5 layout for a .h5 model file
    ours.load_weights(path)
    x = _inputs(reference, rng)
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = ours(x).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("build", [bn_dropout, residual, nested, frozen_base], ids=lambda f: f.__name__)
def test_training_mode_batchnorm_matches_keras(build, tmp_path):
    """training=True: batch statistics (frozen BN stays in inference mode); moving averages updated alike."""
    rng = np.random.default_rng(1)
    reference, ours = build(keras), build(cnnkit)
    for layer in [*reference.layers, *ours.layers]:
        if "dropout" in layer.name:
            layer.rate = 0.0
    _randomize_keras(reference, rng)
    reference.save_weights(tmp_path / "w.weights.h5")
    ours.load_weights(tmp_path / "w.weights.h5")
    x = _inputs(reference, rng, batch=6)
    expected = keras.ops.convert_to_numpy(reference(x, training=True))
    got = ours(x, training=True).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_keras_can_read_our_weights_file(tmp_path):
    ours, reference = residual(cnnkit), residual(keras)
    ours.save_weights(tmp_path / "ours.weights.h5")
    reference.load_weights(tmp_path / "ours.weights.h5")
    x = np.random.default_rng(2).uniform(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(ours(x).detach().numpy(), keras.ops.convert_to_numpy(reference(x)), atol=ATOL, rtol=0)
