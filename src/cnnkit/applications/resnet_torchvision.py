"""ResNet18/34/50/101/152 as torchvision builds them (He et al. 2015, arXiv:1512.03385; "v1.5").

Registered as ``ResNet18``, ``ResNet34`` and ``ResNet50_TV``, ``ResNet101_TV``, ``ResNet152_TV``: the plain names
``ResNet50/101/152`` are Keras' models (``resnet.py``), a different variant with Keras' layer names.

torchvision's bottleneck puts the stride in the 3x3 convolution (v1.5; the paper and Keras put it in the first
1x1: see ``keras_resnet.py`` for that variant). Layer names follow torchvision's modules (``conv1``, ``bn1``,
``layer1_0_conv1``, ``layer1_0_downsample_0``, ``fc``), BatchNorm uses torchvision's epsilon 1e-5 and momentum 0.1
(Keras momentum 0.9). torchvision pads symmetrically (``padding=1`` on a stride-2 3x3 conv) where Keras'
``'same'`` would pad only bottom/right, so strided convs get an explicit ZeroPadding2D. The 3x3/2 max pool pads
with zeros instead of -inf: it follows a ReLU, so every window holds a value >= 0 and the result is the same.

Example:
    >>> import cnnkit, numpy as np
    >>> model = cnnkit.applications.ResNet50_TV(weights="imagenet_v2")  # 80.858% top-1  # doctest: +SKIP
    >>> images = np.zeros((1, 224, 224, 3), dtype="float32")  # RGB, 0..255
    >>> preds = model.predict(cnnkit.applications.resnet_torchvision.preprocess_input(images))  # doctest: +SKIP
    >>> cnnkit.applications.resnet_torchvision.decode_predictions(preds, top=3)  # doctest: +SKIP
"""

from __future__ import annotations

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
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    ReLU,
    ZeroPadding2D,
)
from cnnkit.models import Model

__all__ = [
    "ResNet18", "ResNet34", "ResNet50_TV", "ResNet101_TV", "ResNet152_TV",
    "preprocess_input", "decode_predictions", "from_torchvision", "WEIGHTS",
]  # fmt: skip

# depth -> (block type, blocks per stage, torchvision's published parameter count)
SPECS = {
    18: ("basic", (2, 2, 2, 2), 11_689_512),
    34: ("basic", (3, 4, 6, 3), 21_797_672),
    50: ("bottleneck", (3, 4, 6, 3), 25_557_032),
    101: ("bottleneck", (3, 4, 23, 3), 44_549_160),
    152: ("bottleneck", (3, 8, 36, 3), 60_192_808),
}
_TV = "https://download.pytorch.org/models/"
_OLD = "https://github.com/pytorch/vision/tree/main/references/classification#resnet"
_NEW = "https://github.com/pytorch/vision/issues/3995#new-recipe"
WEIGHTS = {  # keyed by the registered name
    "ResNet18": {"imagenet": torchvision_entry(_TV + "resnet18-f37072fd.pth", SPECS[18][2], 69.758, 89.078, _OLD)},
    "ResNet34": {"imagenet": torchvision_entry(_TV + "resnet34-b627a593.pth", SPECS[34][2], 73.314, 91.420, _OLD)},
    "ResNet50_TV": {
        "imagenet": torchvision_entry(_TV + "resnet50-0676ba61.pth", SPECS[50][2], 76.130, 92.862, _OLD),
        "imagenet_v2": torchvision_entry(_TV + "resnet50-11ad3fa6.pth", SPECS[50][2], 80.858, 95.434, _NEW),
    },
    "ResNet101_TV": {
        "imagenet": torchvision_entry(_TV + "resnet101-63fe2227.pth", SPECS[101][2], 77.374, 93.546, _OLD),
        "imagenet_v2": torchvision_entry(_TV + "resnet101-cd907fc2.pth", SPECS[101][2], 81.886, 95.780, _NEW),
    },
    "ResNet152_TV": {
        "imagenet": torchvision_entry(_TV + "resnet152-394f9c45.pth", SPECS[152][2], 78.312, 94.046, _OLD),
        "imagenet_v2": torchvision_entry(_TV + "resnet152-f82ba261.pth", SPECS[152][2], 82.284, 96.002, _NEW),
    },
}
BN_EPSILON, BN_MOMENTUM = 1e-5, 0.9  # torchvision's eps and momentum=0.1 (Keras counts momentum the other way)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Scales RGB 0..255 images for torchvision's weights: /255, minus ImageNet mean, over std."""
    return _preprocess(x, data_format=data_format, mode="torch")


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ResNet state dict -> cnnkit keys: names map 1:1 (dots -> '_'), fc is transposed."""
    return torchvision_to_cnnkit(state)


def conv_bn(x: Any, filters: int, kernel: int, strides: int, name: str, bn_name: str, *, epsilon: float = BN_EPSILON,
            momentum: float = BN_MOMENTUM, relu: str | None = None) -> Any:  # fmt: skip
    """conv (torch padding k//2, no bias) -> BatchNorm [-> ReLU named `relu`]."""
    if strides > 1 and kernel > 1:
        x = ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        x = Conv2D(filters, kernel, strides=strides, use_bias=False, name=name)(x)
    else:
        padding = "same" if kernel > 1 else "valid"
        x = Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = BatchNormalization(epsilon=epsilon, momentum=momentum, name=bn_name)(x)
    return ReLU(name=relu)(x) if relu else x


def stem(inputs: Any, *, epsilon: float = BN_EPSILON, momentum: float = BN_MOMENTUM) -> Any:
    """7x7/2 conv, BN, ReLU, 3x3/2 max pool (torchvision's padding 3 and 1)."""
    x = conv_bn(inputs, 64, 7, 2, "conv1", "bn1", epsilon=epsilon, momentum=momentum, relu="relu")
    x = ZeroPadding2D(1, name="maxpool_pad")(x)
    return MaxPooling2D(3, strides=2, name="maxpool")(x)


def _block(x: Any, kind: str, planes: int, strides: int, in_channels: int, name: str) -> tuple[Any, int]:
    expansion = 4 if kind == "bottleneck" else 1
    out_channels = planes * expansion
    if kind == "bottleneck":
        y = conv_bn(x, planes, 1, 1, f"{name}_conv1", f"{name}_bn1", relu=f"{name}_relu1")
        y = conv_bn(y, planes, 3, strides, f"{name}_conv2", f"{name}_bn2", relu=f"{name}_relu2")
        y = conv_bn(y, out_channels, 1, 1, f"{name}_conv3", f"{name}_bn3")
    else:
        y = conv_bn(x, planes, 3, strides, f"{name}_conv1", f"{name}_bn1", relu=f"{name}_relu1")
        y = conv_bn(y, planes, 3, 1, f"{name}_conv2", f"{name}_bn2")
    if strides != 1 or in_channels != out_channels:
        x = conv_bn(x, out_channels, 1, strides, f"{name}_downsample_0", f"{name}_downsample_1")
    y = Add(name=f"{name}_add")([y, x])
    return ReLU(name=f"{name}_relu")(y), out_channels


def _resnet(depth: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
            classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    table = WEIGHTS[_public(depth)]
    _builder.check_arguments(weights, table, include_top, classes, pooling)
    _builder.check_classifier_activation(classifier_activation, weights)
    inputs = _builder.make_input(input_shape, input_tensor, (224, 224, 3), 32, require_default=False)
    kind, blocks, _ = SPECS[depth]
    x, channels = stem(inputs), 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks, strict=True), start=1):
        for i in range(count):
            strides = 2 if (i == 0 and stage > 1) else 1
            x, channels = _block(x, kind, planes, strides, channels, f"layer{stage}_{i}")
    if include_top:
        x = GlobalAveragePooling2D(name="avgpool")(x)
        x = Dense(classes, activation=classifier_activation, name="fc")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model,
        weights,
        table,
        include_top=include_top,
        top_layers=("fc",),
        from_torchvision=from_torchvision,
        from_keras=None,
    )
    return model


def _public(depth: int) -> str:
    return f"ResNet{depth}" + ("_TV" if depth >= 50 else "")


def _make(depth: int):
    public = _public(depth)

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"resnet{depth}",
    ) -> Any:
        return _resnet(depth, include_top, weights, input_tensor, input_shape, pooling, classes,
                       classifier_activation, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    sets = ", ".join(f"``'{k}'`` ({v.metrics['acc@1']}% top-1)" for k, v in WEIGHTS[public].items())
    builder.__doc__ = f"""Builds torchvision's {public} ({SPECS[depth][2]:,} parameters with the 1000-class top).

    Args:
        include_top: Whether to include global average pooling and the ``fc`` classifier.
        weights: ``None``, {sets} (torchvision's files), or a path to a torchvision ``.pth`` or cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 224x224x3; any size >= 32 works (global pooling).
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``fc``; ``None`` returns logits (as torchvision).
        name: Model name.
    """
    return register_model(
        public,
        family="resnet_torchvision",
        num_params=SPECS[depth][2],
        torchvision_params=SPECS[depth][2],
        num_params_source="torchvision ResNet weights table",
        weights=WEIGHTS[public],
    )(builder)


ResNet18, ResNet34, ResNet50_TV, ResNet101_TV, ResNet152_TV = (_make(d) for d in (18, 34, 50, 101, 152))
