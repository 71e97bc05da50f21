"""Every built-in layer through the shared harness: build, forward, backward, config and save/load round trips."""

import pytest

from cnnkit import layers as L
from support.layer_harness import run_layer_test, save_load_roundtrip

CASES = [
    (L.Conv2D, {"filters": 4, "kernel_size": 3}, (2, 9, 9, 3), (2, 7, 7, 4)),
    (
        L.Conv2D,
        {"filters": 4, "kernel_size": (3, 2), "strides": 2, "padding": "same", "activation": "relu"},
        (2, 9, 8, 3),
        (2, 5, 4, 4),
    ),
    (
        L.Conv2D,
        {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "use_bias": False, "kernel_regularizer": "l2"},
        (2, 9, 9, 2),
        (2, 5, 5, 4),
    ),
    (
        L.Conv2D,
        {"filters": 4, "kernel_size": 3, "groups": 2, "data_format": "channels_first"},
        (2, 4, 6, 6),
        (2, 4, 4, 4),
    ),
    (L.Dense, {"units": 5, "activation": "softmax"}, (3, 7), (3, 5)),
    (L.Dense, {"units": 5, "use_bias": False}, (3, 2, 7), (3, 2, 5)),
    (L.MaxPooling2D, {"pool_size": 2}, (2, 7, 7, 3), (2, 3, 3, 3)),
    (L.MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 8, 3), (2, 4, 4, 3)),
    (L.AveragePooling2D, {"pool_size": 2, "padding": "same"}, (2, 7, 7, 3), (2, 4, 4, 3)),
    (L.GlobalAveragePooling2D, {}, (2, 5, 5, 3), (2, 3)),
    (L.GlobalMaxPooling2D, {"keepdims": True}, (2, 5, 5, 3), (2, 1, 1, 3)),
    (L.Flatten, {}, (2, 3, 4, 5), (2, 60)),
    (L.Dropout, {"rate": 0.5}, (2, 6), (2, 6)),
    (L.BatchNormalization, {}, (4, 5, 5, 3), (4, 5, 5, 3)),
    (L.BatchNormalization, {"axis": 1, "center": False}, (4, 3, 5), (4, 3, 5)),
    (L.Activation, {"activation": "tanh"}, (2, 4), (2, 4)),
    (L.ReLU, {"max_value": 6.0}, (2, 4), (2, 4)),
    (L.LeakyReLU, {}, (2, 4), (2, 4)),
    (L.Softmax, {}, (2, 4), (2, 4)),
    (L.ZeroPadding2D, {"padding": ((1, 2), (0, 1))}, (2, 4, 4, 3), (2, 7, 5, 3)),
    (L.Cropping2D, {"cropping": 1}, (2, 6, 6, 3), (2, 4, 4, 3)),
    (L.UpSampling2D, {"size": 2}, (2, 3, 3, 2), (2, 6, 6, 2)),
    (L.Reshape, {"target_shape": (3, -1)}, (2, 6, 2), (2, 3, 4)),
    (L.Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
    (L.Rescaling, {"scale": 1 / 255, "offset": -0.5}, (2, 4, 4, 3), (2, 4, 4, 3)),
    (L.Add, {}, [(2, 4, 4, 3), (2, 4, 4, 3)], (2, 4, 4, 3)),
    (L.Subtract, {}, [(2, 5), (2, 5)], (2, 5)),
    (L.Multiply, {}, [(2, 5), (2, 5), (2, 5)], (2, 5)),
    (L.Average, {}, [(2, 5), (2, 5)], (2, 5)),
    (L.Maximum, {}, [(2, 5), (2, 5)], (2, 5)),
    (L.Minimum, {}, [(2, 5), (2, 5)], (2, 5)),
    (L.Concatenate, {}, [(2, 4, 4, 3), (2, 4, 4, 2)], (2, 4, 4, 5)),
    (L.Concatenate, {"axis": 1}, [(2, 3), (2, 4)], (2, 7)),
    # issue 11
    (L.SeparableConv2D, {"filters": 4, "kernel_size": 3}, (2, 7, 7, 3), (2, 5, 5, 4)),
    (
        L.SeparableConv2D,
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 2},
        (2, 8, 7, 3),
        (2, 4, 4, 4),
    ),
    (L.DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2}, (2, 6, 6, 3), (2, 4, 4, 6)),
    (L.DepthwiseConv2D, {"kernel_size": (3, 2), "strides": 2, "padding": "same"}, (2, 7, 6, 3), (2, 4, 3, 3)),
    (L.Conv2DTranspose, {"filters": 4, "kernel_size": 3}, (2, 5, 5, 3), (2, 7, 7, 4)),
    (L.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 4, 5, 3), (2, 8, 10, 2)),
    (L.Conv2DTranspose, {"filters": 2, "kernel_size": 2, "strides": 3}, (2, 3, 3, 1), (2, 9, 9, 2)),
    (L.Conv1D, {"filters": 4, "kernel_size": 3}, (2, 9, 3), (2, 7, 4)),
    (L.Conv1D, {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 9, 3), (2, 9, 4)),
    (L.Conv1D, {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 9, 3), (2, 5, 4)),
    (L.GlobalAveragePooling1D, {}, (2, 5, 3), (2, 3)),
    (L.GlobalMaxPooling1D, {"keepdims": True}, (2, 5, 3), (2, 1, 3)),
    (L.LayerNormalization, {}, (2, 5, 4), (2, 5, 4)),
    (L.LayerNormalization, {"axis": [1, 2], "center": False}, (2, 3, 4), (2, 3, 4)),
    (L.GroupNormalization, {"groups": 2}, (2, 4, 4, 6), (2, 4, 4, 6)),
    (L.SpatialDropout2D, {"rate": 0.3}, (2, 4, 4, 3), (2, 4, 4, 3)),
    (L.PReLU, {}, (2, 5, 3), (2, 5, 3)),
    (L.PReLU, {"shared_axes": [1, 2], "alpha_initializer": "ones"}, (2, 4, 4, 3), (2, 4, 4, 3)),
    (L.ELU, {"alpha": 0.5}, (2, 4), (2, 4)),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_shape", "output_shape"), CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_layer_contract(cls, kwargs, input_shape, output_shape, tmp_path):
    layer, model, call_input, inference = run_layer_test(cls, kwargs, input_shape, output_shape)
    save_load_roundtrip(model, call_input, inference, tmp_path / "model.cnnkit")
