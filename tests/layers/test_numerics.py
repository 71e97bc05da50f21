"""Layer math against torch.nn with copied weights, and TensorFlow's `same` padding against a NumPy reference."""

import numpy as np
import pytest
import torch

from cnnkit import layers as L

# Same float32 kernels on both sides up to layout: differences are summation-order rounding (~1e-7 relative).
TOL = {"rtol": 1e-5, "atol": 1e-6}


def test_conv2d_matches_torch_conv_and_stays_channels_last():
    x = torch.randn(2, 11, 10, 5)
    conv = L.Conv2D(7, (3, 2), strides=(2, 1), dilation_rate=1, padding="valid")
    out = conv(x)
    ref = torch.nn.Conv2d(5, 7, (3, 2), stride=(2, 1))
    with torch.no_grad():
        ref.weight.copy_(conv.kernel)
        ref.bias.copy_(conv.bias)
    expected = ref(x.permute(0, 3, 1, 2).contiguous()).permute(0, 2, 3, 1)
    torch.testing.assert_close(out, expected, **TOL)
    # The output is a contiguous channels-last tensor: NCHW view in channels_last memory, no copy at the boundary.
    assert out.is_contiguous()
    assert conv.kernel.is_contiguous(memory_format=torch.channels_last)


def test_conv2d_keras_layout_round_trip():
    conv = L.Conv2D(4, (3, 2))
    conv.build((None, 8, 8, 3))
    kernel, bias = conv.get_weights()
    assert kernel.shape == (3, 2, 3, 4)
    np.testing.assert_array_equal(kernel.transpose(3, 2, 0, 1), conv.kernel.detach().numpy())


def _tf_same_pool(x, k, s, mode):
    """TensorFlow's SAME pooling, written out: pad (extra at the end), ignore padded positions."""
    n, h, w, c = x.shape
    oh, ow = -(-h // s), -(-w // s)
    pad_h = max(0, (oh - 1) * s + k - h)
    pad_w = max(0, (ow - 1) * s + k - w)
    top, left = pad_h // 2, pad_w // 2
    out = np.zeros((n, oh, ow, c), dtype=np.float64)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - top, j * s - left
            window = x[:, max(r0, 0) : min(r0 + k, h), max(c0, 0) : min(c0 + k, w), :]
            out[:, i, j] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("k,s,size", [(2, 2, 7), (3, 2, 8), (2, 1, 5), (3, 1, 6), (3, 3, 10)])
@pytest.mark.parametrize("cls,mode", [(L.MaxPooling2D, "max"), (L.AveragePooling2D, "avg")])
def test_same_pooling_matches_tensorflow_semantics(k, s, size, cls, mode):
    x = np.random.default_rng(0).normal(size=(2, size, size + 1, 3)).astype("float32")
    out = cls(pool_size=k, strides=s, padding="same")(x).numpy()
    np.testing.assert_allclose(out, _tf_same_pool(x.astype(np.float64), k, s, mode), rtol=1e-6, atol=1e-6)


def test_dense_matches_torch_linear():
    x = torch.randn(4, 9)
    dense = L.Dense(6, activation="tanh")
    out = dense(x)
    ref = torch.nn.Linear(9, 6)
    with torch.no_grad():
        ref.weight.copy_(dense.kernel.T)
        ref.bias.copy_(dense.bias)
    torch.testing.assert_close(out, torch.tanh(ref(x)), **TOL)


def test_batchnorm_training_updates_moving_stats_like_keras():
    x = torch.randn(8, 4, 4, 3) * 3 + 1
    bn = L.BatchNormalization(momentum=0.9)
    out = bn(x, training=True)
    mean = x.mean(dim=(0, 1, 2))
    var = x.var(dim=(0, 1, 2), unbiased=False)  # Keras updates with the biased batch variance
    torch.testing.assert_close(out, (x - mean) / torch.sqrt(var + 1e-3), **TOL)
    torch.testing.assert_close(bn.moving_mean, 0.1 * mean, **TOL)
    torch.testing.assert_close(bn.moving_variance, 0.9 + 0.1 * var, **TOL)
    # Inference uses the moving statistics.
    expected = (x - bn.moving_mean) / torch.sqrt(bn.moving_variance + 1e-3)
    torch.testing.assert_close(bn(x), expected, **TOL)


def test_frozen_batchnorm_runs_in_inference_mode_and_keeps_its_statistics():
    x = torch.randn(8, 4, 4, 3) * 3 + 1
    bn = L.BatchNormalization()
    bn.build((None, 4, 4, 3))
    bn.trainable = False
    before = bn.moving_mean.clone(), bn.moving_variance.clone()
    out = bn(x, training=True)
    torch.testing.assert_close(out, x / torch.sqrt(torch.tensor(1.0 + 1e-3)), **TOL)
    assert torch.equal(bn.moving_mean, before[0]) and torch.equal(bn.moving_variance, before[1])
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    assert not bn.gamma.requires_grad
    bn.trainable = True
    bn(x, training=True)
    assert not torch.equal(bn.moving_mean, before[0]) and bn.gamma.requires_grad


def test_dropout_is_identity_at_inference_and_scales_in_training():
    x = torch.ones(1000, 10)
    drop = L.Dropout(0.25)
    assert torch.equal(drop(x), x)
    y = drop(x, training=True)
    kept = y != 0
    assert 0.7 < kept.float().mean() < 0.8
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.75))


@pytest.mark.parametrize(
    "name",
    [
        "relu",
        "sigmoid",
        "tanh",
        "softmax",
        "elu",
        "selu",
        "gelu",
        "swish",
        "softplus",
        "hard_sigmoid",
        "hard_silu",
        "hard_swish",
        "leaky_relu",
        "relu6",
        "linear",
        "exponential",
        "mish",
        "softsign",
    ],
)
def test_activations_match_keras(name):
    keras = pytest.importorskip("keras")
    x = np.linspace(-4, 4, 24, dtype="float32").reshape(3, 8)
    ours = L.Activation(name)(x).numpy()
    theirs = keras.ops.convert_to_numpy(keras.layers.Activation(name)(x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"max_value": 6.0}, {"max_value": 2.5}, {"max_value": 0.0}, {"negative_slope": 0.1, "max_value": 3.0},
     {"threshold": 1.0}, {"threshold": 0.5, "negative_slope": 0.2}, {"negative_slope": 0.3}],
)  # fmt: skip
def test_relu_layer_matches_keras(kwargs):
    # ReLU(max_value) runs as one hardtanh; Keras' torch backend clips in two steps: equal to the bit.
    keras = pytest.importorskip("keras")
    x = np.concatenate([np.linspace(-8, 8, 61, dtype="float32"), np.float32([np.inf, -np.inf, 6.0, 0.0])])[None]
    ours = L.ReLU(**kwargs)(x).numpy()
    theirs = keras.ops.convert_to_numpy(keras.layers.ReLU(**kwargs)(x))
    np.testing.assert_array_equal(ours, theirs)


def test_initializers_follow_keras_fans_and_distributions():
    from cnnkit import initializers

    torch.manual_seed(0)
    glorot = initializers.get("glorot_uniform")((3, 3, 64, 128))
    limit = np.sqrt(6 / (9 * 64 + 9 * 128))
    assert glorot.abs().max() <= limit and glorot.abs().max() > 0.99 * limit
    he = initializers.get("he_normal")((3, 3, 64, 128))
    # Truncated at two standard deviations of the scaled (untruncated) normal; overall std = sqrt(2 / fan_in).
    assert abs(he.std().item() - np.sqrt(2 / (9 * 64))) / np.sqrt(2 / (9 * 64)) < 0.02
    assert he.abs().max() <= 2 * np.sqrt(2 / (9 * 64)) / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize(
    "padding,strides,activation",
    [("valid", 1, "relu"), ("same", 1, "relu"), ("same", 2, "relu"), ("same", 1, "relu6"), ("valid", 2, "swish"),
     ("same", 1, "hard_swish"), ("same", 1, "hard_sigmoid")],
)  # fmt: skip
def test_fused_inference_convolution_matches_the_two_steps(padding, strides, activation, monkeypatch):
    from cnnkit.layers import conv as conv_module
    from cnnkit.layers import conv_utils

    decisions = []

    def spy(x):
        decisions.append(can_fuse(x))
        return decisions[-1]

    can_fuse = conv_module.can_fuse
    monkeypatch.setattr(conv_module, "can_fuse", spy)
    conv = L.Conv2D(8, 3, strides=strides, padding=padding, activation=activation)
    x = torch.randn(4, 9, 10, 3) * 3
    with torch.no_grad():
        fused = conv(x)
    if conv_utils._FUSED_AVAILABLE:
        assert decisions == [True]  # the fused oneDNN kernel really ran
    unfused = conv(x).detach()  # autograd on: the plain conv2d + activation path
    if activation in ("relu", "relu6"):  # max/min post-ops: bit-identical
        assert torch.equal(fused, unfused)
    else:  # oneDNN's own exp/division: a few float32 ulps of the output's scale
        torch.testing.assert_close(fused, unfused, rtol=1e-6, atol=1e-6 * unfused.abs().max().item())
