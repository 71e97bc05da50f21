"""Keras' NASNetMobile and NASNetLarge (``keras.applications.nasnet``; Zoph et al. 2018, arXiv:1707.07012).

Keras' NASNet-A: a stem conv, two stem reduction cells, then three stacks of normal cells separated by reduction
cells, with Keras' layer names (``stem_conv1``, ``reduction_conv_1_stem_1``, ``separable_conv_1_normal_left1_0``,
``adjust_conv_projection_1``, ``normal_concat_12``, ``predictions``). Keras' preprocessing is 'tf' (pixels to
[-1, 1], ``preprocess_input``).

Pooling follows TensorFlow, the backend Keras' files were made with: a 'same' average pool averages only the real
pixels of each window. (Keras 3 refuses NASNetMobile on its torch backend, nasnet.py: "not available with the torch
backend at this time due to an outstanding bug"; its own tests skip the torch case as "pretrained incorrect".)

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.NASNetMobile(include_top=False, input_shape=(67, 67, 3))
    >>> base.get_layer("normal_concat_12").name
    'normal_concat_12'
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications._mobile import correct_pad, finish
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _imagenet_preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import WeightsEntry
from cnnkit.layers import (
    Activation,
    Add,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Cropping2D,
    Dense,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    SeparableConv2D,
    ZeroPadding2D,
)

__all__ = ["NASNetMobile", "NASNetLarge", "preprocess_input", "decode_predictions", "WEIGHTS"]

# keras.applications count_params() with the top (Keras' published NASNetMobile 5,326,716, NASNetLarge 88,949,818)
# and the trainable part.
NUM_PARAMS = {"mobile": 5_326_716, "large": 88_949_818}
TRAINABLE = {"mobile": 5_289_978, "large": 88_753_150}
# (penultimate filters, normal cells per stack, stem filters, skip_reduction, default size), filter multiplier 2.
CONFIGS = {"mobile": (1056, 4, 32, False, 224), "large": (4032, 6, 96, True, 331)}
_URL = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
_FILES = {  # keras/src/applications/nasnet.py: file, md5 (with top), file, md5 (without)
    "mobile": ("NASNet-mobile.h5", "020fb642bf7360b370c678b08e0adf61", "NASNet-mobile-no-top.h5",
               "1ed92395b5b598bdda52abe5c0dbfd63"),
    "large": ("NASNet-large.h5", "11577c9a518f0070763c2b964a382f17", "NASNet-large-no-top.h5",
              "d81d89dc07e6e56530c4e77faddd61b5"),
}  # fmt: skip
_ACC1 = {"mobile": 74.4, "large": 82.5}  # keras.io/api/applications


def _table(kind: str) -> dict[str, WeightsEntry]:
    top, top_md5, notop, notop_md5 = _FILES[kind]
    common = {"sha256": None, "layout": "keras_h5", "preprocessing": "tf", "classes": "imagenet",
              "num_params": TRAINABLE[kind], "metrics": {"acc@1": _ACC1[kind]},
              "source": "Keras applications; TF-slim NASNet-A checkpoints (tensorflow/models) converted",
              "licence": "Apache-2.0 (tensorflow/models)"}  # fmt: skip
    return {
        "imagenet": WeightsEntry(url=_URL + top, md5=top_md5, **common),
        "imagenet_notop": WeightsEntry(url=_URL + notop, md5=notop_md5, include_top=False, **common),
    }


WEIGHTS = {"NASNetMobile": _table("mobile"), "NASNetLarge": _table("large")}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Keras' ``nasnet.preprocess_input``: 'tf' mode, 0..255 RGB to [-1, 1]."""
    return _imagenet_preprocess(x, data_format=data_format, mode="tf")


def _bn(name: str | None = None) -> BatchNormalization:
    return BatchNormalization(momentum=0.9997, epsilon=1e-3, name=name)


def _conv1x1(filters: int, name: str) -> Conv2D:
    return Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer="he_normal", name=name)


def _separable(x: Any, filters: int, kernel: int, block_id: str, strides: int = 1) -> Any:
    """Keras' ``_separable_conv_block``: two ReLU-SeparableConv-BN, the first strided (with TF's explicit pad)."""
    x = Activation("relu")(x)
    if strides == 2:
        x = ZeroPadding2D(correct_pad(x, kernel), name=f"separable_conv_1_pad_{block_id}")(x)
    x = SeparableConv2D(filters, kernel, strides=strides, padding="valid" if strides == 2 else "same", use_bias=False,
                        name=f"separable_conv_1_{block_id}")(x)  # fmt: skip
    x = _bn(f"separable_conv_1_bn_{block_id}")(x)
    x = Activation("relu")(x)
    x = SeparableConv2D(filters, kernel, padding="same", use_bias=False, name=f"separable_conv_2_{block_id}")(x)
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust(p: Any, ip: Any, filters: int, block_id: str) -> Any:
    """Keras' ``_adjust_block``: brings the previous cell's output `p` to the size and width of `ip`."""
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:  # halve it: two offset 1x1 stride-2 paths, concatenated
        p = Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = AveragePooling2D(1, strides=2, padding="valid", name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = _conv1x1(filters // 2, f"adjust_conv_1_{block_id}")(p1)
        p2 = ZeroPadding2D(((0, 1), (0, 1)))(p)
        p2 = Cropping2D(((1, 0), (1, 0)))(p2)
        p2 = AveragePooling2D(1, strides=2, padding="valid", name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = _conv1x1(filters // 2, f"adjust_conv_2_{block_id}")(p2)
        p = Concatenate(axis=-1)([p1, p2])
        return _bn(f"adjust_bn_{block_id}")(p)
    if p.shape[-1] != filters:
        p = Activation("relu")(p)
        p = _conv1x1(filters, f"adjust_conv_projection_{block_id}")(p)
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _squeeze(ip: Any, filters: int, kind: str, block_id: str) -> Any:
    h = Activation("relu")(ip)
    h = _conv1x1(filters, f"{kind}_conv_1_{block_id}")(h)
    return _bn(f"{kind}_bn_1_{block_id}")(h)


def _normal_cell(ip: Any, p: Any, filters: int, block_id: str) -> tuple[Any, Any]:
    p = _adjust(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "normal", block_id)
    x1 = Add(name=f"normal_add_1_{block_id}")([_separable(h, filters, 5, f"normal_left1_{block_id}"),
                                               _separable(p, filters, 3, f"normal_right1_{block_id}")])  # fmt: skip
    x2 = Add(name=f"normal_add_2_{block_id}")([_separable(p, filters, 5, f"normal_left2_{block_id}"),
                                               _separable(p, filters, 3, f"normal_right2_{block_id}")])  # fmt: skip
    x3 = AveragePooling2D(3, strides=1, padding="same", name=f"normal_left3_{block_id}")(h)
    x3 = Add(name=f"normal_add_3_{block_id}")([x3, p])
    x4_1 = AveragePooling2D(3, strides=1, padding="same", name=f"normal_left4_{block_id}")(p)
    x4_2 = AveragePooling2D(3, strides=1, padding="same", name=f"normal_right4_{block_id}")(p)
    x4 = Add(name=f"normal_add_4_{block_id}")([x4_1, x4_2])
    x5 = Add(name=f"normal_add_5_{block_id}")([_separable(h, filters, 3, f"normal_left5_{block_id}"), h])
    return Concatenate(axis=-1, name=f"normal_concat_{block_id}")([p, x1, x2, x3, x4, x5]), ip


def _reduction_cell(ip: Any, p: Any, filters: int, block_id: str) -> tuple[Any, Any]:
    p = _adjust(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "reduction", block_id)
    h3 = ZeroPadding2D(correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)
    x1_1 = _separable(h, filters, 5, f"reduction_left1_{block_id}", strides=2)
    x1 = Add(name=f"reduction_add_1_{block_id}")([x1_1, _separable(p, filters, 7, f"reduction_right1_{block_id}", 2)])
    x2_1 = MaxPooling2D(3, strides=2, padding="valid", name=f"reduction_left2_{block_id}")(h3)
    x2 = Add(name=f"reduction_add_2_{block_id}")([x2_1, _separable(p, filters, 7, f"reduction_right2_{block_id}", 2)])
    x3_1 = AveragePooling2D(3, strides=2, padding="valid", name=f"reduction_left3_{block_id}")(h3)
    x3 = Add(name=f"reduction_add3_{block_id}")([x3_1, _separable(p, filters, 5, f"reduction_right3_{block_id}", 2)])
    x4 = AveragePooling2D(3, strides=1, padding="same", name=f"reduction_left4_{block_id}")(x1)
    x4 = Add()([x2, x4])
    x5_1 = _separable(x1, filters, 3, f"reduction_left4_{block_id}")  # Keras reuses "left4" for this block's name
    x5_2 = MaxPooling2D(3, strides=2, padding="valid", name=f"reduction_right5_{block_id}")(h3)
    x5 = Add(name=f"reduction_add4_{block_id}")([x5_1, x5_2])
    return Concatenate(axis=-1, name=f"reduction_concat_{block_id}")([x2, x3, x4, x5]), ip


def _nasnet(kind: str, input_shape: Any, include_top: bool, weights: Any, input_tensor: Any, pooling: Any,
            classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    penultimate, blocks, stem_filters, skip_reduction, size = CONFIGS[kind]
    table = WEIGHTS[f"NASNet{kind.capitalize()}"]
    if kind == "mobile" and not include_top and input_shape is None:
        input_shape = (224, 224, 3)  # as Keras' NASNetMobile
    elif not include_top and input_shape is None and input_tensor is None:
        input_shape = (None, None, 3)  # Keras' obtain_input_shape without the top
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, size, 32)  # fmt: skip
    filters = penultimate // 24
    x = Conv2D(stem_filters, 3, strides=2, padding="valid", use_bias=False, kernel_initializer="he_normal",
               name="stem_conv1")(inputs)  # fmt: skip
    x = _bn("stem_bn1")(x)
    x, p = _reduction_cell(x, None, filters // 4, "stem_1")
    x, p = _reduction_cell(x, p, filters // 2, "stem_2")
    for stack in range(3):
        width = filters * 2**stack
        if stack:
            x, p0 = _reduction_cell(x, p, width, f"reduce_{stack * blocks}")
            p = p if skip_reduction else p0
        for i in range(blocks):
            x, p = _normal_cell(x, p, width, f"{stack * blocks + i + (1 if stack else 0)}")
    x = Activation("relu")(x)
    if include_top:
        x = GlobalAveragePooling2D()(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D()(x)
    return finish(inputs, x, name, weights, table, include_top, ("predictions",))


_DOC = """Builds Keras' NASNet{Kind} ({count:,} parameters with the top as Keras counts them; {trainable:,} trainable).

    Args:
        input_shape: ``(height, width, 3)``, default {size}x{size}x3 (fixed with the top and ImageNet weights).
        include_top: Whether to include the global pooling and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file) or the path to a Keras ``.h5``/``.weights.h5`` or a cnnkit
            file.
        input_tensor: Optional symbolic tensor to use as input.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """


def _make(kind: str):
    public = f"NASNet{kind.capitalize()}"

    def builder(
        input_shape: tuple[int, int, int] | None = None,
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"nasnet_{kind}",
    ) -> Any:
        return _nasnet(kind, input_shape, include_top, weights, input_tensor, pooling, classes, classifier_activation,
                       name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(Kind=kind.capitalize(), count=NUM_PARAMS[kind], trainable=TRAINABLE[kind],
                                  size=CONFIGS[kind][4])  # fmt: skip
    register = register_model(public, family="nasnet", num_params=TRAINABLE[kind], keras_params=NUM_PARAMS[kind],
                              weights=WEIGHTS[public], num_params_source="Keras trainable weights")  # fmt: skip
    return register(builder)


NASNetMobile = _make("mobile")
NASNetLarge = _make("large")
