"""Keras' MobileNet, V1 (``keras.applications.mobilenet``; Howard et al. 2017, arXiv:1704.04861), with ``alpha``,
``depth_multiplier`` and ``dropout``.

Keras' layer names (``conv1``, ``conv_dw_1`` ... ``conv_pw_13_relu``, ``conv_preds``, ``predictions``). Weights:
Keras' ImageNet files (``mobilenet_1_0_224_tf.h5`` ...) load by layer name from a path (``weights='path.h5'``);
they are not in the weights table because Keras publishes no hash for them, and torchvision has no MobileNet V1.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.MobileNet(include_top=False, input_shape=(32, 32, 3), alpha=0.25)
    >>> base.get_layer("conv_pw_13_relu").name
    'conv_pw_13_relu'
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications._mobile import finish
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    DepthwiseConv2D,
    Dropout,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    ReLU,
    Reshape,
    ZeroPadding2D,
)

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]

NUM_PARAMS, TRAINABLE = 4_253_864, 4_231_976  # keras.applications count_params(), trainable part (alpha=1)
# (pointwise filters, stride) of the 13 depthwise-separable blocks.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1))  # fmt: skip


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """'tf' preprocessing, as ``keras.applications.mobilenet``: pixels scaled from 0..255 to [-1, 1]."""
    return _preprocess(x, data_format=data_format, mode="tf")


def _depthwise_conv_block(x: Any, filters: int, alpha: float, depth_multiplier: int, stride: int, block_id: int) -> Any:
    if stride == 2:  # TensorFlow's 'same' padding of an even side, written out (Keras does so)
        x = ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = DepthwiseConv2D(3, padding="same" if stride == 1 else "valid", depth_multiplier=depth_multiplier,
                        strides=stride, use_bias=False, name=f"conv_dw_{block_id}")(x)  # fmt: skip
    x = BatchNormalization(name=f"conv_dw_{block_id}_bn")(x)
    x = ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = Conv2D(int(filters * alpha), 1, padding="same", use_bias=False, name=f"conv_pw_{block_id}")(x)
    x = BatchNormalization(name=f"conv_pw_{block_id}_bn")(x)
    return ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


@register_model("MobileNet", family="mobilenet", num_params=TRAINABLE, keras_params=NUM_PARAMS,
                num_params_source="keras.applications.MobileNet trainable weights")  # fmt: skip
def MobileNet(
    input_shape: tuple[int, int, int] | None = None,
    alpha: float = 1.0,
    depth_multiplier: int = 1,
    dropout: float = 1e-3,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str | None = None,
) -> Any:
    """Builds Keras' MobileNet (4,253,864 parameters with alpha=1 as Keras counts them; 4,231,976 trainable).

    Args:
        input_shape: ``(height, width, 3)``, default 224x224x3; >= 32.
        alpha: Width multiplier (Keras publishes 0.25, 0.5, 0.75 and 1.0).
        depth_multiplier: Depth multiplier of the depthwise convolutions.
        dropout: Dropout before ``conv_preds``.
        include_top: Whether to include the classifier (``conv_preds``, ``predictions``).
        weights: ``None`` or the path to a Keras ``.h5``/``.weights.h5`` or cnnkit file ('tf' preprocessing).
        input_tensor: Optional symbolic tensor to use as input.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes.
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name; Keras' default ``mobilenet_{alpha:.2f}_{rows}`` with '_' for '.'.
    """
    inputs = _builder.keras_input(weights, {}, include_top, classes, pooling, classifier_activation, input_shape,
                                  input_tensor, 224, 32)  # fmt: skip
    x = Conv2D(int(32 * alpha), 3, padding="same", use_bias=False, strides=2, name="conv1")(inputs)
    x = BatchNormalization(name="conv1_bn")(x)
    x = ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, stride, block_id)
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        x = Activation(classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D()(x)
    rows = inputs.shape[1] if inputs.shape[1] in (128, 160, 192, 224) else 224
    name = name or f"mobilenet_{alpha:0.2f}_{rows}".replace(".", "_")  # cnnkit names hold no '.' (weight keys)
    return finish(inputs, x, name, weights, {}, include_top, ("conv_preds",))
