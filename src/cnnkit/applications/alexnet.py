"""AlexNet, torchvision's variant (the "one weird trick" single-tower net, Krizhevsky 2014, arXiv:1404.5997).

Layer names follow torchvision's module names (``features_0`` ... ``classifier_6``), so its state dicts map one to
one. torchvision's ``AdaptiveAvgPool2d((6, 6))`` is the identity at the 224x224 input the weights were trained at,
so it is left out (as Keras does for VGG): the classifier, when included, fixes the input size.

Example:
    >>> import cnnkit, numpy as np
    >>> model = cnnkit.applications.AlexNet(weights="imagenet")  # downloads torchvision's file once  # doctest: +SKIP
    >>> x = cnnkit.applications.alexnet.preprocess_input(np.zeros((1, 224, 224, 3)))  # RGB 0..255 -> torch mean/std
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications.convert import linear_chw_to_hwc, torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import torchvision_entry
from cnnkit.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D, ZeroPadding2D
from cnnkit.models import Model

__all__ = ["AlexNet", "preprocess_input", "decode_predictions", "from_torchvision", "WEIGHTS"]

_TV_RECIPE = "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"
WEIGHTS = {
    "imagenet": torchvision_entry(
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", 61_100_840, 56.522, 79.066, _TV_RECIPE
    ),
}
_TOP = ("classifier_1", "classifier_4", "classifier_6")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Scales RGB 0..255 images for torchvision's weights: /255, minus ImageNet mean, over std."""
    return _preprocess(x, data_format=data_format, mode="torch")


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision AlexNet state dict -> cnnkit keys. classifier.1 follows the flatten of a 256x6x6 map, so its
    columns move from torchvision's (C, H, W) order to cnnkit's (H, W, C) order."""
    return torchvision_to_cnnkit(state, {"classifier.1.weight": lambda w: linear_chw_to_hwc(w, (256, 6, 6))})


@register_model(
    "AlexNet",
    family="alexnet",
    num_params=61_100_840,
    torchvision_params=61_100_840,
    num_params_source="torchvision AlexNet_Weights",
    weights=WEIGHTS,
)
def AlexNet(  # noqa: N802 - Keras-style builder name
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    dropout: float = 0.5,
    name: str = "alexnet",
) -> Any:
    """Builds AlexNet (torchvision's variant, 61,100,840 parameters with the 1000-class top).

    Args:
        include_top: Whether to include the 3 fully connected layers (then the input must be 224x224x3).
        weights: ``None``, ``'imagenet'`` (torchvision's weights) or a path to a ``.pth``/cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``; at least 63x63 without the top.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of the last layer; ``None`` returns logits (as torchvision).
        dropout: Dropout rate of the classifier (torchvision: 0.5).
        name: Model name.
    """
    _builder.check_arguments(weights, WEIGHTS, include_top, classes, pooling)
    _builder.check_classifier_activation(classifier_activation, weights)
    pretrained_top = include_top and _builder.is_named(weights, WEIGHTS)
    inputs = _builder.make_input(input_shape, input_tensor, (224, 224, 3), 63, require_default=pretrained_top)
    x = ZeroPadding2D(2, name="features_0_pad")(inputs)
    x = Conv2D(64, 11, strides=4, activation="relu", name="features_0")(x)
    x = MaxPooling2D(3, strides=2, name="features_2")(x)
    x = Conv2D(192, 5, padding="same", activation="relu", name="features_3")(x)
    x = MaxPooling2D(3, strides=2, name="features_5")(x)
    x = Conv2D(384, 3, padding="same", activation="relu", name="features_6")(x)
    x = Conv2D(256, 3, padding="same", activation="relu", name="features_8")(x)
    x = Conv2D(256, 3, padding="same", activation="relu", name="features_10")(x)
    x = MaxPooling2D(3, strides=2, name="features_12")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dropout(dropout, name="classifier_0")(x)
        x = Dense(4096, activation="relu", name="classifier_1")(x)
        x = Dropout(dropout, name="classifier_3")(x)
        x = Dense(4096, activation="relu", name="classifier_4")(x)
        x = Dense(classes, activation=classifier_activation, name="classifier_6")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model,
        weights,
        WEIGHTS,
        include_top=include_top,
        top_layers=_TOP,
        from_torchvision=from_torchvision,
        from_keras=None,
    )
    return model
