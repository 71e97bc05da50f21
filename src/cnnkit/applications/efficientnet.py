"""Keras' EfficientNetB0-B7 (``keras.applications.efficientnet``; Tan & Le 2019, arXiv:1905.11946).

Keras' architecture, preprocessing inside the model and layer names: ``Rescaling(1/255)`` and a ``Normalization``
layer (named ``normalization``; its mean and variance are weights), then ``stem_conv`` ... ``block1a_dwconv`` ...
``block7a_project_bn``, ``top_conv``, ``avg_pool``, ``top_dropout``, ``predictions``. The model takes pixels in
0..255 and ``preprocess_input`` is the identity, as in Keras. As Keras does, ``weights='imagenet'`` adds a
``Rescaling`` by 1/sqrt(ImageNet std) after the normalization (Keras' files hold the std where the variance
belongs).

Weights: ``'imagenet'`` is Keras' file (md5-checked); ``'torchvision'`` is torchvision's file, converted by
``from_torchvision``. torchvision builds the same network (same widths, depths, squeeze-excite, SiLU, stochastic
depth) with three differences the converter accounts for: its input is normalised outside the model (the converter
writes ImageNet's mean and std**2 into ``normalization``, so the converted model still takes 0..255 pixels); its
BatchNorm epsilon is 1e-5 for B0-B4 (1e-3, Keras', for B5-B7), moved into the moving variance exactly; and its
stride-2 convs pad symmetrically where Keras pads the TensorFlow way, which agree at odd input sizes only. So the
converted model gives torchvision's logits exactly at odd sizes.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.EfficientNetB0(include_top=False, input_shape=(32, 32, 3))
    >>> base.get_layer("block6d_add").name
    'block6d_add'
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications._mobile import correct_pad, finish, make_divisible, shift_variance
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
    ZeroPadding2D,
)

__all__ = [f"EfficientNetB{i}" for i in range(8)] + ["preprocess_input", "decode_predictions", "from_torchvision",
                                                      "FROM_TORCHVISION", "WEIGHTS"]  # fmt: skip

# (width, depth, default size, dropout) per variant, as keras.applications and the paper.
VARIANTS = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 300, 0.3),
            4: (1.4, 1.8, 380, 0.4), 5: (1.6, 2.2, 456, 0.4), 6: (1.8, 2.6, 528, 0.5),
            7: (2.0, 3.1, 600, 0.5)}  # fmt: skip
# keras.applications count_params() (BatchNorm statistics and the normalization's 7 values included) and the
# trainable part, which is torchvision's num_params.
NUM_PARAMS = {0: 5_330_571, 1: 7_856_239, 2: 9_177_569, 3: 12_320_535, 4: 19_466_823, 5: 30_562_527,
              6: 43_265_143, 7: 66_658_687}  # fmt: skip
TRAINABLE = {0: 5_288_548, 1: 7_794_184, 2: 9_109_994, 3: 12_233_232, 4: 19_341_616, 5: 30_389_784,
             6: 43_040_704, 7: 66_347_960}  # fmt: skip
# (kernel, repeats, filters in, filters out, expansion, stride) of the seven stages; squeeze-excite ratio 0.25.
BLOCKS = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
          (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))  # fmt: skip
CONV_INIT = {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}
DENSE_INIT = {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)
_MD5 = {  # keras/src/applications/efficientnet.py WEIGHTS_HASHES (with top, without)
    0: ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    1: ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    2: ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    3: ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    4: ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    5: ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    6: ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    7: ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}
_ACC1 = {0: 77.1, 1: 79.1, 2: 80.1, 3: 81.6, 4: 82.9, 5: 83.6, 6: 84.0, 7: 84.3}  # keras.io/api/applications
_TV = {  # torchvision's IMAGENET1K_V1 files (B0-B7) and their acc@1, acc@5
    0: ("efficientnet_b0_rwightman-7f5810bc.pth", 77.692, 93.532),
    1: ("efficientnet_b1_rwightman-bac287d4.pth", 78.642, 94.186),
    2: ("efficientnet_b2_rwightman-c35c1473.pth", 80.608, 95.310),
    3: ("efficientnet_b3_rwightman-b3899882.pth", 82.008, 96.054),
    4: ("efficientnet_b4_rwightman-23ab8bcd.pth", 83.384, 96.594),
    5: ("efficientnet_b5_lukemelas-1a07897c.pth", 83.444, 96.628),
    6: ("efficientnet_b6_lukemelas-24a108a5.pth", 84.008, 96.916),
    7: ("efficientnet_b7_lukemelas-c5b4e57e.pth", 84.122, 96.908),
}
TV_EPSILON = {i: 1e-5 if i < 5 else 1e-3 for i in range(8)}
EPSILON = 1e-3  # Keras' BatchNormalization default


def _table(i: int) -> dict[str, WeightsEntry]:
    url = "https://storage.googleapis.com/keras-applications/"
    common = {"sha256": None, "layout": "keras_h5", "preprocessing": "none",
              "classes": "imagenet", "num_params": TRAINABLE[i], "metrics": {"acc@1": _ACC1[i]},
              "source": "Keras applications; the authors' TF checkpoints (tensorflow/tpu, AutoAugment) converted",
              "licence": "Apache-2.0 (tensorflow/tpu)"}  # fmt: skip
    file, acc1, acc5 = _TV[i]
    tv = torchvision_entry("https://download.pytorch.org/models/" + file, TRAINABLE[i], acc1, acc5,
                           "https://github.com/pytorch/vision/pull/4293")  # fmt: skip
    # Converted, the file's normalisation lives in the model too: it takes 0..255 pixels ("none").
    tv = dataclasses.replace(tv, preprocessing="none")
    return {
        "imagenet": WeightsEntry(url=f"{url}efficientnetb{i}.h5", md5=_MD5[i][0], **common),
        "imagenet_notop": WeightsEntry(
            url=f"{url}efficientnetb{i}_notop.h5", md5=_MD5[i][1], include_top=False, **common
        ),  # fmt: skip
        "torchvision": tv,
    }


WEIGHTS = {f"EfficientNetB{i}": _table(i) for i in VARIANTS}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity, as ``keras.applications.efficientnet``: the model rescales and normalises 0..255 pixels."""
    return x


def _block(inputs: Any, drop_rate: float, name: str, filters_in: int, filters_out: int, kernel_size: int,
           strides: int, expand_ratio: int) -> Any:  # fmt: skip
    """Keras' MBConv block: expand, depthwise, squeeze-excite, project, stochastic depth and the skip."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=VarianceScaling(**CONV_INIT),
                   name=f"{name}expand_conv")(x)  # fmt: skip
        x = BatchNormalization(name=f"{name}expand_bn")(x)
        x = Activation("swish", name=f"{name}expand_activation")(x)
    if strides == 2:
        x = ZeroPadding2D(correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
    x = DepthwiseConv2D(kernel_size, strides=strides, padding="valid" if strides == 2 else "same", use_bias=False,
                        depthwise_initializer=VarianceScaling(**CONV_INIT), name=f"{name}dwconv")(x)  # fmt: skip
    x = BatchNormalization(name=f"{name}bn")(x)
    x = Activation("swish", name=f"{name}activation")(x)
    se = GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = Conv2D(max(1, int(filters_in * 0.25)), 1, padding="same", activation="swish",
                kernel_initializer=VarianceScaling(**CONV_INIT), name=f"{name}se_reduce")(se)  # fmt: skip
    se = Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=VarianceScaling(**CONV_INIT),
                name=f"{name}se_expand")(se)  # fmt: skip
    x = Multiply(name=f"{name}se_excite")([x, se])
    x = Conv2D(filters_out, 1, padding="same", use_bias=False, kernel_initializer=VarianceScaling(**CONV_INIT),
               name=f"{name}project_conv")(x)  # fmt: skip
    x = BatchNormalization(name=f"{name}project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:  # stochastic depth: drops the whole residual branch per sample
            x = Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = Add(name=f"{name}add")([x, inputs])
    return x


def _efficientnet(index: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
                  classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    width, depth, size, dropout_rate = VARIANTS[index]
    table = WEIGHTS[f"EfficientNetB{index}"]
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, size, 32)  # fmt: skip

    def round_filters(filters: int) -> int:
        return make_divisible(filters * width, 8)

    x = Rescaling(1.0 / 255.0)(inputs)
    # Named (Keras leaves it auto-named) so that the torchvision converter can write ImageNet's statistics into it.
    x = Normalization(axis=-1, name="normalization")(x)
    if weights == "imagenet":  # Keras' files store the std where the variance belongs; Keras corrects it so
        x = Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
    x = ZeroPadding2D(correct_pad(x, 3), name="stem_conv_pad")(x)
    x = Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False,
               kernel_initializer=VarianceScaling(**CONV_INIT), name="stem_conv")(x)  # fmt: skip
    x = BatchNormalization(name="stem_bn")(x)
    x = Activation("swish", name="stem_activation")(x)
    blocks = copy.deepcopy(BLOCKS)
    total = float(sum(math.ceil(depth * b[1]) for b in blocks))
    b = 0
    for i, (kernel, repeats, f_in, f_out, expand, stride) in enumerate(blocks):
        f_in, f_out = round_filters(f_in), round_filters(f_out)
        for j in range(math.ceil(depth * repeats)):
            x = _block(x, 0.2 * b / total, f"block{i + 1}{chr(j + 97)}_", f_in if j == 0 else f_out, f_out, kernel,
                       stride if j == 0 else 1, expand)  # fmt: skip
            b += 1
    x = Conv2D(round_filters(1280), 1, padding="same", use_bias=False, kernel_initializer=VarianceScaling(**CONV_INIT),
               name="top_conv")(x)  # fmt: skip
    x = BatchNormalization(name="top_bn")(x)
    x = Activation("swish", name="top_activation")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = Dropout(dropout_rate, name="top_dropout")(x)
        x = Dense(classes, activation=classifier_activation, kernel_initializer=VarianceScaling(**DENSE_INIT),
                  name="predictions")(x)  # fmt: skip
    elif pooling == "avg":
        x = GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D(name="max_pool")(x)
    convert = FROM_TORCHVISION[f"EfficientNetB{index}"]
    return finish(inputs, x, name, weights, table, include_top, ("predictions",), convert)


_TV_LAYER = {"expand": ("expand_conv", "expand_bn"), "depthwise": ("dwconv", "bn"),
             "project": ("project_conv", "project_bn")}  # fmt: skip


def _tv_names(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """torchvision module path -> Keras layer name. torchvision nests ``features.{stage}.{block}.block.{k}``
    (stage 0 is the stem, the last the top conv); Keras names blocks ``block{stage}{letter}_``."""
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
        prefix = f"block{stage}{chr(block + 97)}_"
        plain = sorted(k for k in ks if k != se.get((stage, block)))
        roles = (["expand"] if len(plain) == 3 else []) + ["depthwise", "project"]
        for k, role in zip(plain, roles, strict=True):
            conv, bn = _TV_LAYER[role]
            names[f"features.{stage}.{block}.block.{k}.0"] = prefix + conv
            names[f"features.{stage}.{block}.block.{k}.1"] = prefix + bn
        names[f"features.{stage}.{block}.block.{se[(stage, block)]}.fc1"] = f"{prefix}se_reduce"
        names[f"features.{stage}.{block}.block.{se[(stage, block)]}.fc2"] = f"{prefix}se_expand"
    last = max(int(k.split(".")[1]) for k in state if k.startswith("features."))
    names.update({"features.0.0": "stem_conv", "features.0.1": "stem_bn", f"features.{last}.0": "top_conv",
                  f"features.{last}.1": "top_bn", "classifier.1": "predictions"})  # fmt: skip
    return {k.replace(".", "_"): v for k, v in names.items()}


def convert_torchvision(state: Mapping[str, torch.Tensor], tv_epsilon: float) -> dict[str, torch.Tensor]:
    """torchvision ``efficientnet_b*`` state dict -> Keras-named cnnkit keys (a pure function).

    Names map one to one (``features.2.1.block.0.0`` -> ``block2b_expand_conv``); torchvision normalises its input
    outside the model, so ImageNet's mean and squared std go into Keras' ``normalization`` layer (the converted model
    takes 0..255 pixels, as Keras'); BatchNorm epsilon `tv_epsilon` -> Keras' 1e-3 through the moving variance.
    """
    names = _tv_names(state)
    out = {}
    for key, value in torchvision_to_cnnkit(state).items():
        layer, weight = key.split(".", 1)
        out[f"{names.get(layer, layer)}.{weight}"] = value
    out["normalization.mean"] = torch.tensor(IMAGENET_MEAN_RGB)
    out["normalization.variance"] = torch.tensor(IMAGENET_STDDEV_RGB) ** 2
    out["normalization.count"] = torch.tensor(0.0)
    return shift_variance(out, tv_epsilon, EPSILON)


def _make_converter(index: int):
    def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return convert_torchvision(state, TV_EPSILON[index])

    return from_torchvision


FROM_TORCHVISION = {f"EfficientNetB{i}": _make_converter(i) for i in VARIANTS}  # per variant: its epsilon
from_torchvision = FROM_TORCHVISION["EfficientNetB0"]  # B0-B4 share torchvision's epsilon 1e-5

_DOC = """Builds Keras' EfficientNetB{i} ({count:,} parameters as Keras counts them, with the top; {trainable:,}
    trainable, torchvision's count). Takes pixels in 0..255 (the preprocessing is inside the model).

    Args:
        include_top: Whether to include ``avg_pool``, ``top_dropout`` and the ``predictions`` layer.
        weights: ``None``, ``'imagenet'`` (Keras' file), ``'torchvision'`` (torchvision's file, converted), or the
            path to a Keras ``.h5``/``.weights.h5``, a torchvision ``.pth`` or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default {size}x{size}x3 (fixed with the top and ImageNet weights).
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """


def _make(index: int):
    public = f"EfficientNetB{index}"

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"efficientnetb{index}",
    ) -> Any:
        return _efficientnet(index, include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(i=index, count=NUM_PARAMS[index], trainable=TRAINABLE[index],
                                  size=VARIANTS[index][2])  # fmt: skip
    register = register_model(public, family="efficientnet", num_params=TRAINABLE[index],
                              keras_params=NUM_PARAMS[index], torchvision_params=TRAINABLE[index],
                              weights=WEIGHTS[public],
                              num_params_source="Keras trainable weights = torchvision num_params")  # fmt: skip
    return register(builder)


(EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4, EfficientNetB5, EfficientNetB6,
 EfficientNetB7) = (_make(i) for i in range(8))  # fmt: skip
