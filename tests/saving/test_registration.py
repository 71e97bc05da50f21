"""Keras 3's registration API (register_keras_serializable, custom_object_scope, get_custom_objects) and
serialize/deserialize_keras_object, against Keras 3; a registered custom layer through .cnnkit and .keras."""

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras")

import cnnkit  # noqa: E402
from cnnkit import saving  # noqa: E402


@saving.register_keras_serializable(package="TestKF", name="Scale")
class Scale(cnnkit.layers.Layer):
    """y = x * w + b per channel: a custom layer with weights and a constructor argument."""

    def __init__(self, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="random_normal")
        self.b = self.add_weight(name="b", shape=(input_shape[-1],), initializer="random_normal")

    def call(self, x):
        return x * self.w + self.b + self.offset

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


def _keras_scale():
    # The same class under the same name as in cnnkit (as when a user changes only the import): Keras names a
    # layer's weight group after its class.
    @keras.saving.register_keras_serializable(package="TestKF", name="Scale")
    class Scale(keras.layers.Layer):
        def __init__(self, offset=0.0, **kwargs):
            super().__init__(**kwargs)
            self.offset = offset

        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="random_normal")
            self.b = self.add_weight(name="b", shape=(input_shape[-1],), initializer="random_normal")

        def call(self, x):
            return x * self.w + self.b + self.offset

        def get_config(self):
            return {**super().get_config(), "offset": self.offset}

    return Scale


KerasScale = _keras_scale()


def _with_custom(k, scale):
    inputs = k.Input((6, 6, 2))
    x = scale(offset=0.5, name="scale")(inputs)
    x = k.layers.Conv2D(3, 3)(x)
    return k.Model(inputs, k.layers.Dense(2)(k.layers.Flatten()(x)))


def test_registered_names_match_keras():
    assert saving.get_registered_name(Scale) == keras.saving.get_registered_name(KerasScale) == "TestKF>Scale"
    assert saving.get_custom_objects()["TestKF>Scale"] is Scale
    with pytest.raises(ValueError, match="Cannot register a class that does not have a get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))
    with pytest.raises(ValueError, match="Cannot register a class that does not have a get_config"):
        keras.saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_custom_layer_round_trips_through_keras_both_ways(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 6, 6, 2)).astype("float32")
    ours = _with_custom(cnnkit, Scale)
    ours.save(tmp_path / "c.keras")
    theirs = keras.models.load_model(tmp_path / "c.keras")
    assert type(theirs.get_layer("scale")) is KerasScale and theirs.get_layer("scale").offset == 0.5
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-5)

    other = _with_custom(keras, KerasScale)
    other.save(tmp_path / "k.keras")
    back = cnnkit.models.load_model(tmp_path / "k.keras")
    assert type(back.get_layer("scale")) is Scale
    np.testing.assert_allclose(back.predict(x, verbose=0), other.predict(x, verbose=0), atol=1e-5)


def test_custom_layer_round_trips_through_cnnkit(tmp_path):
    model = _with_custom(cnnkit, Scale)
    model.save(tmp_path / "c.cnnkit")
    loaded = cnnkit.models.load_model(tmp_path / "c.cnnkit")
    x = torch.randn(2, 6, 6, 2)
    torch.testing.assert_close(loaded(x), model(x))


def test_unregistered_classes_need_custom_objects_or_a_scope(tmp_path):
    class Shift(cnnkit.layers.Layer):
        def call(self, x):
            return x + 1

    config = {"module": "my_module", "class_name": "Shift", "config": {"name": "shift"}, "registered_name": None}
    with pytest.raises(ValueError) as e:
        saving.deserialize_keras_object(config)
    assert str(e.value).startswith("Unknown object 'Shift' in the file (the config).")
    assert type(saving.deserialize_keras_object(config, custom_objects={"Shift": Shift})) is Shift
    with saving.custom_object_scope({"Shift": Shift}):
        assert type(saving.deserialize_keras_object(config)) is Shift
    with saving.CustomObjectScope({"Shift": Shift}):
        assert saving.get_registered_object("Shift") is Shift
    assert saving.get_registered_object("Shift") is None


@pytest.mark.parametrize(
    "make",
    [
        lambda k: k.losses.CategoricalCrossentropy(label_smoothing=0.1),  # (Keras' Huber.get_config drops delta)
        lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda k: k.metrics.Precision(thresholds=0.3),
        lambda k: k.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda k: k.initializers.HeNormal(seed=3),
        lambda k: k.regularizers.L1L2(l1=0.01, l2=0.02),
        lambda k: k.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
    ],
    ids=["loss", "loss_logits", "metric", "optimizer", "initializer", "regularizer", "layer"],
)
def test_objects_cross_between_keras_and_cnnkit(make):
    ours, theirs = make(cnnkit), make(keras)
    # cnnkit -> Keras: Keras rebuilds the same class with the same arguments.
    from_ours = keras.saving.deserialize_keras_object(saving.serialize_keras_object(ours))
    assert type(from_ours) is type(theirs)
    # Keras -> cnnkit: cnnkit rebuilds its own class, with Keras' arguments.
    from_theirs = saving.deserialize_keras_object(keras.saving.serialize_keras_object(theirs))
    assert type(from_theirs) is type(ours)
    expected = {k: v for k, v in ours.get_config().items() if k != "name"}
    got = {k: v for k, v in from_theirs.get_config().items() if k != "name"}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value) if isinstance(value, float) else value), key


def test_functions_cross_between_keras_and_cnnkit():
    assert saving.deserialize_keras_object(keras.saving.serialize_keras_object(keras.activations.gelu)) is (
        cnnkit.activations.gelu
    )
    assert keras.saving.deserialize_keras_object(saving.serialize_keras_object(cnnkit.activations.relu)) is (
        keras.activations.relu
    )
