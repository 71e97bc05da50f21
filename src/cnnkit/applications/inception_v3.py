"""Keras' InceptionV3 (``keras.applications.inception_v3``; Szegedy et al. 2015, arXiv:1512.00567).

Keras' architecture and layer names: the concatenations are ``mixed0`` ... ``mixed10`` (and ``mixed9_0``,
``mixed9_1``); the convs, BatchNorms (``scale=False``) and ReLUs are auto-named as in Keras (``conv2d_5``,
``batch_normalization_5``, ``activation_5``), so a Keras file is matched by Keras' own rule (order or path) where
the counters differ. Weights: Keras' file, 'tf' preprocessing. torchvision's ``inception_v3`` is not converted:
its BatchNorms have a scale (gamma) and its 3x3 average pools count the zero padding (``count_include_pad``), where
Keras' exclude it, so no weight mapping gives torchvision's logits with Keras' architecture.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.InceptionV3(include_top=False, input_shape=(75, 75, 3))
    >>> base.get_layer("mixed10").name
    'mixed10'
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.layers import Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, MaxPooling2D

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions", "WEIGHTS"]

NUM_PARAMS, TRAINABLE = 23_851_784, 23_817_352  # keras.applications count_params(), trainable part
WEIGHTS = _builder.keras_weights(
    "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels", "9a0d58056eeedaa3f26cb7ebd46da564",
    "bcbd6486424b2319ff4ef7d526e38f63", preprocessing="tf", num_params=TRAINABLE, acc1=77.9,
    source="Keras applications; Google's TF-slim Inception-v3 checkpoint converted to Keras",
    licence="Apache-2.0 (tensorflow/models)",
)  # fmt: skip


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'tf' preprocessing, as ``keras.applications.inception_v3``: pixels scaled from 0..255 to [-1, 1]."""
    return _preprocess(x, data_format=data_format, mode="tf")


def conv2d_bn(x: Any, filters: int, rows: int, cols: int, padding: str = "same", strides: int = 1,
              name: str | None = None) -> Any:  # fmt: skip
    """Keras' ``conv2d_bn``: bias-free conv, BatchNorm without scale (a ReLU follows), ReLU."""
    x = Conv2D(filters, (rows, cols), strides=strides, padding=padding, use_bias=False,
               name=None if name is None else f"{name}_conv")(x)  # fmt: skip
    x = BatchNormalization(scale=False, name=None if name is None else f"{name}_bn")(x)
    return Activation("relu", name=name)(x)


def _avg_branch(x: Any, filters: int) -> Any:
    return conv2d_bn(AveragePooling2D(3, strides=1, padding="same")(x), filters, 1, 1)


def _block35(x: Any, pool_filters: int, name: str) -> Any:
    b1 = conv2d_bn(x, 64, 1, 1)
    b5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
    b3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
    return Concatenate(axis=-1, name=name)([b1, b5, b3, _avg_branch(x, pool_filters)])


def _block17(x: Any, width: int, name: str) -> Any:
    b1 = conv2d_bn(x, 192, 1, 1)
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, width, 1, 1), width, 1, 7), 192, 7, 1)
    d = conv2d_bn(x, width, 1, 1)
    for filters, (r, c) in ((width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))):
        d = conv2d_bn(d, filters, r, c)
    return Concatenate(axis=-1, name=name)([b1, b7, d, _avg_branch(x, 192)])


def _block8(x: Any, i: int) -> Any:
    b1 = conv2d_bn(x, 320, 1, 1)
    b3 = conv2d_bn(x, 384, 1, 1)
    b3 = Concatenate(axis=-1, name=f"mixed9_{i}")([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)])
    d = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
    d = Concatenate(axis=-1)([conv2d_bn(d, 384, 1, 3), conv2d_bn(d, 384, 3, 1)])
    return Concatenate(axis=-1, name=f"mixed{9 + i}")([b1, b3, d, _avg_branch(x, 192)])


def body(inputs: Any) -> Any:
    """Keras' InceptionV3 from the input to ``mixed10``, in Keras' layer order."""
    x = conv2d_bn(inputs, 32, 3, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = MaxPooling2D(3, strides=2)(x)
    for i, pool_filters in enumerate((32, 64, 64)):
        x = _block35(x, pool_filters, f"mixed{i}")
    b3 = conv2d_bn(x, 384, 3, 3, strides=2, padding="valid")
    d = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, strides=2, padding="valid")
    x = Concatenate(axis=-1, name="mixed3")([b3, d, MaxPooling2D(3, strides=2)(x)])
    for i, width in enumerate((128, 160, 160, 192)):
        x = _block17(x, width, f"mixed{4 + i}")
    b3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=2, padding="valid")
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=2, padding="valid")
    x = Concatenate(axis=-1, name="mixed8")([b3, b7, MaxPooling2D(3, strides=2)(x)])
    for i in range(2):
        x = _block8(x, i)
    return x


@register_model("InceptionV3", family="inception_v3", num_params=TRAINABLE, keras_params=NUM_PARAMS,
                num_params_source="keras.applications (trainable weights)", weights=WEIGHTS)  # fmt: skip
def InceptionV3(  # noqa: N802 - Keras' builder name
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "inception_v3",
) -> Any:
    """Builds Keras' InceptionV3 (23,851,784 parameters with the 1000-class top, as Keras counts them).

    Args:
        include_top: Whether to include global average pooling (``avg_pool``) and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file; 'tf' preprocessing) or the path to a Keras ``.h5`` /
            ``.weights.h5`` saved from ``keras.applications.InceptionV3``, or a cnnkit file.
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
