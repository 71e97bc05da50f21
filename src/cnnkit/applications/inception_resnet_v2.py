"""Keras' InceptionResNetV2 (``keras.applications.inception_resnet_v2``; Szegedy et al. 2016, arXiv:1602.07261).

Keras' architecture and names (``mixed_5b``, ``block35_1_mixed``, ``block35_1_conv``, ``block35_1_ac``,
``mixed_6a``, ``block17_*``, ``mixed_7a``, ``block8_*``, ``conv_7b``...). The scaled residual ``x + scale * r``
is Keras' own ``CustomScaleLayer`` (same class name, config ``{"scale": ...}`` and auto names), registered so a saved
model reloads. Weights: Keras' file, 'tf' preprocessing; torchvision has no Inception-ResNet.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.InceptionResNetV2(include_top=False, input_shape=(75, 75, 3))
    >>> base.get_layer("conv_7b_ac").name
    'conv_7b_ac'
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Layer,
    MaxPooling2D,
    register_layer,
)

__all__ = ["InceptionResNetV2", "CustomScaleLayer", "preprocess_input", "decode_predictions", "WEIGHTS"]

NUM_PARAMS, TRAINABLE = 55_873_736, 55_813_192  # keras.applications count_params(), trainable part
WEIGHTS = _builder.keras_weights(
    "inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels",
    "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4", preprocessing="tf",
    num_params=TRAINABLE, acc1=80.3,
    source="Keras applications; Google's TF-slim Inception-ResNet-v2 checkpoint converted to Keras",
    licence="Apache-2.0 (tensorflow/models)",
)  # fmt: skip


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'tf' preprocessing, as ``keras.applications.inception_resnet_v2``: 0..255 scaled to [-1, 1]."""
    return _preprocess(x, data_format=data_format, mode="tf")


@register_layer
class CustomScaleLayer(Layer):
    """``inputs[0] + inputs[1] * scale``: the scaled residual of Inception-ResNet, as Keras' layer of that name.

    Args:
        scale: The factor of the residual branch (0.17, 0.1, 0.2 or 1.0 in the network).

    Example:
        >>> import torch
        >>> CustomScaleLayer(0.5)([torch.ones(1, 2), torch.ones(1, 2)])
        tensor([[1.5000, 1.5000]])
    """

    def __init__(self, scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape[0])

    def call(self, inputs: Any) -> Any:
        return inputs[0] + inputs[1] * self.scale

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


def conv2d_bn(x: Any, filters: int, kernel: Any, strides: int = 1, padding: str = "same", activation: Any = "relu",
              use_bias: bool = False, name: str | None = None) -> Any:  # fmt: skip
    """Keras' ``conv2d_bn`` of this family: conv, BatchNorm without scale unless the conv has a bias, activation."""
    x = Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias, name=name)(x)
    if not use_bias:
        x = BatchNormalization(scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


def _residual(x: Any, scale: float, kind: str, index: int, activation: Any = "relu") -> Any:
    """Keras' ``inception_resnet_block``: branches, ``<kind>_<i>_mixed``, a biased 1x1 ``_conv``, the scaled sum."""
    if kind == "block35":
        branches = [
            conv2d_bn(x, 32, 1),
            conv2d_bn(conv2d_bn(x, 32, 1), 32, 3),
            conv2d_bn(conv2d_bn(conv2d_bn(x, 32, 1), 48, 3), 64, 3),
        ]
    elif kind == "block17":
        branches = [conv2d_bn(x, 192, 1), conv2d_bn(conv2d_bn(conv2d_bn(x, 128, 1), 160, (1, 7)), 192, (7, 1))]
    else:
        branches = [conv2d_bn(x, 192, 1), conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1), 224, (1, 3)), 256, (3, 1))]
    name = f"{kind}_{index}"
    mixed = Concatenate(axis=-1, name=f"{name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[-1], 1, activation=None, use_bias=True, name=f"{name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    return x if activation is None else Activation(activation, name=f"{name}_ac")(x)


def body(inputs: Any) -> Any:
    """Keras' InceptionResNetV2 from the input to ``conv_7b_ac``, in Keras' layer order."""
    x = conv2d_bn(inputs, 32, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = MaxPooling2D(3, strides=2)(x)
    b0 = conv2d_bn(x, 96, 1)
    b1 = conv2d_bn(conv2d_bn(x, 48, 1), 64, 5)
    b2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1), 96, 3), 96, 3)
    bp = conv2d_bn(AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)
    x = Concatenate(axis=-1, name="mixed_5b")([b0, b1, b2, bp])
    for i in range(1, 11):
        x = _residual(x, 0.17, "block35", i)
    b0 = conv2d_bn(x, 384, 3, strides=2, padding="valid")
    b1 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 256, 3), 384, 3, strides=2, padding="valid")
    x = Concatenate(axis=-1, name="mixed_6a")([b0, b1, MaxPooling2D(3, strides=2, padding="valid")(x)])
    for i in range(1, 21):
        x = _residual(x, 0.1, "block17", i)
    b0 = conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid")
    b1 = conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid")
    b2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 288, 3), 320, 3, strides=2, padding="valid")
    x = Concatenate(axis=-1, name="mixed_7a")([b0, b1, b2, MaxPooling2D(3, strides=2, padding="valid")(x)])
    for i in range(1, 10):
        x = _residual(x, 0.2, "block8", i)
    x = _residual(x, 1.0, "block8", 10, activation=None)
    return conv2d_bn(x, 1536, 1, name="conv_7b")


@register_model("InceptionResNetV2", family="inception_resnet_v2", num_params=TRAINABLE, keras_params=NUM_PARAMS,
                num_params_source="keras.applications (trainable weights)", weights=WEIGHTS)  # fmt: skip
def InceptionResNetV2(  # noqa: N802 - Keras' builder name
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "inception_resnet_v2",
) -> Any:
    """Builds Keras' InceptionResNetV2 (55,873,736 parameters with the 1000-class top, as Keras counts them).

    Args:
        include_top: Whether to include global average pooling (``avg_pool``) and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file; 'tf' preprocessing) or the path to a Keras ``.h5`` /
            ``.weights.h5`` saved from ``keras.applications.InceptionResNetV2``, or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 299x299x3 (fixed with the top and ImageNet weights); >= 75.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """
    inputs = _builder.keras_input(weights, WEIGHTS, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 299, 75)  # fmt: skip
    return _builder.keras_output(inputs, body(inputs), include_top=include_top, pooling=pooling, classes=classes,
                                 classifier_activation=classifier_activation, name=name, weights=weights,
                                 table=WEIGHTS, pool_names=(None, None))  # fmt: skip
