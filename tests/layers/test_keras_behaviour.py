"""Behaviour Keras programs rely on (issue 11): weights as Keras variables, add_weight without a name, layer(a, b)
in the functional API, Lambda and safe mode, the merge functions, layers.serialize, Resizing on uint8, constraints."""

import copy

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import constraints
from cnnkit import layers as L
from cnnkit.layers.lambda_layer import LAMBDA_REFUSED, safe_mode_scope

keras = pytest.importorskip("keras")


def test_weights_behave_like_keras_variables():
    conv = L.Conv2D(4, 3, name="c")
    conv.build((None, 8, 8, 3))
    ref = keras.layers.Conv2D(4, 3, name="c")
    ref.build((None, 8, 8, 3))
    kernel = conv.kernel
    assert (kernel.name, kernel.path) == (ref.kernel.name, ref.kernel.path) == ("kernel", "c/kernel")
    assert kernel.requires_grad
    assert kernel.numpy().shape == tuple(ref.kernel.numpy().shape) == (3, 3, 3, 4)  # Keras' layout
    assert tuple(kernel.value.shape) == (3, 3, 3, 4)
    value = np.arange(3 * 3 * 3 * 4, dtype="float32").reshape(3, 3, 3, 4)
    kernel.assign(value)
    ref.kernel.assign(value)
    np.testing.assert_array_equal(kernel.numpy(), ref.kernel.numpy())
    np.testing.assert_array_equal(conv.get_weights()[0], value)
    assert conv.kernel is kernel  # assigned in place: an optimizer holding it sees the new value
    with pytest.raises(ValueError, match="must match"):
        ref.kernel.assign(np.zeros((3,)))
    with pytest.raises(ValueError, match=r"must match. variable.shape=\(3, 3, 3, 4\), Received: value.shape=\(3,\)"):
        kernel.assign(np.zeros((3,)))
    bn = L.BatchNormalization(name="bn")
    bn.build((None, 3))
    assert [(w.name, w.path) for w in bn.weights] == [
        ("gamma", "bn/gamma"), ("beta", "bn/beta"), ("moving_mean", "bn/moving_mean"),
        ("moving_variance", "bn/moving_variance"),
    ]  # fmt: skip
    bn.moving_mean.assign([1.0, 2.0, 3.0])
    assert bn.moving_mean.numpy().tolist() == [1.0, 2.0, 3.0]
    assert not bn.moving_mean.trainable and bn.gamma.trainable


def test_variables_survive_copy_and_device_moves():
    layer = L.Dense(2, name="d")
    layer.build((None, 3))
    clone = copy.deepcopy(layer)
    assert clone.kernel.path == "d/kernel" and clone.kernel is not layer.kernel
    np.testing.assert_array_equal(clone.kernel.numpy(), layer.kernel.numpy())
    moved = layer.to(torch.float64).to(torch.float32)
    assert moved.kernel.name == "kernel" and moved.kernel.numpy().dtype == np.float32
    bn = L.BatchNormalization(name="b")
    bn.build((None, 2))
    bn.double()
    assert bn.moving_mean.path == "b/moving_mean"
    assert bn.moving_mean.dtype == torch.float64 and list(bn.state_dict()) == [
        "gamma", "beta", "moving_mean", "moving_variance",
    ]  # fmt: skip


def test_add_weight_names_are_optional_as_in_keras():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
            self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros")
            self.k = self.add_weight((2,), "ones", name="k")

        def call(self, x):
            return x * self.w + self.b

    class KScale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
            self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros")
            self.k = self.add_weight((2,), "ones", name="k")

    ours, ref = Scale(name="s"), KScale(name="s")
    ours.build((None, 3))
    ref.build((None, 3))
    keras_names = [w.name for w in ref.weights]
    assert [w.name for w in ours.weights] == keras_names == ["variable", "variable_1", "k"]
    # The attribute is an alias: each weight is saved and counted once.
    assert list(ours.state_dict()) == ["variable", "variable_1", "k"]
    assert ours.count_params() == 8 and ours.w is ours.variable
    assert ours(torch.ones(2, 3)).tolist() == [[1.0, 1.0, 1.0]] * 2
    with pytest.raises(ValueError, match="each weight of a layer needs its own"):
        ours.add_weight(shape=(1,), name="k")


def test_layer_called_on_two_positional_symbolic_inputs():
    class Mix(L.Layer):
        def call(self, a, b):
            return a * 2 + b

    class KMix(keras.layers.Layer):
        def call(self, a, b):
            return a * 2 + b

    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    a, b = cnnkit.Input((4,)), cnnkit.Input((4,))
    model = cnnkit.Model([a, b], L.Dense(2, name="d")(Mix(name="mix")(a, b)))
    ka, kb = keras.Input((4,)), keras.Input((4,))
    ref = keras.Model([ka, kb], keras.layers.Dense(2, name="d")(KMix(name="mix")(ka, kb)))
    model.set_weights(ref.get_weights())
    expected = keras.ops.convert_to_numpy(ref([x, y]))
    np.testing.assert_allclose(model([x, y]).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    rebuilt = cnnkit.Model.from_config(model.get_config(), custom_objects={"Mix": Mix})
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt([x, y]).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_lambda_matches_keras_and_its_config():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    ours = L.Lambda(lambda t, k: t * k + 1, arguments={"k": 2.0})
    ref = keras.layers.Lambda(lambda t, k: t * k + 1, arguments={"k": 2.0})
    np.testing.assert_allclose(ours(x).numpy(), keras.ops.convert_to_numpy(ref(x)))
    config, ref_config = ours.get_config(), ref.get_config()
    assert config["function"]["class_name"] == ref_config["function"]["class_name"] == "__lambda__"
    assert set(config["function"]["config"]) == set(ref_config["function"]["config"])
    # Functional use: output shape inferred, as Keras.
    inputs = cnnkit.Input((3,))
    assert L.Lambda(lambda t: t[:, :2])(inputs).shape == (None, 2)


def test_lambda_bytecode_is_refused_unless_safe_mode_is_false():
    config = L.Lambda(lambda t: t * 3).get_config()
    ref_config = keras.layers.Lambda(lambda t: t * 3).get_config()
    with pytest.raises(ValueError) as keras_error:
        keras.layers.Lambda.from_config(ref_config)
    with pytest.raises(ValueError) as ours:
        L.Lambda.from_config(config)
    assert str(ours.value) == LAMBDA_REFUSED
    assert "safe_mode=False" in str(keras_error.value) and "safe_mode=False" in str(ours.value)
    with pytest.raises(ValueError, match="safe_mode=False"):
        L.deserialize(L.serialize(L.Lambda(lambda t: t)))
    loaded = L.Lambda.from_config(config, safe_mode=False)
    assert loaded(torch.ones(1)).tolist() == [3.0]
    with safe_mode_scope(False):  # the hook load_model(..., safe_mode=False) opens
        assert L.Lambda.from_config(config)(torch.ones(1)).tolist() == [3.0]
    # A Keras-written lambda config loads in cnnkit (same bytecode format), only when unsafe mode is asked for.
    assert L.Lambda.from_config(ref_config, safe_mode=False)(torch.ones(2)).tolist() == [3.0, 3.0]


def _double(x):
    return x * 2


def test_named_functions_are_saved_by_name_and_found_only_in_known_places():
    config = L.Lambda(_double).get_config()
    assert config["function"]["class_name"] == "function" and config["function"]["config"] == "_double"
    with pytest.raises(ValueError, match="Could not locate function '_double'"):
        L.Lambda.from_config(config)
    assert L.Lambda.from_config(config, custom_objects={"_double": _double})(torch.ones(1)).tolist() == [2.0]
    relu_config = L.Lambda(cnnkit.activations.relu).get_config()
    assert L.Lambda.from_config(relu_config)(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate"])
def test_merge_functions_match_keras(name):
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(2, 4)).astype("float32")
    expected = keras.ops.convert_to_numpy(getattr(keras.layers, name)([x, y]))
    np.testing.assert_allclose(getattr(L, name)([x, y]).numpy(), expected, rtol=1e-6)
    a, b = cnnkit.Input((4,)), cnnkit.Input((4,))
    out = getattr(L, name)([a, b], name=f"my_{name}")
    assert out.shape == tuple(getattr(keras.layers, name)([keras.Input((4,)), keras.Input((4,))]).shape)
    assert out.node.layer.name == f"my_{name}"


def test_layers_serialize_and_deserialize_like_keras():
    layer = L.Dense(3, activation="relu", name="dense_x")
    data = L.serialize(layer)
    ref = keras.layers.serialize(keras.layers.Dense(3, activation="relu", name="dense_x"))
    assert {k: data[k] for k in ("module", "class_name", "registered_name")} == {
        k: ref[k] for k in ("module", "class_name", "registered_name")
    }
    clone = L.deserialize(data)
    assert isinstance(clone, L.Dense) and clone.get_config() == layer.get_config()
    assert isinstance(L.deserialize({"class_name": "SeparableConv2D", "config": {"filters": 2, "kernel_size": 3}}),
                      L.SeparableConv2D)  # fmt: skip
    with pytest.raises(ValueError, match="Unknown layer class 'Nope'"):
        L.deserialize({"class_name": "Nope", "config": {}})


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
def test_resizing_keeps_integer_dtypes_like_keras(interpolation):
    images = np.random.default_rng(0).integers(0, 256, size=(2, 9, 7, 3)).astype("uint8")
    expected = keras.ops.convert_to_numpy(keras.layers.Resizing(5, 4, interpolation=interpolation)(images))
    out = L.Resizing(5, 4, interpolation=interpolation)(images)
    assert out.dtype == torch.uint8 and expected.dtype == np.uint8
    np.testing.assert_array_equal(out.numpy(), expected)
    tensor_out = L.Resizing(5, 4, interpolation=interpolation)(torch.from_numpy(images))
    assert tensor_out.dtype == torch.uint8


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.MaxNorm(1.5),
        lambda m: m.MaxNorm(1.0, axis=[0, 1, 2]),
        lambda m: m.NonNeg(),
        lambda m: m.UnitNorm(axis=1),
        lambda m: m.MinMaxNorm(0.5, 1.0, rate=0.7),
    ],
)
def test_constraints_match_keras(make):
    w = np.random.default_rng(0).normal(size=(3, 3, 2, 4)).astype("float32")
    ours, ref = make(constraints), make(keras.constraints)
    np.testing.assert_allclose(ours(torch.from_numpy(w)).numpy(), keras.ops.convert_to_numpy(ref(w)), rtol=1e-6)
    assert ours.get_config() == ref.get_config()
    assert constraints.serialize(ours)["class_name"] == keras.constraints.serialize(ref)["class_name"]
    assert constraints.get(constraints.serialize(ours)).get_config() == ours.get_config()


def test_optimizer_applies_kernel_constraint_after_each_step_like_keras():
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32") * 10
    y = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    ours = cnnkit.Sequential([cnnkit.Input((5,)), L.Dense(3, kernel_constraint=constraints.MaxNorm(0.5))])
    ref = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(0.5))])
    ours.set_weights(ref.get_weights())
    ours.compile(optimizer=cnnkit.optimizers.SGD(0.1), loss="mse")
    ref.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    ref.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    kernel = ours.get_weights()[0]
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-6
    np.testing.assert_allclose(kernel, ref.get_weights()[0], rtol=1e-5, atol=1e-5)


def test_new_layers_export_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    inputs = cnnkit.Input((12, 12, 3))
    x = L.SeparableConv2D(4, 3, padding="same")(inputs)
    x = L.DepthwiseConv2D(3)(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.LayerNormalization()(x)
    x = L.GroupNormalization(2)(x)
    x = L.PReLU()(x)
    x = L.Conv1D(3, 3)(L.Reshape((-1, 4))(x))
    model = cnnkit.Model(inputs, L.Dense(2)(L.GlobalMaxPooling1D()(x)))
    # export() checks the file against onnxruntime before moving it into place; it raises on a mismatch.
    model.export(str(tmp_path / "m.onnx"))
    assert (tmp_path / "m.onnx").stat().st_size > 0
