"""Keras' Xception (``keras.applications.xception``; Chollet 2017, arXiv:1610.02357).

Keras' architecture and layer names (``block1_conv1`` ... ``block14_sepconv2_act``, ``avg_pool``, ``predictions``);
the four residual 1x1 convs, their BatchNorms and the adds are unnamed in Keras (``conv2d``,
``batch_normalization``, ``add`` with session counters), and are unnamed here too, so a Keras file matches by
Keras' own rule. Weights: Keras' file ('tf' preprocessing: pixels to [-1, 1]); torchvision has no Xception.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.Xception(include_top=False, input_shape=(71, 71, 3))
    >>> base.get_layer("block14_sepconv2_act").name
    'block14_sepconv2_act'
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, SeparableConv2D

__all__ = ["Xception", "preprocess_input", "decode_predictions", "WEIGHTS"]

NUM_PARAMS, TRAINABLE = 22_910_480, 22_855_952  # keras.applications count_params(), trainable part
WEIGHTS = _builder.keras_weights(
    "xception/xception_weights_tf_dim_ordering_tf_kernels", "0a58e3b7378bc2990ea3b43d5981f1f6",
    "b0042744bf5b25fce3cb969f33bebb97", preprocessing="tf", num_params=TRAINABLE, acc1=79.0,
    source="Keras applications (trained by F. Chollet with Keras)", licence="MIT (keras-team/keras-applications)",
)  # fmt: skip


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'tf' preprocessing, as ``keras.applications.xception``: pixels scaled from 0..255 to [-1, 1]."""
    return _preprocess(x, data_format=data_format, mode="tf")


def _sep_bn(x: Any, filters: int, name: str) -> Any:
    x = SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(name=f"{name}_bn")(x)


def _entry_block(x: Any, filters: tuple[int, int], block: int, first_relu: bool = True) -> Any:
    """A strided block: two separable convs and a max pool beside a strided 1x1 conv (Keras leaves it unnamed)."""
    residual = Conv2D(filters[1], 1, strides=2, padding="same", use_bias=False)(x)
    residual = BatchNormalization()(residual)
    if first_relu:
        x = Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sep_bn(x, filters[0], f"block{block}_sepconv1")
    x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sep_bn(x, filters[1], f"block{block}_sepconv2")
    x = MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
    return Add()([x, residual])


@register_model("Xception", family="xception", num_params=TRAINABLE, keras_params=NUM_PARAMS,
                num_params_source="keras.applications.Xception trainable weights", weights=WEIGHTS)  # fmt: skip
def Xception(
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "xception",
) -> Any:
    """Builds Keras' Xception (22,910,480 parameters as Keras counts them; 22,855,952 trainable).

    Args:
        include_top: Whether to include global average pooling (``avg_pool``) and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file) or the path to a Keras ``.h5``/``.weights.h5`` or cnnkit
            file. The weights expect 'tf' preprocessing (``xception.preprocess_input``).
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 299x299x3 (fixed with the top and ImageNet weights); >= 71.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """
    inputs = _builder.keras_input(weights, WEIGHTS, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 299, 71)  # fmt: skip
    x = Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(inputs)
    x = BatchNormalization(name="block1_conv1_bn")(x)
    x = Activation("relu", name="block1_conv1_act")(x)
    x = Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = BatchNormalization(name="block1_conv2_bn")(x)
    x = Activation("relu", name="block1_conv2_act")(x)
    x = _entry_block(x, (128, 128), 2, first_relu=False)
    x = _entry_block(x, (256, 256), 3)
    x = _entry_block(x, (728, 728), 4)
    for block in range(5, 13):  # the middle flow: eight identity blocks of three separable convs
        residual = x
        for i in (1, 2, 3):
            x = Activation("relu", name=f"block{block}_sepconv{i}_act")(x)
            x = _sep_bn(x, 728, f"block{block}_sepconv{i}")
        x = Add()([x, residual])
    x = _entry_block(x, (728, 1024), 13)
    for i, filters in ((1, 1536), (2, 2048)):
        x = _sep_bn(x, filters, f"block14_sepconv{i}")
        x = Activation("relu", name=f"block14_sepconv{i}_act")(x)
    return _builder.keras_output(inputs, x, include_top=include_top, pooling=pooling, classes=classes,
                                 classifier_activation=classifier_activation, name=name, weights=weights,
                                 table=WEIGHTS, pool_names=(None, None))  # fmt: skip
