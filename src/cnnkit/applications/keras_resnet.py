"""Keras' ResNet50 (``keras.applications.ResNet50``), loadable from Keras' own files, exactly.

This is the paper's ResNet-50 "v1" as Keras ships it, a different variant from torchvision's (``resnet.py``):
the stride of a downsampling bottleneck is in its first 1x1 convolution (torchvision: in the 3x3), every conv has
a bias before its BatchNorm, BatchNorm epsilon is 1.001e-5 (momentum 0.99), and the weights expect "caffe"
preprocessing (BGR, mean subtracted, no scaling). The biases are redundant in front of BatchNorm, so cnnkit's
convs here have none and the converter folds each bias into the BN's moving mean (``mean - b``), which gives the
same outputs exactly (see ``convert.fold_bias_into_batchnorm``). Layer names are torchvision's, as in ``resnet.py``.
Parameters: 25,557,032 (= torchvision's count; Keras reports 25,636,712 = that + 26,560 conv biases + 53,120 BN
moving statistics).

Example:
    >>> import cnnkit, numpy as np
    >>> model = cnnkit.applications.KerasResNet50(weights="imagenet")  # Keras' .h5, md5-verified  # doctest: +SKIP
    >>> x = cnnkit.applications.keras_resnet.preprocess_input(np.zeros((1, 224, 224, 3)))  # caffe mode, as Keras'
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from cnnkit.applications import _builder
from cnnkit.applications.convert import fold_bias_into_batchnorm, keras_layer_arrays
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.resnet import conv_bn, stem
from cnnkit.applications.weights import WeightsEntry
from cnnkit.layers import Add, Dense, GlobalAveragePooling2D, ReLU
from cnnkit.models import Model

__all__ = ["KerasResNet50", "preprocess_input", "decode_predictions", "from_keras", "WEIGHTS"]

NUM_PARAMS = 25_557_032
WEIGHTS = {
    "imagenet": WeightsEntry(
        url="https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        sha256=None,  # Keras publishes only the md5 (keras/src/applications/resnet.py WEIGHTS_HASHES)
        md5="2cb95161c43110f7111970584f804107",
        layout="keras_h5",
        preprocessing="caffe",
        classes="imagenet",
        num_params=NUM_PARAMS,
        source="Keras applications; Kaiming He's original Caffe ResNet-50 converted to Keras",
        licence="MIT (KaimingHe/deep-residual-networks)",
    )
}
EPSILON, MOMENTUM = 1.001e-5, 0.99  # Keras' ResNet values


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'caffe' preprocessing as Keras' resnet50: RGB -> BGR and the ImageNet BGR mean subtracted."""
    return _preprocess(x, data_format=data_format, mode="caffe")


def keras_to_cnnkit_name(name: str) -> str | None:
    """Keras layer name -> cnnkit layer name: ``conv3_block2_1_conv`` -> ``layer2_1_conv1``, ``_0_`` is the
    projection shortcut (``downsample_0``/``_1``), ``conv1_conv``/``conv1_bn`` -> ``conv1``/``bn1``,
    ``predictions`` -> ``fc``."""
    fixed = {"conv1_conv": "conv1", "conv1_bn": "bn1", "predictions": "fc", "probs": "fc"}
    if name in fixed:
        return fixed[name]
    m = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", name)
    if m is None:
        return None
    stage, block, index, kind = int(m[1]) - 1, int(m[2]) - 1, int(m[3]), m[4]
    prefix = f"layer{stage}_{block}"
    if index == 0:
        return f"{prefix}_downsample_{0 if kind == 'conv' else 1}"
    return f"{prefix}_{kind}{index}"


def _bn_of(conv: str) -> str:
    if conv == "conv1":
        return "bn1"
    if conv.endswith("_downsample_0"):
        return conv[:-1] + "1"
    return re.sub(r"_conv(\d)$", r"_bn\1", conv)


def keras_layer_order() -> list[str]:
    """Keras ResNet50's layers with weights in its model order (``model.layers``, topological by depth): in a
    stack's first block the shortcut conv comes after the 2nd conv and its BN after the 3rd conv."""
    names = ["conv1_conv", "conv1_bn"]
    for stage, blocks in zip(range(2, 6), (3, 4, 6, 3), strict=True):
        for b in range(1, blocks + 1):
            p = f"conv{stage}_block{b}"
            if b == 1:
                names += [f"{p}_1_conv", f"{p}_1_bn", f"{p}_2_conv", f"{p}_2_bn", f"{p}_0_conv", f"{p}_3_conv"]
                names += [f"{p}_0_bn", f"{p}_3_bn"]
            else:
                names += [f"{p}_{i}_{k}" for i in (1, 2, 3) for k in ("conv", "bn")]
    return names + ["predictions"]


def from_keras(layers: OrderedDict[str, list[np.ndarray]]) -> dict[str, torch.Tensor]:
    """Keras ResNet50 layers -> cnnkit keys, conv biases folded into BN. Keras' own layer names are matched by
    name (a Keras 3 .weights.h5 lists layers alphabetically); other names by position in Keras' model order, as
    Keras loads a legacy .h5 (shapes are still checked before anything is copied)."""
    if any(keras_to_cnnkit_name(n) is None for n in layers):
        order = keras_layer_order()
        if len(layers) not in (len(order), len(order) - 1):  # with or without the top
            raise ValueError(
                "The Keras file does not hold a keras.applications.ResNet50. Expected 107 layers with weights "
                f"(106 without the top) or Keras' layer names ('conv1_conv', ...). Received: {len(layers)} layers "
                f"({', '.join(list(layers)[:3])}, ...). Save the model built by keras.applications.ResNet50."
            )
        layers = OrderedDict(zip(order, layers.values(), strict=False))
    out: dict[str, torch.Tensor] = {}
    biases: dict[str, torch.Tensor] = {}
    for keras_name, arrays in layers.items():
        name = keras_to_cnnkit_name(keras_name)
        kind = "dense" if name == "fc" else ("bn" if keras_name.endswith("_bn") else "conv")
        converted = keras_layer_arrays(kind, arrays)
        if kind == "conv" and "bias" in converted:
            biases[_bn_of(name)] = converted.pop("bias")
        out.update({f"{name}.{k}": v for k, v in converted.items()})
    for bn, bias in biases.items():
        key = f"{bn}.moving_mean"
        if key in out:
            out[key] = fold_bias_into_batchnorm(bias, out[key])
    return out


@register_model(
    "KerasResNet50", family="keras_resnet", num_params=NUM_PARAMS,
    num_params_source="keras.applications.ResNet50 trainable count (25,583,592) minus its 26,560 conv biases",
    weights=WEIGHTS,
)  # fmt: skip
def KerasResNet50(  # noqa: N802 - Keras-style builder name
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "resnet50",
) -> Any:
    """Builds Keras' ResNet50 variant (stride in the first 1x1 conv; see the module docstring).

    Args:
        include_top: Whether to include global average pooling and the ``fc`` classifier.
        weights: ``None``, ``'imagenet'`` (Keras' file) or a path to a Keras ``.h5``/``.weights.h5`` saved from
            ``keras.applications.ResNet50``, or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 224x224x3; at least 32x32.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``fc`` (Keras' default softmax).
        name: Model name.
    """
    _builder.check_arguments(weights, WEIGHTS, include_top, classes, pooling)
    _builder.check_classifier_activation(classifier_activation, weights)
    inputs = _builder.make_input(input_shape, input_tensor, (224, 224, 3), 32, require_default=False)
    x = stem(inputs, epsilon=EPSILON, momentum=MOMENTUM)
    bn = {"epsilon": EPSILON, "momentum": MOMENTUM}
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True), start=1):
        for i in range(count):
            strides, n = (2 if (i == 0 and stage > 1) else 1), f"layer{stage}_{i}"
            y = conv_bn(x, planes, 1, strides, f"{n}_conv1", f"{n}_bn1", relu=f"{n}_relu1", **bn)
            y = conv_bn(y, planes, 3, 1, f"{n}_conv2", f"{n}_bn2", relu=f"{n}_relu2", **bn)
            y = conv_bn(y, planes * 4, 1, 1, f"{n}_conv3", f"{n}_bn3", **bn)
            if i == 0:
                x = conv_bn(x, planes * 4, 1, strides, f"{n}_downsample_0", f"{n}_downsample_1", **bn)
            x = ReLU(name=f"{n}_relu")(Add(name=f"{n}_add")([y, x]))
    if include_top:
        x = GlobalAveragePooling2D(name="avgpool")(x)
        x = Dense(classes, activation=classifier_activation, name="fc")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model,
        weights,
        WEIGHTS,
        include_top=include_top,
        top_layers=("fc",),
        from_torchvision=None,
        from_keras=from_keras,
    )
    return model
