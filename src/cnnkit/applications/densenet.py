"""Keras' DenseNet121/169/201 (``keras.applications.densenet``; Huang et al. 2017, arXiv:1608.06993).

Keras' layer names (``conv1_conv``, ``conv2_block1_0_bn`` ... ``pool2_conv``, ``bn``, ``relu``, ``predictions``).
Weights: ``'imagenet'`` is Keras' file ('torch' preprocessing, as Keras' ``densenet.preprocess_input``);
``'torchvision'`` is torchvision's file, converted on load by ``from_torchvision``: torchvision builds the same
network (its 7x7 conv pads 3 and its max pool 1 where Keras pads explicitly: the same map, since the pool follows a
ReLU so its zero padding never wins), so the converted model gives torchvision's logits.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.DenseNet121(include_top=False, input_shape=(32, 32, 3))
    >>> base.get_layer("conv5_block16_concat").name
    'conv5_block16_concat'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications.convert import torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import torchvision_entry
from cnnkit.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    MaxPooling2D,
    ZeroPadding2D,
)

__all__ = [
    "DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions", "from_torchvision",
    "WEIGHTS",
]  # fmt: skip

EPSILON = 1.001e-5  # Keras'; torchvision's is 1e-5 (the converter accounts for the difference)
TV_EPSILON = 1e-5
BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}
NUM_PARAMS = {121: 8_062_504, 169: 14_307_880, 201: 20_242_984}  # keras.applications count_params()
TRAINABLE = {121: 7_978_856, 169: 14_149_480, 201: 20_013_928}  # = torchvision's num_params
_MD5 = {  # keras/src/applications/densenet.py (with top, without)
    121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_ACC1 = {121: 75.0, 169: 76.2, 201: 77.3}  # keras.io/api/applications table
_TV = {  # torchvision weights tables (file, acc@1, acc@5)
    121: ("densenet121-a639ec97.pth", 74.434, 91.972),
    169: ("densenet169-b2777c0a.pth", 75.600, 92.806),
    201: ("densenet201-c1103571.pth", 76.896, 93.370),
}
_TV_RECIPE = "https://github.com/pytorch/vision/pull/116"


def _table(depth: int) -> dict:
    table = _builder.keras_weights(
        f"densenet/densenet{depth}_weights_tf_dim_ordering_tf_kernels", *_MD5[depth], preprocessing="torch",
        num_params=TRAINABLE[depth], acc1=_ACC1[depth],
        source="Keras applications; the authors' Torch DenseNet (liuzhuang13/DenseNet) converted to Keras",
        licence="BSD-3-Clause (liuzhuang13/DenseNet)",
    )  # fmt: skip
    file, acc1, acc5 = _TV[depth]
    table["torchvision"] = torchvision_entry("https://download.pytorch.org/models/" + file, TRAINABLE[depth], acc1,
                                             acc5, _TV_RECIPE)  # fmt: skip
    return table


WEIGHTS = {f"DenseNet{d}": _table(d) for d in BLOCKS}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'torch' preprocessing, as ``keras.applications.densenet``: /255, ImageNet mean and std."""
    return _preprocess(x, data_format=data_format, mode="torch")


_TV_NAME = [
    (r"features_conv0", "conv1_conv"),
    (r"features_norm0", "conv1_bn"),
    (r"features_denseblock(\d)_denselayer(\d+)_norm1", lambda m: f"conv{int(m[1]) + 1}_block{m[2]}_0_bn"),
    (r"features_denseblock(\d)_denselayer(\d+)_conv1", lambda m: f"conv{int(m[1]) + 1}_block{m[2]}_1_conv"),
    (r"features_denseblock(\d)_denselayer(\d+)_norm2", lambda m: f"conv{int(m[1]) + 1}_block{m[2]}_1_bn"),
    (r"features_denseblock(\d)_denselayer(\d+)_conv2", lambda m: f"conv{int(m[1]) + 1}_block{m[2]}_2_conv"),
    (r"features_transition(\d)_norm", lambda m: f"pool{int(m[1]) + 1}_bn"),
    (r"features_transition(\d)_conv", lambda m: f"pool{int(m[1]) + 1}_conv"),
    (r"features_norm5", "bn"),
    (r"classifier", "predictions"),
]


def _keras_name(layer: str) -> str:
    for pattern, repl in _TV_NAME:
        if re.fullmatch(pattern, layer):
            return re.sub(pattern, repl, layer)
    return layer  # an unknown key is reported by assign_weights as unexpected


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision DenseNet state dict -> Keras-named cnnkit keys (a pure function).

    Names map one to one (``features.denseblock1.denselayer1.norm1`` -> ``conv2_block1_0_bn``: Keras counts the
    stem as stage 1). The layouts are torchvision_to_cnnkit's. BatchNorm epsilon is 1e-5 in torchvision and
    1.001e-5 in Keras' layers: the moving variance is lowered by the difference, so ``var + eps`` - the only place
    epsilon enters - is the same number and the logits are torchvision's.
    """
    out = {}
    for key, value in torchvision_to_cnnkit(state).items():
        layer, weight = key.split(".", 1)
        if weight == "moving_variance":
            value = value + (TV_EPSILON - EPSILON)
        out[f"{_keras_name(layer)}.{weight}"] = value
    return out


def _conv_block(x: Any, name: str) -> Any:
    y = BatchNormalization(epsilon=EPSILON, name=f"{name}_0_bn")(x)
    y = Activation("relu", name=f"{name}_0_relu")(y)
    y = Conv2D(128, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = BatchNormalization(epsilon=EPSILON, name=f"{name}_1_bn")(y)
    y = Activation("relu", name=f"{name}_1_relu")(y)
    y = Conv2D(32, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return Concatenate(axis=-1, name=f"{name}_concat")([x, y])


def _transition(x: Any, channels: int, name: str) -> Any:
    x = BatchNormalization(epsilon=EPSILON, name=f"{name}_bn")(x)
    x = Activation("relu", name=f"{name}_relu")(x)
    x = Conv2D(channels // 2, 1, use_bias=False, name=f"{name}_conv")(x)
    return AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _densenet(depth: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
              classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    table = WEIGHTS[f"DenseNet{depth}"]
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 224, 32)  # fmt: skip
    x = ZeroPadding2D(((3, 3), (3, 3)))(inputs)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = BatchNormalization(epsilon=EPSILON, name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    channels = 64
    for stage, blocks in enumerate(BLOCKS[depth], start=2):
        for b in range(1, blocks + 1):
            x = _conv_block(x, f"conv{stage}_block{b}")
        channels += 32 * blocks
        if stage < 5:
            x = _transition(x, channels, f"pool{stage}")
            channels //= 2
    x = BatchNormalization(epsilon=EPSILON, name="bn")(x)
    x = Activation("relu", name="relu")(x)
    return _builder.keras_output(inputs, x, include_top=include_top, pooling=pooling, classes=classes,
                                 classifier_activation=classifier_activation, name=name, weights=weights,
                                 table=table, from_torchvision=from_torchvision)  # fmt: skip


_DOC = """Builds Keras' DenseNet{depth} ({count:,} parameters with the 1000-class top as Keras counts them;
    {trainable:,} trainable, torchvision's count).

    Args:
        include_top: Whether to include global average pooling (``avg_pool``) and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file), ``'torchvision'`` (torchvision's file, converted), or the
            path to a Keras ``.h5``/``.weights.h5``, a torchvision ``.pth`` or a cnnkit file. Both sets expect
            'torch' preprocessing (``densenet.preprocess_input``).
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 224x224x3 (fixed with the top and ImageNet weights); >= 32.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """


def _make(depth: int):
    public = f"DenseNet{depth}"

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"densenet{depth}",
    ) -> Any:
        return _densenet(depth, include_top, weights, input_tensor, input_shape, pooling, classes,
                         classifier_activation, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(depth=depth, count=NUM_PARAMS[depth], trainable=TRAINABLE[depth])
    return register_model(public, family="densenet", num_params=TRAINABLE[depth], keras_params=NUM_PARAMS[depth],
                          torchvision_params=TRAINABLE[depth],
                          num_params_source="keras.applications trainable weights = torchvision num_params",
                          weights=WEIGHTS[public])(builder)  # fmt: skip


DenseNet121, DenseNet169, DenseNet201 = (_make(d) for d in (121, 169, 201))
