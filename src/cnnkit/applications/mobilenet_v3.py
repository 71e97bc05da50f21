"""Keras' MobileNetV3Small and MobileNetV3Large (``keras.applications.mobilenet_v3``; Howard et al. 2019,
arXiv:1905.02244), with ``alpha``, ``minimalistic``, ``dropout_rate`` and ``include_preprocessing``.

Keras' layer names (``conv``, ``expanded_conv_depthwise``, ``expanded_conv_3_squeeze_excite_conv`` ... ``conv_1``,
``conv_2``, ``logits``, ``predictions``). One difference in the layer list: Keras writes the squeeze-excite gate as
``ReLU(6.)(x + 3.) * (1/6)``, a ReLU layer between two tensor operations; cnnkit's functional graph records layers
only, so the gate is one ``Activation('hard_sigmoid')`` layer (the same function, no weights: files load unchanged).

With ``include_preprocessing=True`` (Keras' default) the model takes pixels in 0..255 (a ``Rescaling`` layer maps them
to [-1, 1]) and ``preprocess_input`` is the identity, as in Keras.

Weights: ``'imagenet'`` is Keras' file for the chosen ``alpha``/``minimalistic`` (md5-checked); ``'torchvision'`` is
torchvision's file (alpha=1, not minimalistic), converted by ``from_torchvision``. torchvision builds the same
network (same expansions, squeeze-excite widths, BatchNorm epsilon 1e-3, the same hard-swish classifier as two
Linear layers where Keras has 1x1 convs) except that its stride-2 convs pad symmetrically, where Keras pads the
TensorFlow way: the converted model gives torchvision's logits exactly at odd input sizes. torchvision's weights
expect 'torch' preprocessing: build with ``include_preprocessing=False`` and feed
``imagenet_utils.preprocess_input(x, mode='torch')``.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.MobileNetV3Small(include_top=False, input_shape=(32, 32, 3))
    >>> base.get_layer("expanded_conv_10_project_bn").name
    'expanded_conv_10_project_bn'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications._mobile import correct_pad, finish, make_divisible
from cnnkit.applications.convert import torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import WeightsEntry, torchvision_entry
from cnnkit.layers import (
    Activation,
    Add,
    BatchNormalization,
    Conv2D,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Multiply,
    ReLU,
    Rescaling,
    ZeroPadding2D,
)

__all__ = ["MobileNetV3Small", "MobileNetV3Large", "preprocess_input", "decode_predictions", "from_torchvision",
           "WEIGHTS"]  # fmt: skip

# keras.applications count_params() and trainable part (= torchvision's num_params) with alpha=1, the top.
NUM_PARAMS = {"small": 2_554_968, "large": 5_507_432}
TRAINABLE = {"small": 2_542_856, "large": 5_483_032}
# (expansion, filters, kernel ('k': 5, or 3 when minimalistic), stride, squeeze-excite, activation ('hs' or 're')).
SMALL = ((1, 16, 3, 2, True, "re"), (72 / 16, 24, 3, 2, False, "re"), (88 / 24, 24, 3, 1, False, "re"),
         (4, 40, "k", 2, True, "hs"), (6, 40, "k", 1, True, "hs"), (6, 40, "k", 1, True, "hs"),
         (3, 48, "k", 1, True, "hs"), (3, 48, "k", 1, True, "hs"), (6, 96, "k", 2, True, "hs"),
         (6, 96, "k", 1, True, "hs"), (6, 96, "k", 1, True, "hs"))  # fmt: skip
LARGE = ((1, 16, 3, 1, False, "re"), (4, 24, 3, 2, False, "re"), (3, 24, 3, 1, False, "re"),
         (3, 40, "k", 2, True, "re"), (3, 40, "k", 1, True, "re"), (3, 40, "k", 1, True, "re"),
         (6, 80, 3, 2, False, "hs"), (2.5, 80, 3, 1, False, "hs"), (2.3, 80, 3, 1, False, "hs"),
         (2.3, 80, 3, 1, False, "hs"), (6, 112, 3, 1, True, "hs"), (6, 112, 3, 1, True, "hs"),
         (6, 160, "k", 2, True, "hs"), (6, 160, "k", 1, True, "hs"), (6, 160, "k", 1, True, "hs"))  # fmt: skip
_KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
_KERAS_MD5 = {  # keras/src/applications/mobilenet_v3.py WEIGHTS_HASHES: (with top, without)
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}
_ACC1 = {"large_224_0.75_float": 73.3, "large_224_1.0_float": 75.6, "large_minimalistic_224_1.0_float": 72.3,
         "small_224_0.75_float": 65.4, "small_224_1.0_float": 68.1,
         "small_minimalistic_224_1.0_float": 61.9}  # fmt: skip
_TV = {"small": ("mobilenet_v3_small-047dcff4.pth", 67.668, 87.402),
       "large": ("mobilenet_v3_large-8738ca79.pth", 74.042, 91.340)}  # fmt: skip


def _keras_pair(key: str, num_params: int) -> dict[str, WeightsEntry]:
    """Keras' file with the top and its "no_top_v2" file (the names Keras downloads), md5-checked."""
    common = {"sha256": None, "layout": "keras_h5", "preprocessing": "tf", "classes": "imagenet",
              "num_params": num_params, "licence": "Apache-2.0 (tensorflow/models)",
              "metrics": {"acc@1": _ACC1[key]},
              "source": "Keras applications; TF-slim MobileNetV3 checkpoints (tensorflow/models)"}  # fmt: skip
    top, notop = _KERAS_MD5[key]
    return {
        "imagenet": WeightsEntry(url=f"{_KERAS_URL}weights_mobilenet_v3_{key}.h5", md5=top, **common),
        "imagenet_notop": WeightsEntry(
            url=f"{_KERAS_URL}weights_mobilenet_v3_{key}_no_top_v2.h5", md5=notop, include_top=False, **common
        ),  # fmt: skip
    }


def _table(kind: str) -> dict[str, WeightsEntry]:
    table = _keras_pair(f"{kind}_224_1.0_float", TRAINABLE[kind])
    file, acc1, acc5 = _TV[kind]
    table["torchvision"] = torchvision_entry(
        "https://download.pytorch.org/models/" + file, TRAINABLE[kind], acc1, acc5,
        "https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv3",
    )  # fmt: skip
    return table


WEIGHTS = {"MobileNetV3Small": _table("small"), "MobileNetV3Large": _table("large")}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity, as ``keras.applications.mobilenet_v3``: the model rescales its 0..255 input itself."""
    return x


def _activation(kind: str) -> Any:
    return ReLU() if kind == "re" else Activation("hard_swish")


def _bn(name: str) -> BatchNormalization:
    return BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)


def _se_block(inputs: Any, filters: int, prefix: str) -> Any:
    x = GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = Conv2D(make_divisible(filters * 0.25), 1, padding="same", name=f"{prefix}squeeze_excite_conv")(x)
    x = ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = Conv2D(filters, 1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = Activation("hard_sigmoid")(x)  # Keras: ReLU(6.)(x + 3.) * (1. / 6.)
    return Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x: Any, expansion: float, filters: int, kernel: int, stride: int, se: bool, act: str,
                        block_id: int) -> Any:  # fmt: skip
    shortcut, infilters = x, x.shape[-1]
    prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = Conv2D(make_divisible(infilters * expansion), 1, padding="same", use_bias=False,
                   name=f"{prefix}expand")(x)  # fmt: skip
        x = _bn(f"{prefix}expand_bn")(x)
        x = _activation(act)(x)
    if stride == 2:
        x = ZeroPadding2D(correct_pad(x, kernel), name=f"{prefix}depthwise_pad")(x)
    x = DepthwiseConv2D(kernel, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                        name=f"{prefix}depthwise")(x)  # fmt: skip
    x = _bn(f"{prefix}depthwise_bn")(x)
    x = _activation(act)(x)
    if se:
        x = _se_block(x, make_divisible(infilters * expansion), prefix)
    x = Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = Add(name=f"{prefix}add")([shortcut, x])
    return x


def _mobilenet_v3(kind: str, stack: tuple, last_point: int, input_shape: Any, alpha: float, minimalistic: bool,
                  include_top: bool, weights: Any, input_tensor: Any, classes: int, pooling: Any, dropout_rate: float,
                  classifier_activation: Any, include_preprocessing: bool, name: str) -> Any:  # fmt: skip
    public = f"MobileNetV3{kind.capitalize()}"
    table = WEIGHTS[public]
    if weights == "imagenet":  # Keras publishes a file per width and variant
        if (alpha, minimalistic) not in ((0.75, False), (1.0, False), (1.0, True)):
            raise ValueError(
                "If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non minimalistic or "
                f"`1.0` for minimalistic only. Received: alpha={alpha}, minimalistic={minimalistic}. Pass one of "
                "those, or weights=None."
            )
        key = f"{kind}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
        table = {**table, **_keras_pair(key, table["imagenet"].num_params)}
    elif _builder.is_named(weights, table) and (alpha, minimalistic) != (1.0, False):
        raise ValueError(
            f"torchvision's {public} weights have alpha=1.0 and are not minimalistic. Expected alpha=1.0 and "
            f"minimalistic=False. Received: alpha={alpha}, minimalistic={minimalistic}. Pass those, or weights=None."
        )
    # Keras builds this family at any size by default: (None, None, 3).
    default = input_shape if input_shape is not None or input_tensor is not None else (None, None, 3)
    _builder.check_arguments(weights, table, include_top, classes, pooling)
    _builder.check_classifier_activation(classifier_activation, weights)
    inputs = _builder.make_input(default, input_tensor, (224, 224, 3), 32, require_default=False)
    kernel, act, se_ratio = (3, "re", False) if minimalistic else (5, "hs", True)
    x = Rescaling(scale=1.0 / 127.5, offset=-1.0)(inputs) if include_preprocessing else inputs
    x = Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv")(x)
    x = _bn("conv_bn")(x)
    x = _activation(act)(x)
    for block_id, (expansion, filters, k, stride, se, block_act) in enumerate(stack):
        x = _inverted_res_block(x, expansion, make_divisible(filters * alpha), kernel if k == "k" else k, stride,
                                se and se_ratio, act if block_act == "hs" else "re", block_id)  # fmt: skip
    last_conv = make_divisible(x.shape[-1] * 6)
    last_point = make_divisible(last_point * alpha) if alpha > 1.0 else last_point
    x = Conv2D(last_conv, 1, padding="same", use_bias=False, name="conv_1")(x)
    x = _bn("conv_1_bn")(x)
    x = _activation(act)(x)
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Conv2D(last_point, 1, padding="same", name="conv_2")(x)
        x = _activation(act)(x)
        if dropout_rate > 0:
            x = Dropout(dropout_rate)(x)
        x = Conv2D(classes, 1, padding="same", name="logits")(x)
        x = Flatten()(x)
        x = Activation(classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D(name="max_pool")(x)
    return finish(inputs, x, name, weights, table, include_top, ("logits",), from_torchvision)


def _tv_block_names(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """torchvision module path (``features.3.block.1.0``) -> Keras layer name, block by block.

    A torchvision block is a Sequential of [expand,] depthwise, [squeeze-excite,] project; Keras' blocks are
    numbered from the first inverted residual (torchvision's ``features.1``) and its first block has no number.
    """
    blocks: dict[int, set[int]] = {}
    se: dict[int, int] = {}
    for key in state:
        m = re.match(r"features\.(\d+)\.block\.(\d+)\.", key)
        if m:
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
            if ".fc1." in key:
                se[int(m[1])] = int(m[2])
    names = {}
    for i, js in blocks.items():
        prefix = f"expanded_conv_{i - 1}_" if i > 1 else "expanded_conv_"
        plain = sorted(j for j in js if j != se.get(i))
        roles = (["expand"] if len(plain) == 3 else []) + ["depthwise", "project"]
        for j, role in zip(plain, roles, strict=True):
            names[f"features.{i}.block.{j}.0"] = f"{prefix}{role}"
            names[f"features.{i}.block.{j}.1"] = f"{prefix}{role}_bn"
        if i in se:
            names[f"features.{i}.block.{se[i]}.fc1"] = f"{prefix}squeeze_excite_conv"
            names[f"features.{i}.block.{se[i]}.fc2"] = f"{prefix}squeeze_excite_conv_1"
    last = max(int(k.split(".")[1]) for k in state if k.startswith("features."))
    names.update({"features.0.0": "conv", "features.0.1": "conv_bn", f"features.{last}.0": "conv_1",
                  f"features.{last}.1": "conv_1_bn"})  # fmt: skip
    return names


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ``mobilenet_v3_small``/``_large`` state dict -> Keras-named cnnkit keys (a pure function).

    The classifier's two Linear layers become Keras' 1x1 convs ``conv_2`` and ``logits`` (the same matrices with
    two unit spatial axes: a 1x1 conv on a 1x1 map is a matrix product). Everything else maps one to one; the
    BatchNorm epsilon (1e-3) is Keras'.
    """
    state = dict(state)
    head = {"classifier.0": "conv_2", "classifier.3": "logits"}
    out = {}
    for module, layer in head.items():
        if f"{module}.weight" in state:
            out[f"{layer}.kernel"] = state.pop(f"{module}.weight")[:, :, None, None]
            out[f"{layer}.bias"] = state.pop(f"{module}.bias")
    names = {k.replace(".", "_"): v for k, v in _tv_block_names(state).items()}
    for key, value in torchvision_to_cnnkit(state).items():
        layer, weight = key.split(".", 1)
        out[f"{names.get(layer, layer)}.{weight}"] = value
    return out


_DOC = """Builds Keras' {public} ({count:,} parameters with alpha=1 and the top as Keras counts them; {trainable:,}
    trainable, torchvision's count).

    Args:
        input_shape: ``(height, width, 3)``; default ``(None, None, 3)`` (any size >= 32), as Keras.
        alpha: Width multiplier (Keras publishes 0.75 and 1.0).
        minimalistic: No squeeze-excite, hard-swish or 5x5 kernels (Keras publishes alpha=1.0).
        include_top: Whether to include the classifier (``conv_2``, ``logits``, ``predictions``).
        weights: ``None``, ``'imagenet'`` (Keras' file for this alpha/minimalistic), ``'torchvision'``
            (torchvision's file, converted) or the path to a Keras ``.h5``/``.weights.h5``, a torchvision ``.pth``
            or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        classes: Number of classes (1000 with ImageNet weights and the top).
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        dropout_rate: Dropout before ``logits``.
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        include_preprocessing: Whether the model rescales 0..255 pixels to [-1, 1] itself (Keras' default).
        name: Model name.
    """


def _make(kind: str, stack: tuple, last_point: int):
    public = f"MobileNetV3{kind.capitalize()}"

    def builder(
        input_shape: tuple[int, int, int] | None = None,
        alpha: float = 1.0,
        minimalistic: bool = False,
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        classes: int = 1000,
        pooling: str | None = None,
        dropout_rate: float = 0.2,
        classifier_activation: Any = "softmax",
        include_preprocessing: bool = True,
        name: str = public,
    ) -> Any:
        return _mobilenet_v3(kind, stack, last_point, input_shape, alpha, minimalistic, include_top, weights,
                             input_tensor, classes, pooling, dropout_rate, classifier_activation,
                             include_preprocessing, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(public=public, count=NUM_PARAMS[kind], trainable=TRAINABLE[kind])
    register = register_model(public, family="mobilenet_v3", num_params=TRAINABLE[kind], keras_params=NUM_PARAMS[kind],
                              torchvision_params=TRAINABLE[kind], weights=WEIGHTS[public],
                              num_params_source="Keras trainable weights = torchvision num_params")  # fmt: skip
    return register(builder)


MobileNetV3Small = _make("small", SMALL, 1024)
MobileNetV3Large = _make("large", LARGE, 1280)
