"""cnnkit.ops against keras.ops (KERAS_BACKEND=torch): values within 1e-5, Keras' dtypes, NumPy and scalar inputs."""

import numpy as np
import pytest
import torch

from cnnkit import ops

keras = pytest.importorskip("keras")
kops = keras.ops

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype("float32")
B = RNG.normal(size=(3, 4)).astype("float32")
M = RNG.normal(size=(4, 5)).astype("float32")
P = np.abs(A) + 0.1
I32 = np.array([[3, 1, 2], [0, 5, 4]], dtype="int32")
I64 = np.arange(6)
U8 = np.array([1, 200, 255], dtype="uint8")
LABELS = np.array([0, 2, 1, -1, 3])
IMG = RNG.normal(size=(2, 9, 8, 3)).astype("float32")
K2 = RNG.normal(size=(3, 3, 3, 4)).astype("float32")
DW = RNG.normal(size=(3, 3, 3, 2)).astype("float32")
PW = RNG.normal(size=(1, 1, 6, 4)).astype("float32")
KT = RNG.normal(size=(3, 3, 4, 3)).astype("float32")
K1 = RNG.normal(size=(3, 3, 5)).astype("float32")
SEQ = RNG.normal(size=(2, 10, 3)).astype("float32")

CASES = {
    "argmax": lambda o: o.argmax(A, axis=1),
    "argmax_flat": lambda o: o.argmax(A),
    "argmin": lambda o: o.argmin(A, axis=0),
    "cast": lambda o: o.cast(A, "int32"),
    "cast_f16": lambda o: o.cast(I64, "float16"),
    "convert_int": lambda o: o.convert_to_tensor(3),
    "convert_list": lambda o: o.convert_to_tensor([1.5, 2.0]),
    "convert_int_list": lambda o: o.convert_to_tensor([[1, 2], [3, 4]]),
    "convert_np64": lambda o: o.convert_to_tensor(np.zeros(2)),
    "exp": lambda o: o.exp(A),
    "exp_int": lambda o: o.exp(I32),
    "log": lambda o: o.log(P),
    "sqrt": lambda o: o.sqrt(P),
    "sqrt_int": lambda o: o.sqrt(I32),
    "square": lambda o: o.square(A),
    "square_int": lambda o: o.square(I32),
    "abs": lambda o: o.abs(A),
    "expand_dims": lambda o: o.expand_dims(A, -1),
    "expand_dims_0": lambda o: o.expand_dims(A, 0),
    "squeeze": lambda o: o.squeeze(A[None, :, None]),
    "squeeze_axis": lambda o: o.squeeze(A[None], axis=0),
    "matmul": lambda o: o.matmul(A, M),
    "matmul_int": lambda o: o.matmul(I32, I32.T),
    "mean": lambda o: o.mean(A, axis=0),
    "mean_all": lambda o: o.mean(A),
    "mean_int": lambda o: o.mean(I32),
    "mean_keepdims": lambda o: o.mean(A, axis=(0, 1), keepdims=True),
    "sum": lambda o: o.sum(A, axis=-1),
    "sum_int": lambda o: o.sum(I32, axis=1),
    "sum_u8": lambda o: o.sum(U8),
    "max": lambda o: o.max(A, axis=1),
    "max_all": lambda o: o.max(I32),
    "min": lambda o: o.min(A, axis=0, keepdims=True),
    "multiply": lambda o: o.multiply(A, B),
    "multiply_scalar": lambda o: o.multiply(I32, 2),
    "add": lambda o: o.add(A, B),
    "add_int_float": lambda o: o.add(I32, 1.5),
    "add_int_int": lambda o: o.add(I32, 1),
    "subtract": lambda o: o.subtract(A, 1.0),
    "divide": lambda o: o.divide(A, B),
    "divide_int": lambda o: o.divide(I32, 2),
    "one_hot": lambda o: o.one_hot(LABELS, 4),
    "one_hot_axis": lambda o: o.one_hot(LABELS[:3], 3, axis=0),
    "ones": lambda o: o.ones((2, 3)),
    "ones_int": lambda o: o.ones((2,), dtype="int32"),
    "zeros": lambda o: o.zeros((2, 3)),
    "ones_like": lambda o: o.ones_like(I32),
    "zeros_like": lambda o: o.zeros_like(A),
    "reshape": lambda o: o.reshape(A, (2, -1)),
    "transpose": lambda o: o.transpose(A),
    "transpose_axes": lambda o: o.transpose(IMG, (0, 3, 1, 2)),
    "concatenate": lambda o: o.concatenate([A, B], axis=1),
    "stack": lambda o: o.stack([A, B], axis=1),
    "clip": lambda o: o.clip(A, -0.5, 0.5),
    "clip_int": lambda o: o.clip(I32, 1, 3),
    "where": lambda o: o.where(A > 0, A, B),
    "where_scalars": lambda o: o.where(A > 0, 1, 0.5),
    "maximum": lambda o: o.maximum(A, 0.0),
    "minimum": lambda o: o.minimum(A, B),
    "arange": lambda o: o.arange(5),
    "arange_float": lambda o: o.arange(0, 1, 0.25),
    "arange_start": lambda o: o.arange(2, 9, 3),
    "take": lambda o: o.take(A, np.array([2, 0]), axis=1),
    "take_flat": lambda o: o.take(A, np.array([1, 5])),
    "take_along_axis": lambda o: o.take_along_axis(A, np.argsort(A, axis=1), axis=1),
    "std": lambda o: o.std(A, axis=0),
    "var": lambda o: o.var(A),
    "prod": lambda o: o.prod(P, axis=1),
    "cumsum": lambda o: o.cumsum(A, axis=1),
    "sort": lambda o: o.sort(A),
    "argsort": lambda o: o.argsort(A, axis=0),
    "tile": lambda o: o.tile(A, (2, 1)),
    "repeat": lambda o: o.repeat(A, 2, axis=0),
    "flip": lambda o: o.flip(A, axis=1),
    "pad": lambda o: o.pad(A, ((1, 0), (2, 1))),
    "einsum": lambda o: o.einsum("ij,jk->ik", A, M),
    "tensordot": lambda o: o.tensordot(A, M, axes=1),
    "linspace": lambda o: o.linspace(0, 1, 5),
    "eye": lambda o: o.eye(3, 4, k=1),
    "equal": lambda o: o.equal(I32, 2),
    "logical_and": lambda o: o.logical_and(A > 0, B > 0),
    "floor": lambda o: o.floor(A),
    "round": lambda o: o.round(A * 10),
    "power": lambda o: o.power(P, 2),
    "tanh": lambda o: o.tanh(A),
    "sign": lambda o: o.sign(A),
    "relu": lambda o: o.relu(A),
    "relu_nn": lambda o: o.nn.relu(A),
    "sigmoid": lambda o: o.sigmoid(A),
    "softmax": lambda o: o.softmax(A),
    "softmax_axis0": lambda o: o.nn.softmax(A, axis=0),
    "log_softmax": lambda o: o.log_softmax(A),
    "gelu": lambda o: o.gelu(A),
    "gelu_exact": lambda o: o.gelu(A, approximate=False),
    "silu": lambda o: o.silu(A),
    "elu": lambda o: o.elu(A),
    "leaky_relu": lambda o: o.leaky_relu(A),
    "softplus": lambda o: o.softplus(A),
    "conv_valid": lambda o: o.conv(IMG, K2),
    "conv_same_strided": lambda o: o.conv(IMG, K2, strides=2, padding="same"),
    "conv_dilated": lambda o: o.conv(IMG, K2, dilation_rate=2),
    "conv1d": lambda o: o.conv(SEQ, K1, padding="same"),
    "depthwise_conv": lambda o: o.depthwise_conv(IMG, DW),
    "depthwise_conv_same": lambda o: o.depthwise_conv(IMG, DW, strides=2, padding="same"),
    "separable_conv": lambda o: o.separable_conv(IMG, DW, PW, padding="same"),
    "conv_transpose": lambda o: o.conv_transpose(IMG[..., :3], KT[..., :3], strides=2, padding="same"),
    "conv_transpose_valid": lambda o: o.conv_transpose(IMG, KT, strides=2),
    "max_pool": lambda o: o.max_pool(IMG, 2),
    "max_pool_same": lambda o: o.max_pool(IMG, 3, strides=2, padding="same"),
    "average_pool": lambda o: o.average_pool(IMG, 2, strides=1),
    "average_pool_same_even": lambda o: o.average_pool(IMG[:, :8], 2, padding="same"),
    "moments": lambda o: o.moments(A, axes=[1]),
    "moments_keepdims": lambda o: o.moments(IMG, axes=[0, 1, 2], keepdims=True),
    "normalize": lambda o: o.normalize(A),
    "categorical_crossentropy": lambda o: o.categorical_crossentropy(o.one_hot(np.array([1, 0, 3]), 4), P),
    "sparse_categorical_crossentropy": lambda o: o.sparse_categorical_crossentropy(np.array([1, 0, 3]), A, True),
    "binary_crossentropy": lambda o: o.binary_crossentropy((A > 0).astype("float32"), B, from_logits=True),
    "resize": lambda o: o.image.resize(IMG, (5, 4)),
    "resize_nearest": lambda o: o.image.resize(IMG, (12, 10), interpolation="nearest"),
    "resize_uint8": lambda o: o.image.resize((np.abs(IMG) * 60).astype("uint8"), (5, 4)),
    "rgb_to_grayscale": lambda o: o.image.rgb_to_grayscale(IMG),
    "affine_transform": lambda o: o.image.affine_transform(
        IMG, np.array([[1, 0.1, 0.5, 0, 1, -1, 0, 0]] * 2, "float32")
    ),
    "affine_nearest": lambda o: o.image.affine_transform(
        IMG, np.array([[0.9, 0, 0.3, 0.1, 1.1, 0, 0, 0]] * 2, "float32"), interpolation="nearest"
    ),
}
# A tuple output's parts are compared in turn; the conv/pool ops differ from Keras only by summation order.
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_keras(name):
    ours, ref = CASES[name](ops), CASES[name](kops)
    outs, refs = (ours, ref) if isinstance(ref, (tuple, list)) else ((ours,), (ref,))
    assert len(outs) == len(refs)
    for a, b in zip(outs, refs):
        assert isinstance(a, torch.Tensor), f"{name} returned {type(a).__name__}, not a tensor"
        assert a.dtype == b.dtype, f"{name}: dtype {a.dtype} vs Keras {b.dtype}"
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_numpy(a), kops.convert_to_numpy(b), **TOL)


def test_shape_is_a_tuple_and_convert_to_numpy_is_numpy():
    assert ops.shape(np.zeros((2, 3))) == kops.shape(np.zeros((2, 3))) == (2, 3)
    assert isinstance(ops.shape(torch.zeros(1, 2)), tuple)
    array = ops.convert_to_numpy(torch.ones(2, requires_grad=True))
    assert isinstance(array, np.ndarray) and array.tolist() == [1.0, 1.0]


def test_top_k_matches_keras():
    values, indices = ops.top_k(A, 2)
    ref_values, ref_indices = kops.top_k(A, 2)
    np.testing.assert_allclose(values.numpy(), kops.convert_to_numpy(ref_values))
    np.testing.assert_array_equal(indices.numpy(), kops.convert_to_numpy(ref_indices))


def test_ops_keep_gradients_and_work_on_layer_weights():
    from cnnkit import layers

    dense = layers.Dense(2)
    dense.build((None, 3))
    loss = ops.sum(ops.square(ops.matmul(ops.ones((1, 3)), dense.kernel)))
    loss.backward()
    assert dense.kernel.grad is not None
    assert ops.convert_to_numpy(dense.kernel).shape == (3, 2)


def test_where_needs_both_or_neither_branch():
    with pytest.raises(ValueError):
        kops.where(A > 0, A)
    with pytest.raises(ValueError, match="both should be `None`"):
        ops.where(A > 0, A)
    idx = ops.where(np.array([True, False, True]))
    assert [t.tolist() for t in idx] == [[0, 2]]
