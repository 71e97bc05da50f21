"""Keras' ResNet50V2/101V2/152V2 (``keras.applications.resnet_v2``): He et al. 2016, "Identity Mappings in Deep
Residual Networks" (arXiv:1603.05027), pre-activation blocks.

Keras' architecture and layer names (``conv2_block1_preact_bn``, ``conv2_block1_out``, ``post_bn``, ``post_relu``).
As Keras, a stack downsamples in its *last* block, with a 1x1 max pool on the identity shortcut (an auto-named
``max_pooling2d`` layer, as in Keras). Weights: Keras' files, 'tf' preprocessing (scaled to [-1, 1]).

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.ResNet50V2(include_top=False, input_shape=(64, 64, 3))
    >>> base.get_layer("post_relu").name
    'post_relu'
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.resnet import EPSILON, stem
from cnnkit.layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, ZeroPadding2D

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions", "WEIGHTS"]

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
NUM_PARAMS = {50: 25_613_800, 101: 44_675_560, 152: 60_380_648}  # keras.applications count_params()
TRAINABLE = {50: 25_568_360, 101: 44_577_896, 152: 60_236_904}
_MD5 = {  # keras/src/applications/resnet.py WEIGHTS_HASHES
    50: ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    101: ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    152: ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
_ACC1 = {50: 76.0, 101: 77.2, 152: 78.0}  # keras.io/api/applications table
WEIGHTS = {
    f"ResNet{d}V2": _builder.keras_weights(
        f"resnet/resnet{d}v2_weights_tf_dim_ordering_tf_kernels", *_MD5[d], preprocessing="tf",
        num_params=TRAINABLE[d], acc1=_ACC1[d], source="Keras applications (trained by the Keras team)",
        licence="MIT (keras-team/keras-applications)",
    )
    for d in BLOCKS
}  # fmt: skip


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'tf' preprocessing, as ``keras.applications.resnet_v2``: pixels scaled from 0..255 to [-1, 1]."""
    return _preprocess(x, data_format=data_format, mode="tf")


def _block(x: Any, filters: int, stride: int, conv_shortcut: bool, name: str) -> Any:
    """Keras' ``residual_block_v2``."""
    preact = BatchNormalization(epsilon=EPSILON, name=f"{name}_preact_bn")(x)
    preact = Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = BatchNormalization(epsilon=EPSILON, name=f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = ZeroPadding2D(((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = BatchNormalization(epsilon=EPSILON, name=f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return Add(name=f"{name}_out")([shortcut, x])


def _resnet_v2(depth: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
               classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    table = WEIGHTS[f"ResNet{depth}V2"]
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 224, 32)  # fmt: skip
    x = stem(inputs, batchnorm=False)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), BLOCKS[depth], strict=True), start=2):
        for b in range(1, blocks + 1):
            stride = 2 if (b == blocks and stage < 5) else 1
            x = _block(x, filters, stride, b == 1, f"conv{stage}_block{b}")
    x = BatchNormalization(epsilon=EPSILON, name="post_bn")(x)
    x = Activation("relu", name="post_relu")(x)
    return _builder.keras_output(inputs, x, include_top=include_top, pooling=pooling, classes=classes,
                                 classifier_activation=classifier_activation, name=name, weights=weights,
                                 table=table)  # fmt: skip


_DOC = """Builds Keras' {public} ({count:,} parameters with the 1000-class top, as Keras counts them).

    Args:
        include_top: Whether to include global average pooling (``avg_pool``) and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file; 'tf' preprocessing) or the path to a Keras ``.h5`` /
            ``.weights.h5`` saved from ``keras.applications.{public}``, or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 224x224x3 (fixed with the top and ImageNet weights); >= 32.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """


def _make(depth: int):
    public = f"ResNet{depth}V2"

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"resnet{depth}v2",
    ) -> Any:
        return _resnet_v2(depth, include_top, weights, input_tensor, input_shape, pooling, classes,
                          classifier_activation, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(public=public, count=NUM_PARAMS[depth])
    return register_model(public, family="resnet_v2", num_params=TRAINABLE[depth], keras_params=NUM_PARAMS[depth],
                          num_params_source="keras.applications (trainable weights)",
                          weights=WEIGHTS[public])(builder)  # fmt: skip


ResNet50V2, ResNet101V2, ResNet152V2 = (_make(d) for d in (50, 101, 152))
