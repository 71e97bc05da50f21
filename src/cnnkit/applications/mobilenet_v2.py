"""Keras' MobileNetV2 (``keras.applications.mobilenet_v2``; Sandler et al. 2018, arXiv:1801.04381).

Keras' layer names (``Conv1``, ``bn_Conv1``, ``expanded_conv_depthwise``, ``block_1_expand`` ... ``Conv_1``,
``out_relu``, ``predictions``) and ``alpha`` (width). Weights: ``'torchvision'`` is torchvision's file
(``mobilenet_v2-b0353104.pth``), converted by ``from_torchvision``. torchvision builds the same network except for
two details the converter cannot change: its BatchNorm epsilon is 1e-5 (Keras' 1e-3; the converter moves the
difference into the moving variance, exactly), and its stride-2 convs pad one pixel on every side where Keras pads
TensorFlow's way (only bottom/right on an even side). So the converted model gives torchvision's logits exactly
at odd input sizes (e.g. 225x225) and a half-pixel-shifted version of them at even sizes (224x224: not measured on
ImageNet here). Keras' own ImageNet files (``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`` ...)
load by layer name from a path; they are not in the table because Keras publishes no hash for them.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.MobileNetV2(include_top=False, input_shape=(32, 32, 3))
    >>> base.get_layer("out_relu").name
    'out_relu'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications._mobile import correct_pad, finish, make_divisible, shift_variance
from cnnkit.applications.convert import torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import torchvision_entry
from cnnkit.layers import (
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    ReLU,
    ZeroPadding2D,
)

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions", "from_torchvision", "WEIGHTS"]

NUM_PARAMS, TRAINABLE = 3_538_984, 3_504_872  # keras.applications count_params(), trainable (= torchvision's)
EPSILON, TV_EPSILON = 1e-3, 1e-5
# (expansion, filters, repeats, first stride) of the 17 inverted residual blocks (Table 2 of the paper).
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
WEIGHTS = {
    "torchvision": torchvision_entry(
        "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
        TRAINABLE,
        71.878,
        90.286,
        "https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv2",
    ),  # fmt: skip
}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'tf' preprocessing, as ``keras.applications.mobilenet_v2`` (Keras' files): pixels from 0..255 to [-1, 1].
    torchvision's weights expect 'torch' preprocessing instead (``imagenet_utils.preprocess_input(x, mode='torch')``).
    """
    return _preprocess(x, data_format=data_format, mode="tf")


def _bn(name: str) -> BatchNormalization:
    return BatchNormalization(epsilon=EPSILON, momentum=0.999, name=name)


def _inverted_res_block(inputs: Any, expansion: int, stride: int, alpha: float, filters: int, block_id: int) -> Any:
    in_channels = inputs.shape[-1]
    pointwise = make_divisible(int(filters * alpha), 8)
    x, prefix = inputs, f"block_{block_id}_"
    if block_id:
        x = Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand")(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = ZeroPadding2D(correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = DepthwiseConv2D(3, strides=stride, use_bias=False, padding="same" if stride == 1 else "valid",
                        name=f"{prefix}depthwise")(x)  # fmt: skip
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = Conv2D(pointwise, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == pointwise and stride == 1:
        return Add(name=f"{prefix}add")([inputs, x])
    return x


_TV_NAME = [  # torchvision module path (dots as '_') -> Keras layer name
    (r"features_0_0", "Conv1"),
    (r"features_0_1", "bn_Conv1"),
    (r"features_1_conv_0_0", "expanded_conv_depthwise"),
    (r"features_1_conv_0_1", "expanded_conv_depthwise_BN"),
    (r"features_1_conv_1", "expanded_conv_project"),
    (r"features_1_conv_2", "expanded_conv_project_BN"),
    (r"features_(\d+)_conv_0_0", lambda m: f"block_{int(m[1]) - 1}_expand"),
    (r"features_(\d+)_conv_0_1", lambda m: f"block_{int(m[1]) - 1}_expand_BN"),
    (r"features_(\d+)_conv_1_0", lambda m: f"block_{int(m[1]) - 1}_depthwise"),
    (r"features_(\d+)_conv_1_1", lambda m: f"block_{int(m[1]) - 1}_depthwise_BN"),
    (r"features_(\d+)_conv_2", lambda m: f"block_{int(m[1]) - 1}_project"),
    (r"features_(\d+)_conv_3", lambda m: f"block_{int(m[1]) - 1}_project_BN"),
    (r"features_18_0", "Conv_1"),
    (r"features_18_1", "Conv_1_bn"),
    (r"classifier_1", "predictions"),
]


def rename(layer: str, table: list) -> str:
    """The first pattern of `table` matching the whole of `layer` gives its Keras name (else `layer` unchanged, so
    assign_weights reports it as unexpected)."""
    for pattern, repl in table:
        if re.fullmatch(pattern, layer):
            return re.sub(pattern, repl, layer)
    return layer


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ``mobilenet_v2`` state dict -> Keras-named cnnkit keys (a pure function).

    ``features.{i}`` is Keras' ``block_{i-1}`` (torchvision counts the stem as feature 0); depthwise kernels
    ``(C, 1, kh, kw)`` are already cnnkit's stored depthwise layout; BatchNorm epsilon 1e-5 -> 1e-3 through the
    moving variance (``shift_variance``), so ``var + eps`` is torchvision's number.
    """
    out = {}
    for key, value in torchvision_to_cnnkit(state).items():
        layer, weight = key.split(".", 1)
        out[f"{rename(layer, _TV_NAME)}.{weight}"] = value
    return shift_variance(out, TV_EPSILON, EPSILON)


@register_model("MobileNetV2", family="mobilenet_v2", num_params=TRAINABLE, keras_params=NUM_PARAMS,
                torchvision_params=TRAINABLE, weights=WEIGHTS,
                num_params_source="keras.applications trainable weights = torchvision num_params")  # fmt: skip
def MobileNetV2(
    input_shape: tuple[int, int, int] | None = None,
    alpha: float = 1.0,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str | None = None,
) -> Any:
    """Builds Keras' MobileNetV2 (3,538,984 parameters with alpha=1 as Keras counts them; 3,504,872 trainable).

    Args:
        input_shape: ``(height, width, 3)``, default 224x224x3; >= 32.
        alpha: Width multiplier (0.35, 0.5, 0.75, 1.0, 1.3 and 1.4 are Keras' published widths).
        include_top: Whether to include global average pooling and the ``predictions`` layer.
        weights: ``None``, ``'torchvision'`` (torchvision's file, converted; alpha=1 only) or the path to a Keras
            ``.h5``/``.weights.h5``, a torchvision ``.pth`` or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name; Keras' default ``mobilenetv2_{alpha:.2f}_{rows}`` with '_' for '.'.
    """
    if _builder.is_named(weights, WEIGHTS) and alpha != 1.0:
        raise ValueError(
            f"torchvision's MobileNetV2 weights have width 1.0. Expected alpha=1.0 with weights={weights!r}. "
            f"Received: alpha={alpha}. Pass alpha=1.0, or weights=None."
        )
    inputs = _builder.keras_input(weights, WEIGHTS, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 224, 32)  # fmt: skip
    x = Conv2D(make_divisible(32 * alpha, 8), 3, strides=2, padding="same", use_bias=False, name="Conv1")(inputs)
    x = _bn("bn_Conv1")(x)
    x = ReLU(6.0, name="Conv1_relu")(x)
    block_id = 0
    for expansion, filters, repeats, stride in STAGES:
        for i in range(repeats):
            x = _inverted_res_block(x, expansion, stride if i == 0 else 1, alpha, filters, block_id)
            block_id += 1
    last = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = ReLU(6.0, name="out_relu")(x)
    if include_top:  # Keras leaves the pooling layers of this family unnamed
        x = GlobalAveragePooling2D()(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D()(x)
    rows = inputs.shape[1] if inputs.shape[1] in (96, 128, 160, 192, 224) else 224
    name = name or f"mobilenetv2_{alpha:0.2f}_{rows}".replace(".", "_")  # cnnkit names hold no '.' (weight keys)
    return finish(inputs, x, name, weights, WEIGHTS, include_top, ("predictions",), from_torchvision)
