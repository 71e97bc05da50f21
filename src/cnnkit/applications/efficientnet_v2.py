"""Keras' EfficientNetV2B0-B3, S, M and L (``keras.applications.efficientnet_v2``; Tan & Le 2021, arXiv:2104.00298).

Keras' architecture, arguments (``include_preprocessing`` included) and layer names: ``stem_conv``, ``stem_bn``, the
Fused-MBConv stages (``block1a_project_conv`` ... ``block3b_expand_conv``, ``block3b_project_bn``) and MBConv stages
(``block4a_dwconv2``, ``block4a_se_reduce`` ...), ``top_conv``, ``avg_pool``, ``top_dropout``, ``predictions``. Every
conv pads 'same' (TensorFlow's way: no ``ZeroPadding2D`` layers, unlike EfficientNet V1).

With ``include_preprocessing=True`` (Keras' default) the model takes pixels in 0..255 and ``preprocess_input`` is the
identity, as in Keras: B0-B3 rescale by 1/255 and normalise with ImageNet's mean and variance (a ``Normalization``
with constant statistics, which holds no weights), S/M/L rescale to [-1, 1) by ``x / 128 - 1``.

Weights: ``'imagenet'`` is Keras' file (md5-checked); for S, M and L ``'torchvision'`` is torchvision's file, converted
by ``from_torchvision``. torchvision builds the same network (same stages, squeeze-excite widths, SiLU, BatchNorm
epsilon 1e-3, a 1280-channel top) with two differences: its input is normalised outside the model (ImageNet's mean and
std for S and M, 'torch' preprocessing; mean and std 0.5 for L, which is 'tf' preprocessing), so build with
``include_preprocessing=False`` and feed ``imagenet_utils.preprocess_input(x, mode=...)``; and its stride-2 convs pad
symmetrically where Keras pads the TensorFlow way, which agree where every stride-2 conv sees an odd side (e.g.
33, 65, 129 or 2**k + 1 pixels). So the converted model gives torchvision's logits exactly at such sizes.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.EfficientNetV2B0(include_top=False, input_shape=(32, 32, 3))
    >>> [layer.name for layer in base.layers][3:6]
    ['stem_conv', 'stem_bn', 'stem_activation']
    >>> base.get_layer("block6h_add").name
    'block6h_add'
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications._mobile import finish
from cnnkit.applications.convert import torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import WeightsEntry, torchvision_entry
from cnnkit.initializers import VarianceScaling
from cnnkit.layers import (
    Activation,
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Multiply,
    Normalization,
    Rescaling,
    Reshape,
)

NAMES = ("B0", "B1", "B2", "B3", "S", "M", "L")
__all__ = [f"EfficientNetV2{v}" for v in NAMES] + ["preprocess_input", "decode_predictions", "from_torchvision",
                                                   "WEIGHTS"]  # fmt: skip

# (fused, repeats, filters in, filters out, expansion, stride) per stage, kernel 3 throughout: Keras'
# DEFAULT_BLOCKS_ARGS. Fused-MBConv stages have no squeeze-excite, MBConv stages a ratio of 0.25 (as all of Keras').
_B = ((1, 1, 32, 16, 1, 1), (1, 2, 16, 32, 4, 2), (1, 2, 32, 48, 4, 2), (0, 3, 48, 96, 4, 2),
      (0, 5, 96, 112, 6, 1), (0, 8, 112, 192, 6, 2))  # fmt: skip
STAGES = {
    "B": _B,
    "S": ((1, 2, 24, 24, 1, 1), (1, 4, 24, 48, 4, 2), (1, 4, 48, 64, 4, 2), (0, 6, 64, 128, 4, 2),
          (0, 9, 128, 160, 6, 1), (0, 15, 160, 256, 6, 2)),
    "M": ((1, 3, 24, 24, 1, 1), (1, 5, 24, 48, 4, 2), (1, 5, 48, 80, 4, 2), (0, 7, 80, 160, 4, 2),
          (0, 14, 160, 176, 6, 1), (0, 18, 176, 304, 6, 2), (0, 5, 304, 512, 6, 1)),
    "L": ((1, 4, 32, 32, 1, 1), (1, 7, 32, 64, 4, 2), (1, 7, 64, 96, 4, 2), (0, 10, 96, 192, 4, 2),
          (0, 19, 192, 224, 6, 1), (0, 25, 224, 384, 6, 2), (0, 7, 384, 640, 6, 1)),
}  # fmt: skip
# (width, depth, default size) per variant, as keras.applications; dropout 0.2 and drop-connect 0.2 for all.
VARIANTS = {"B0": (1.0, 1.0, 224), "B1": (1.0, 1.1, 240), "B2": (1.1, 1.2, 260), "B3": (1.2, 1.4, 300),
            "S": (1.0, 1.0, 384), "M": (1.0, 1.0, 480), "L": (1.0, 1.0, 480)}  # fmt: skip
# keras.applications count_params() with the top (BatchNorm statistics included) and the trainable part, which is
# torchvision's num_params for S, M and L.
NUM_PARAMS = {"B0": 7_200_312, "B1": 8_212_124, "B2": 10_178_374, "B3": 14_467_622, "S": 21_612_360,
              "M": 54_431_388, "L": 119_027_848}  # fmt: skip
TRAINABLE = {"B0": 7_139_704, "B1": 8_141_052, "B2": 10_096_086, "B3": 14_358_406, "S": 21_458_488,
             "M": 54_139_356, "L": 118_515_272}  # fmt: skip
CONV_INIT = {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}
DENSE_INIT = {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}
BN_MOMENTUM = 0.9  # Keras' EfficientNetV2 (epsilon stays Keras' 1e-3, as torchvision's for V2)
_MD5 = {  # keras/src/applications/efficientnet_v2.py WEIGHTS_HASHES (with top, without)
    "B0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "B1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "B2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "B3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "S": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "M": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "L": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}
_ACC1 = {"B0": 78.7, "B1": 79.8, "B2": 80.5, "B3": 82.0, "S": 83.9, "M": 85.3, "L": 85.7}  # keras.io/api/applications
_TV = {  # torchvision's IMAGENET1K_V1 files: file, acc@1, acc@5, recipe, preprocessing of its transforms
    "S": ("efficientnet_v2_s-dd5fe13b.pth", 84.228, 96.878, "torchvision's new training recipe", "torch"),
    "M": ("efficientnet_v2_m-dc08266a.pth", 85.112, 97.156, "torchvision's new training recipe", "torch"),
    "L": ("efficientnet_v2_l-59c71312.pth", 85.808, 97.788, "ported from google/automl efficientnetv2", "tf"),
}
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _table(variant: str) -> dict[str, WeightsEntry]:
    # Keras downloads ``name + ".h5"`` with the builder's default name, e.g. efficientnetv2-s.h5.
    table = _builder.keras_weights(f"efficientnet_v2/efficientnetv2-{variant.lower()}", *_MD5[variant],
                                   preprocessing="none", num_params=TRAINABLE[variant], acc1=_ACC1[variant],
                                   source="Keras applications; the authors' checkpoints (google/automl) converted",
                                   licence="Apache-2.0 (google/automl)")  # fmt: skip
    if variant in _TV:
        name, acc1, acc5, recipe, mode = _TV[variant]
        tv = torchvision_entry("https://download.pytorch.org/models/" + name, TRAINABLE[variant], acc1, acc5, recipe)
        table["torchvision"] = dataclasses.replace(tv, preprocessing=mode)
    return table


WEIGHTS = {f"EfficientNetV2{v}": _table(v) for v in NAMES}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity, as ``keras.applications.efficientnet_v2``: the model rescales its 0..255 input itself."""
    return x


def round_filters(filters: float, width: float) -> int:
    """Keras' EfficientNetV2 rounding: the nearest multiple of 8, at least 8 (no "10% down" rule, unlike V1)."""
    return int(max(8, int(filters * width + 4) // 8 * 8))


def _conv(filters: int, kernel: int, name: str, strides: int = 1, activation: Any = None, bias: bool = False) -> Any:
    return Conv2D(filters, kernel, strides=strides, padding="same", activation=activation, use_bias=bias,
                  kernel_initializer=VarianceScaling(**CONV_INIT), name=name)  # fmt: skip


def _bn(name: str) -> BatchNormalization:
    return BatchNormalization(momentum=BN_MOMENTUM, name=name)


def _residual(x: Any, inputs: Any, rate: float, name: str) -> Any:
    if rate:  # stochastic depth: drops the whole residual branch per sample (Keras passes the rate as is)
        x = Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
    return Add(name=f"{name}add")([x, inputs])


def _fused_block(inputs: Any, f_in: int, f_out: int, expand: int, strides: int, rate: float, name: str) -> Any:
    """Keras' FusedMBConvBlock: a full 3x3 conv in place of expand + depthwise, then a 1x1 projection."""
    x = inputs
    if expand != 1:
        x = _conv(f_in * expand, 3, f"{name}expand_conv", strides)(x)
        x = _bn(f"{name}expand_bn")(x)
        x = Activation("swish", name=f"{name}expand_activation")(x)
    x = _conv(f_out, 1 if expand != 1 else 3, f"{name}project_conv", 1 if expand != 1 else strides)(x)
    x = _bn(f"{name}project_bn")(x)
    if expand == 1:
        x = Activation("swish", name=f"{name}project_activation")(x)
    return _residual(x, inputs, rate, name) if strides == 1 and f_in == f_out else x


def _mb_block(inputs: Any, f_in: int, f_out: int, expand: int, strides: int, rate: float, name: str) -> Any:
    """Keras' MBConvBlock: 1x1 expansion, 3x3 depthwise, squeeze-excite (ratio 0.25), 1x1 projection."""
    filters = f_in * expand
    x = _conv(filters, 1, f"{name}expand_conv")(inputs)
    x = _bn(f"{name}expand_bn")(x)
    x = Activation("swish", name=f"{name}expand_activation")(x)
    x = DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False,
                        depthwise_initializer=VarianceScaling(**CONV_INIT), name=f"{name}dwconv2")(x)  # fmt: skip
    x = _bn(f"{name}bn")(x)
    x = Activation("swish", name=f"{name}activation")(x)
    se = GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = _conv(max(1, int(f_in * 0.25)), 1, f"{name}se_reduce", activation="swish", bias=True)(se)
    se = _conv(filters, 1, f"{name}se_expand", activation="sigmoid", bias=True)(se)
    x = Multiply(name=f"{name}se_excite")([x, se])
    x = _conv(f_out, 1, f"{name}project_conv")(x)
    x = _bn(f"{name}project_bn")(x)
    return _residual(x, inputs, rate, name) if strides == 1 and f_in == f_out else x


def _check_torchvision_input(variant: str, weights: Any, include_preprocessing: bool) -> None:
    if weights == "torchvision" and include_preprocessing and variant in _TV:  # B0-B3: the table check reports it
        mode = _TV[variant][4]
        raise ValueError(
            f"torchvision's EfficientNetV2{variant} weights take input normalised outside the model ('{mode}' "
            "preprocessing), not Keras' in-model rescaling. Expected include_preprocessing=False with "
            "weights='torchvision'. Received: include_preprocessing=True. Pass include_preprocessing=False and "
            f"feed cnnkit.applications.imagenet_utils.preprocess_input(x, mode='{mode}')."
        )


def _efficientnet_v2(variant: str, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any,
                     pooling: Any, classes: int, classifier_activation: Any, include_preprocessing: bool,
                     name: str) -> Any:  # fmt: skip
    width, depth, size = VARIANTS[variant]
    table = WEIGHTS[f"EfficientNetV2{variant}"]
    _check_torchvision_input(variant, weights, include_preprocessing)
    # Keras' obtain_input_shape: without the top (and no shape given) any size is accepted, (None, None, 3).
    if input_shape is None and input_tensor is None and not include_top:
        input_shape = (None, None, 3)
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, size, 32)  # fmt: skip
    x = inputs
    if include_preprocessing:
        if variant.startswith("B") and inputs.shape[-1] == 3:  # V1's preprocessing, as Keras does for Bx
            x = Rescaling(1.0 / 255.0)(x)
            x = Normalization(mean=list(IMAGENET_MEAN_RGB), variance=[s**2 for s in IMAGENET_STDDEV_RGB], axis=-1)(x)
        else:
            x = Rescaling(1.0 / 128.0, offset=-1.0)(x)
    stages = STAGES[variant[0]]
    x = _conv(round_filters(stages[0][2], width), 3, "stem_conv", 2)(x)
    x = _bn("stem_bn")(x)
    x = Activation("swish", name="stem_activation")(x)
    total = float(sum(stage[1] for stage in stages))  # Keras divides by the unscaled number of blocks
    b = 0
    for i, (fused, repeats, f_in, f_out, expand, stride) in enumerate(stages):
        f_in, f_out = round_filters(f_in, width), round_filters(f_out, width)
        block = _fused_block if fused else _mb_block
        for j in range(math.ceil(depth * repeats)):
            x = block(x, f_in if j == 0 else f_out, f_out, expand, stride if j == 0 else 1, 0.2 * b / total,
                      f"block{i + 1}{chr(j + 97)}_")  # fmt: skip
            b += 1
    x = _conv(round_filters(1280, width), 1, "top_conv")(x)
    x = _bn("top_bn")(x)
    x = Activation("swish", name="top_activation")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        x = Dropout(0.2, name="top_dropout")(x)
        x = Dense(classes, activation=classifier_activation, kernel_initializer=VarianceScaling(**DENSE_INIT),
                  name="predictions")(x)  # fmt: skip
    elif pooling == "avg":
        x = GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D(name="max_pool")(x)
    return finish(inputs, x, name, weights, table, include_top, ("predictions",), from_torchvision)


def _tv_names(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """torchvision module path -> Keras layer name. torchvision nests ``features.{stage}.{block}.block.{k}`` (stage
    0 is the stem, the last the top conv); Keras names blocks ``block{stage}{letter}_``. A block with a
    squeeze-excite (``fc1``) is an MBConv: expand, depthwise, squeeze-excite, project. One without is a Fused-MBConv:
    expand and project, or (expansion 1) a single 3x3 conv that Keras names ``project_conv``."""
    parts: dict[tuple[int, int], set[int]] = {}
    se: dict[tuple[int, int], int] = {}
    for key in state:
        m = re.match(r"features\.(\d+)\.(\d+)\.block\.(\d+)\.", key)
        if m:
            parts.setdefault((int(m[1]), int(m[2])), set()).add(int(m[3]))
            if ".fc1." in key:
                se[(int(m[1]), int(m[2]))] = int(m[3])
    names = {}
    for (stage, block), ks in parts.items():
        prefix, where = f"block{stage}{chr(block + 97)}_", f"features.{stage}.{block}.block"
        plain = sorted(k for k in ks if k != se.get((stage, block)))
        if (stage, block) in se:
            roles = [("expand_conv", "expand_bn"), ("dwconv2", "bn"), ("project_conv", "project_bn")]
            names[f"{where}.{se[(stage, block)]}.fc1"] = f"{prefix}se_reduce"
            names[f"{where}.{se[(stage, block)]}.fc2"] = f"{prefix}se_expand"
        else:
            roles = [("expand_conv", "expand_bn")] * (len(plain) == 2) + [("project_conv", "project_bn")]
        for k, (conv, bn) in zip(plain, roles, strict=True):
            names[f"{where}.{k}.0"], names[f"{where}.{k}.1"] = prefix + conv, prefix + bn
    last = max(int(k.split(".")[1]) for k in state if k.startswith("features."))
    names.update({"features.0.0": "stem_conv", "features.0.1": "stem_bn", f"features.{last}.0": "top_conv",
                  f"features.{last}.1": "top_bn", "classifier.1": "predictions"})  # fmt: skip
    return {k.replace(".", "_"): v for k, v in names.items()}


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ``efficientnet_v2_s``/``_m``/``_l`` state dict -> Keras-named cnnkit keys (a pure function).

    Names map one to one (``features.4.0.block.1.0`` -> ``block4a_dwconv2``); layouts as ``torchvision_to_cnnkit``.
    Both BatchNorm epsilons are 1e-3, so the statistics copy unchanged.
    """
    names = _tv_names(state)
    out = {}
    for key, value in torchvision_to_cnnkit(state).items():
        layer, weight = key.split(".", 1)
        out[f"{names.get(layer, layer)}.{weight}"] = value
    return out


_DOC = """Builds Keras' EfficientNetV2{v} ({count:,} parameters as Keras counts them, with the top; {trainable:,}
    trainable). Takes pixels in 0..255 with ``include_preprocessing=True``.

    Args:
        include_top: Whether to include ``avg_pool``, ``top_dropout`` and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file){tv}, or the path to a Keras ``.h5``/``.weights.h5``, a
            torchvision ``.pth`` or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``; default {size}x{size}x3 with the top, any size (>= 32) without it.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        include_preprocessing: Whether the model rescales 0..255 pixels itself (Keras' default); without it the
            model expects {expects}.
        name: Model name.
    """
_TV_DOC = ", ``'torchvision'`` (torchvision's file, converted; needs ``include_preprocessing=False``)"


def _make(variant: str):
    public = f"EfficientNetV2{variant}"
    default_name = f"efficientnetv2-{variant.lower()}"

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        include_preprocessing: bool = True,
        name: str = default_name,
    ) -> Any:
        return _efficientnet_v2(variant, include_top, weights, input_tensor, input_shape, pooling, classes,
                                classifier_activation, include_preprocessing, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    expects = "ImageNet-normalised input" if variant[0] == "B" else "input in [-1, 1]"
    builder.__doc__ = _DOC.format(v=variant, count=NUM_PARAMS[variant], trainable=TRAINABLE[variant],
                                  size=VARIANTS[variant][2], tv=_TV_DOC if variant in _TV else "",
                                  expects=expects)  # fmt: skip
    register = register_model(public, family="efficientnet_v2", num_params=TRAINABLE[variant],
                              keras_params=NUM_PARAMS[variant],
                              torchvision_params=TRAINABLE[variant] if variant in _TV else None,
                              weights=WEIGHTS[public], num_params_source="Keras trainable weights"
                              + (" = torchvision num_params" if variant in _TV else ""))  # fmt: skip
    return register(builder)


(EfficientNetV2B0, EfficientNetV2B1, EfficientNetV2B2, EfficientNetV2B3, EfficientNetV2S, EfficientNetV2M,
 EfficientNetV2L) = (_make(v) for v in NAMES)  # fmt: skip
