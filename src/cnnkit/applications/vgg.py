"""VGG11/13/16/19 and their BatchNorm variants as torchvision builds them (Simonyan & Zisserman 2014).

Registered as ``VGG11``, ``VGG13``, ``VGG16_TV``, ``VGG19_TV`` and ``VGG11_BN`` ... ``VGG19_BN``: the plain names
``VGG16``/``VGG19`` are Keras' models with Keras' layer names (``vgg16.py``, which also converts torchvision files).

One layer structure loads both torchvision's and Keras' weights: torchvision's module names (``features_0``,
``classifier_0``...) and, as Keras' VGG16/VGG19, no adaptive pooling before the classifier. torchvision's
``AdaptiveAvgPool2d((7, 7))`` is the identity on the 7x7 map of a 224x224 input, which is the size both sets were
trained at, so the parameter counts and the outputs are the same (torchvision 138,357,544 = Keras 138,357,544 for
VGG16). The classifier keeps torchvision's two Dropout layers (no weights; identity at inference, as Keras' top).
BatchNorm variants put BN after every conv with torchvision's epsilon 1e-5 (their convs keep their bias).

Example:
    >>> import cnnkit, numpy as np
    >>> base = cnnkit.applications.VGG16_TV(weights="imagenet", include_top=False)  # doctest: +SKIP
    >>> x = cnnkit.applications.vgg.preprocess_input(np.zeros((1, 224, 224, 3)))  # torchvision weights: mean/std
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from cnnkit.applications import _builder
from cnnkit.applications.convert import keras_layer_arrays, linear_chw_to_hwc, torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import WeightsEntry, torchvision_entry
from cnnkit.layers import Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from cnnkit.models import Model

__all__ = [
    "VGG11", "VGG13", "VGG16_TV", "VGG19_TV", "VGG11_BN", "VGG13_BN", "VGG16_BN", "VGG19_BN",
    "preprocess_input", "decode_predictions", "from_torchvision", "from_keras", "WEIGHTS",
]  # fmt: skip

CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
# torchvision's published counts (VGG*_Weights.meta["num_params"])
NUM_PARAMS = {
    (11, False): 132_863_336, (13, False): 133_047_848, (16, False): 138_357_544, (19, False): 143_667_240,
    (11, True): 132_868_840, (13, True): 133_053_736, (16, True): 138_365_992, (19, True): 143_678_248,
}  # fmt: skip
_TV = "https://download.pytorch.org/models/"
_TV_RECIPE = "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"
_TV_FILES = {
    (11, False): ("vgg11-8a719046.pth", 69.020, 88.628), (11, True): ("vgg11_bn-6002323d.pth", 70.370, 89.810),
    (13, False): ("vgg13-19584684.pth", 69.928, 89.246), (13, True): ("vgg13_bn-abd245e5.pth", 71.586, 90.374),
    (16, False): ("vgg16-397923af.pth", 71.592, 90.382), (16, True): ("vgg16_bn-6c64b313.pth", 73.360, 91.516),
    (19, False): ("vgg19-dcbb9e9d.pth", 72.376, 90.876), (19, True): ("vgg19_bn-c79401a0.pth", 74.218, 91.842),
}  # fmt: skip


def _weights_table(depth: int, bn: bool) -> dict[str, WeightsEntry]:
    file, acc1, acc5 = _TV_FILES[(depth, bn)]
    table = {"imagenet": torchvision_entry(_TV + file, NUM_PARAMS[(depth, bn)], acc1, acc5, _TV_RECIPE)}
    return table


def _public(depth: int, bn: bool) -> str:
    return f"VGG{depth}" + ("_BN" if bn else ("_TV" if depth in (16, 19) else ""))


WEIGHTS = {_public(d, bn): _weights_table(d, bn) for d in CONFIGS for bn in (False, True)}
_TOP = ("classifier_0", "classifier_3", "classifier_6")
_BLOCK_CONVS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4), 11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2)}


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "torch") -> Any:
    """Scales RGB 0..255 images: ``mode='torch'`` for torchvision weights ('imagenet', the default),
    ``mode='caffe'`` for Keras' weights ('keras_imagenet' or a Keras .h5 file)."""
    return _preprocess(x, data_format=data_format, mode=mode)


def _conv_layer_names(depth: int, bn: bool) -> list[str]:
    """torchvision's ``features`` indices of the convs: each conv takes 2 modules (conv, ReLU) or 3 with BN,
    each max pool 1."""
    names, index = [], 0
    for v in CONFIGS[depth]:
        if v == "M":
            index += 1
        else:
            names.append(f"features_{index}")
            index += 3 if bn else 2
    return names


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision VGG state dict -> cnnkit keys. classifier.0 follows the flatten of the 512x7x7 map, so its
    columns move from torchvision's (C, H, W) order to cnnkit's (H, W, C) order."""
    return torchvision_to_cnnkit(state, {"classifier.0.weight": lambda w: linear_chw_to_hwc(w, (512, 7, 7))})


def from_keras(layers: OrderedDict[str, list[np.ndarray]], depth: int) -> dict[str, torch.Tensor]:
    """Keras VGG16/19 layers -> cnnkit keys. Keras' own names (block1_conv1 ... fc1, fc2, predictions) are put in
    model order (a Keras 3 .weights.h5 lists its layers alphabetically); other names are taken in file order, as
    Keras loads legacy .h5 files. Keras' Flatten is in (H, W, C) order like cnnkit's, so fc1 needs no permutation."""
    targets = _conv_layer_names(depth, False) + list(_TOP)
    keras_names = [f"block{b}_conv{i}" for b, n in enumerate(_BLOCK_CONVS[depth], 1) for i in range(1, n + 1)]
    keras_names += ["fc1", "fc2", "predictions"]
    if set(layers) <= set(keras_names):
        arrays = [layers[n] for n in keras_names if n in layers]
    else:
        arrays = list(layers.values())
    if len(arrays) not in (len(targets), len(targets) - 3):  # a "notop" file lacks the 3 Dense layers
        raise ValueError(
            f"The Keras file does not hold a VGG{depth}. Expected {len(targets)} layers with weights (or "
            f"{len(targets) - 3} without the top). Received: {len(arrays)} layers ({', '.join(list(layers)[:4])}"
            "...). Load a file saved from keras.applications.VGG" + str(depth) + "."
        )
    out = {}
    for target, values in zip(targets, arrays, strict=False):
        kind = "dense" if target.startswith("classifier") else "conv"
        out.update({f"{target}.{k}": v for k, v in keras_layer_arrays(kind, values).items()})
    return out


def _vgg(depth: int, bn: bool, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
         classes: int, classifier_activation: Any, dropout: float, name: str) -> Any:  # fmt: skip
    table = WEIGHTS[_public(depth, bn)]
    _builder.check_arguments(weights, table, include_top, classes, pooling)
    _builder.check_classifier_activation(classifier_activation, weights)
    pretrained_top = include_top and _builder.is_named(weights, table)
    inputs = _builder.make_input(input_shape, input_tensor, (224, 224, 3), 32, require_default=pretrained_top)
    x, index = inputs, 0
    for v in CONFIGS[depth]:
        if v == "M":
            x = MaxPooling2D(2, strides=2, name=f"features_{index}")(x)
            index += 1
        elif bn:
            x = Conv2D(v, 3, padding="same", name=f"features_{index}")(x)
            x = BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"features_{index + 1}")(x)
            x = Activation("relu", name=f"features_{index + 2}")(x)
            index += 3
        else:
            x = Conv2D(v, 3, padding="same", activation="relu", name=f"features_{index}")(x)
            index += 2
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="classifier_0")(x)
        x = Dropout(dropout, name="classifier_2")(x)
        x = Dense(4096, activation="relu", name="classifier_3")(x)
        x = Dropout(dropout, name="classifier_5")(x)
        x = Dense(classes, activation=classifier_activation, name="classifier_6")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model,
        weights,
        table,
        include_top=include_top,
        top_layers=_TOP,
        from_torchvision=from_torchvision,
        from_keras=None if bn else (lambda layers: from_keras(layers, depth)),
    )
    return model


_DOC = """Builds {title} ({count:,} parameters with the 1000-class top, as torchvision).

    Args:
        include_top: Whether to include the 3 fully connected layers (then the input must be 224x224x3).
        weights: ``None``, ``'imagenet'`` (torchvision's weights{keras}) or a path to a torchvision ``.pth``,
            {files}a ``.safetensors`` or ``.cnnkit`` file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``; at least 32x32 without the top.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of the last layer; ``None`` returns logits (as torchvision).
        dropout: Dropout rate of the classifier (torchvision: 0.5; Keras' VGG has none - same at inference).
        name: Model name.
    """


def _make(depth: int, bn: bool):
    public = _public(depth, bn)

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        dropout: float = 0.5,
        name: str = f"vgg{depth}" + ("_bn" if bn else ""),
    ) -> Any:
        return _vgg(depth, bn, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, dropout, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(
        title=f"VGG{depth}" + (" with BatchNorm" if bn else ""),
        count=NUM_PARAMS[(depth, bn)],
        keras="",
        files="" if bn else "a Keras ``.h5``/``.weights.h5``, ",
    )
    return register_model(
        public,
        family="vgg",
        num_params=NUM_PARAMS[(depth, bn)],
        torchvision_params=NUM_PARAMS[(depth, bn)],
        num_params_source="torchvision VGG weights table",
        weights=WEIGHTS[public],
    )(builder)


VGG11, VGG13, VGG16_TV, VGG19_TV = (_make(d, False) for d in (11, 13, 16, 19))
VGG11_BN, VGG13_BN, VGG16_BN, VGG19_BN = (_make(d, True) for d in (11, 13, 16, 19))
