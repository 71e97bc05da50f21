"""Keras' ResNet50/101/152 (``keras.applications.resnet``): He et al. 2015 (arXiv:1512.03385), "v1".

Keras' architecture with Keras' layer names (``conv1_pad``, ``conv1_conv``, ``conv2_block1_1_conv``...
``conv5_block3_out``, ``avg_pool``, ``predictions``), so Keras' files load by name and Keras tutorials'
``get_layer("conv5_block3_out")`` works. The stride of a downsampling block is in its first 1x1 conv (torchvision's
"v1.5" puts it in the 3x3: that variant is ``ResNet50_TV`` in ``resnet_torchvision.py``), every conv has a bias,
BatchNorm epsilon is 1.001e-5. torchvision publishes no v1 ResNet, so there is no torchvision converter here.
Weights: Keras' files (Kaiming He's Caffe model converted), 'caffe' preprocessing.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.ResNet50(include_top=False, input_shape=(64, 64, 3))
    >>> base.get_layer("conv5_block3_out").name
    'conv5_block3_out'
    >>> model = cnnkit.applications.ResNet50(weights="imagenet")  # Keras' .h5, md5-verified  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, ZeroPadding2D

__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions", "WEIGHTS", "stem"]

EPSILON = 1.001e-5
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
# keras.applications count_params() with the 1000-class top (BatchNorm moving statistics included) and its trainable
# part; torchvision has no v1 ResNet to compare with.
NUM_PARAMS = {50: 25_636_712, 101: 44_707_176, 152: 60_419_944}
TRAINABLE = {50: 25_583_592, 101: 44_601_832, 152: 60_268_520}
_MD5 = {  # keras/src/applications/resnet.py WEIGHTS_HASHES (with top, without)
    50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
_ACC1 = {50: 74.9, 101: 76.4, 152: 76.6}  # keras.io/api/applications table (Keras' own evaluation)
WEIGHTS = {
    f"ResNet{d}": _builder.keras_weights(
        f"resnet/resnet{d}_weights_tf_dim_ordering_tf_kernels", *_MD5[d], preprocessing="caffe",
        num_params=TRAINABLE[d], acc1=_ACC1[d],
        source="Keras applications; Kaiming He's Caffe ResNet converted to Keras",
        licence="MIT (KaimingHe/deep-residual-networks)",
    )
    for d in BLOCKS
}  # fmt: skip


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'caffe' preprocessing, as ``keras.applications.resnet``: RGB -> BGR, ImageNet BGR mean subtracted."""
    return _preprocess(x, data_format=data_format, mode="caffe")


def stem(inputs: Any, *, use_bias: bool = True, batchnorm: bool = True) -> Any:
    """Keras' ResNet stem: pad 3, 7x7/2 conv [BN, ReLU], pad 1, 3x3/2 max pool (v2 has no BN/ReLU here)."""
    x = ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if batchnorm:
        x = BatchNormalization(epsilon=EPSILON, name="conv1_bn")(x)
        x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    return MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _block(x: Any, filters: int, stride: int, conv_shortcut: bool, name: str) -> Any:
    """Keras' ``residual_block_v1``; its layer order (shortcut conv first) is Keras' model order."""
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = BatchNormalization(epsilon=EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = BatchNormalization(epsilon=EPSILON, name=f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = BatchNormalization(epsilon=EPSILON, name=f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = BatchNormalization(epsilon=EPSILON, name=f"{name}_3_bn")(x)
    x = Add(name=f"{name}_add")([shortcut, x])
    return Activation("relu", name=f"{name}_out")(x)


def _resnet(depth: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
            classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    table = WEIGHTS[f"ResNet{depth}"]
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 224, 32)  # fmt: skip
    x = stem(inputs)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), BLOCKS[depth], strict=True), start=2):
        for b in range(1, blocks + 1):
            stride = 2 if (b == 1 and stage > 2) else 1
            x = _block(x, filters, stride, b == 1, f"conv{stage}_block{b}")
    return _builder.keras_output(inputs, x, include_top=include_top, pooling=pooling, classes=classes,
                                 classifier_activation=classifier_activation, name=name, weights=weights,
                                 table=table)  # fmt: skip


_DOC = """Builds Keras' {public} ({count:,} parameters with the 1000-class top, as Keras counts them).

    Args:
        include_top: Whether to include global average pooling (``avg_pool``) and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file; 'caffe' preprocessing) or the path to a Keras ``.h5`` /
            ``.weights.h5`` saved from ``keras.applications.{public}``, or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 224x224x3 (fixed with the top and ImageNet weights); >= 32.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """


def _make(depth: int):
    public = f"ResNet{depth}"

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
    builder.__doc__ = _DOC.format(public=public, count=NUM_PARAMS[depth])
    return register_model(public, family="resnet", num_params=TRAINABLE[depth], keras_params=NUM_PARAMS[depth],
                          num_params_source="keras.applications (trainable weights)",
                          weights=WEIGHTS[public])(builder)  # fmt: skip


ResNet50, ResNet101, ResNet152 = (_make(d) for d in (50, 101, 152))
