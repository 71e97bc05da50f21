"""The layers of issue 11 against Keras 3 (KERAS_BACKEND=torch) with copied weights: outputs, weight names and
order, output shapes and config keys."""

import numpy as np
import pytest
import torch

from cnnkit import layers as L

keras = pytest.importorskip("keras")

# float32 on both sides, the same reductions up to summation order: 1e-5 is the bar.
TOL = {"rtol": 1e-5, "atol": 1e-5}

CASES = [
    ("SeparableConv2D", {"filters": 5, "kernel_size": 3}, (2, 9, 8, 3)),
    (
        "SeparableConv2D",
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 2, "activation": "relu"},
        (2, 9, 8, 3),
    ),  # fmt: skip
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "use_bias": False}, (2, 9, 9, 2)),
    ("DepthwiseConv2D", {"kernel_size": 3}, (2, 8, 8, 3)),
    ("DepthwiseConv2D", {"kernel_size": (3, 2), "strides": 2, "padding": "same", "depth_multiplier": 3}, (2, 9, 8, 2)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, (2, 5, 6, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 5, 6, 3)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 5, 5, 2)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 2, "strides": 2}, (2, 4, 4, 2)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "valid"}, (2, 4, 4, 2)),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "groups": 2}, (2, 10, 4)),
    ("GlobalAveragePooling1D", {}, (2, 7, 3)),
    ("GlobalMaxPooling1D", {"keepdims": True}, (2, 7, 3)),
    ("LayerNormalization", {}, (2, 5, 6)),
    ("LayerNormalization", {"axis": [1, 2], "epsilon": 1e-5}, (2, 4, 5)),
    ("LayerNormalization", {"axis": [-2, -1], "scale": False}, (2, 3, 4, 5)),
    ("GroupNormalization", {"groups": 2}, (2, 4, 4, 6)),
    ("GroupNormalization", {"groups": 3, "axis": 1}, (2, 6, 5)),
    ("PReLU", {"alpha_initializer": "random_normal"}, (2, 5, 3)),
    ("PReLU", {"shared_axes": [1, 2], "alpha_initializer": "random_normal"}, (2, 4, 4, 3)),
    ("ELU", {"alpha": 0.7}, (2, 6)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "kernel_constraint": "max_norm"}, (2, 6, 6, 3)),
    ("Dense", {"units": 3, "bias_constraint": "non_neg"}, (2, 6)),
]


def _keras_kwargs(kwargs):
    out = dict(kwargs)
    return out


def test_layer_normalization_over_a_leading_axis_matches_numpy():
    # Keras' torch backend rejects non-trailing axes (its layer_norm kernel wants the last axes): NumPy is the
    # reference here, with the same formula Keras' other backends use.
    x = np.random.default_rng(1).normal(size=(2, 4, 5)).astype("float32")
    layer = L.LayerNormalization(axis=1, gamma_initializer="random_normal", beta_initializer="random_normal")
    out = layer(torch.from_numpy(x)).detach().numpy()
    gamma, beta = layer.get_weights()
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * gamma[None, :, None] + beta[None, :, None]
    np.testing.assert_allclose(out, expected, **TOL)


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_matches_keras_with_copied_weights(name, kwargs, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ref = getattr(keras.layers, name)(**_keras_kwargs(kwargs))
    expected = keras.ops.convert_to_numpy(ref(x))
    ours = getattr(L, name)(**kwargs)
    ours.build((None, *shape[1:]))
    # Same weights, same names, same order: get_weights/set_weights map one to one.
    assert [w.name for w in ours.weights] == [w.name for w in ref.weights]
    assert [w.path.split("/")[-1] for w in ours.weights] == [w.path.split("/")[-1] for w in ref.weights]
    assert [tuple(a.shape) for a in ours.get_weights()] == [tuple(a.shape) for a in ref.get_weights()]
    ours.set_weights(ref.get_weights())
    out = ours(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, expected, **TOL)
    assert ours.compute_output_shape((None, *shape[1:])) == tuple(ref.compute_output_shape((None, *shape[1:])))
    # Every Keras config key is there (dtype aside: a policy dict in Keras), with the same plain values.
    ref_config, config = ref.get_config(), ours.get_config()
    assert set(ref_config) - {"dtype", "quantization_config"} <= set(config)
    for key in ("filters", "padding", "depth_multiplier", "epsilon", "groups", "alpha", "shared_axes", "use_bias"):
        if key in ref_config:
            assert config[key] == ref_config[key], key
    for key in ("kernel_constraint", "bias_constraint"):
        if ref_config.get(key) is not None:
            assert config[key]["class_name"] == ref_config[key]["class_name"]
            assert config[key]["config"] == ref_config[key]["config"]


def test_layers_built_by_keras_weight_values_map_through_numpy():
    ref = keras.layers.SeparableConv2D(4, 3)
    ref.build((None, 8, 8, 3))
    ours = L.SeparableConv2D(4, 3)
    ours.build((None, 8, 8, 3))
    ours.set_weights(ref.get_weights())
    for a, b in zip(ours.weights, ref.weights):
        np.testing.assert_array_equal(a.numpy(), keras.ops.convert_to_numpy(b))


def test_spatial_dropout_drops_whole_channels_and_scales():
    x = torch.ones(4, 5, 5, 16)
    out = L.SpatialDropout2D(0.5, seed=1)(x, training=True)
    per_channel = out.amax(dim=(1, 2))
    assert torch.equal(out, per_channel[:, None, None, :].expand_as(out))
    assert set(per_channel.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(L.SpatialDropout2D(0.5)(x), x)  # inference: identity


def test_conv_config_has_keras_constraint_keys_and_round_trips():
    for cls in (L.Dense, L.Conv2D):
        args = (3,) if cls is L.Dense else (3, 3)
        config = cls(*args, kernel_constraint="max_norm").get_config()
        ref = (keras.layers.Dense(3) if cls is L.Dense else keras.layers.Conv2D(3, 3)).get_config()
        assert {"kernel_constraint", "bias_constraint"} <= set(config) and {
            "kernel_constraint",
            "bias_constraint",
        } <= set(ref)
        assert config["bias_constraint"] is None
        assert config["kernel_constraint"]["class_name"] == "MaxNorm"
        assert cls.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("name", "kwargs", "error"),
    [
        ("SeparableConv2D", {"filters": 0, "kernel_size": 3}, ValueError),
        ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 0}, ValueError),
        ("Conv2DTranspose", {"filters": -1, "kernel_size": 3}, ValueError),
        ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "full"}, ValueError),
        ("SpatialDropout2D", {"rate": 1.5}, ValueError),
    ],
)
def test_bad_arguments_raise_the_same_error_type_as_keras(name, kwargs, error):
    with pytest.raises(error):
        getattr(keras.layers, name)(**kwargs)
    with pytest.raises(error):
        getattr(L, name)(**kwargs)


def test_group_normalization_bad_groups_raise_like_keras():
    for layer in (keras.layers.GroupNormalization(groups=4), L.GroupNormalization(groups=4)):
        with pytest.raises(ValueError, match="must be a multiple of the number of channels"):
            layer.build((None, 5, 6))


def _residual(lib, with_lambda=False):
    """A functional residual model with the issue's layers, written once for both libraries."""
    layers = lib.layers
    inputs = lib.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    y = layers.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    y = layers.LayerNormalization(name="ln")(y)
    y = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=1, name="dw")(y)
    y = layers.PReLU(shared_axes=[1, 2], name="prelu")(y)
    x = layers.add([x, y], name="res")
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="up")(x)
    x = layers.GroupNormalization(groups=2, name="gn")(x)
    x = layers.ELU(name="elu")(x)
    x = layers.Reshape((32 * 32, 4), name="seq")(x)
    x = layers.Conv1D(6, 3, strides=2, name="c1")(x)
    x = layers.concatenate(
        [layers.GlobalAveragePooling1D(name="gap")(x), layers.GlobalMaxPooling1D(name="gmp")(x)], name="cat"
    )
    return lib.Model(inputs, layers.Dense(3, name="head")(x))


def test_a_keras_weights_file_of_the_new_layers_loads_one_to_one(tmp_path):
    import cnnkit

    ref, ours = _residual(keras), _residual(cnnkit)
    for w in ref.weights:  # non-default values everywhere, so a mix-up shows
        w.assign(np.random.default_rng(len(w.path)).normal(size=tuple(w.shape)).astype("float32") * 0.3)
    path = tmp_path / "m.weights.h5"
    ref.save_weights(path)
    ours.load_weights(str(path))
    assert ours.count_params() == ref.count_params()
    assert [w.path for w in ours.weights] == [w.path for w in ref.weights]
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(ref(x))
    np.testing.assert_allclose(ours(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
