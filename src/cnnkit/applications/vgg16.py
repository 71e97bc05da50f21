"""Keras' VGG16 (``keras.applications.vgg16``; Simonyan & Zisserman 2014, arXiv:1409.1556), and the VGG builder
shared with ``vgg19``.

Keras' layer names: ``block1_conv1`` ... ``block5_conv3``, ``block1_pool`` ... ``block5_pool``, ``flatten``,
``fc1``, ``fc2``, ``predictions`` (the line every Grad-CAM tutorial uses, ``get_layer("block5_conv3")``, works).
Weights: ``'imagenet'`` is Keras' file ('caffe' preprocessing, the default of ``preprocess_input``);
``'torchvision'`` is torchvision's file converted on load (``from_torchvision``; 'torch' preprocessing:
``preprocess_input(x, mode="torch")``). torchvision's VGG is the same network (its ``AdaptiveAvgPool2d((7, 7))`` is
the identity on the 7x7 map of a 224x224 input), so it gives torchvision's logits. torchvision-named VGGs (and the
BatchNorm variants) are in ``vgg.py`` (``VGG16_TV``...).

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.VGG16(include_top=False, input_shape=(32, 32, 3))
    >>> base.get_layer("block5_conv3").name
    'block5_conv3'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications.convert import linear_chw_to_hwc, torchvision_to_cnnkit
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.imagenet_utils import preprocess_input as _preprocess
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import torchvision_entry
from cnnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D
from cnnkit.models import Model

__all__ = ["VGG16", "preprocess_input", "decode_predictions", "from_torchvision", "WEIGHTS"]

BLOCK_CONVS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
NUM_PARAMS = {16: 138_357_544, 19: 143_667_240}  # Keras count_params() = torchvision num_params (no BatchNorm)
_MD5 = {  # keras/src/applications/vgg16.py, vgg19.py (with top, without)
    16: ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    19: ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}
_TV_FILES = {16: ("vgg16-397923af.pth", 71.592, 90.382), 19: ("vgg19-dcbb9e9d.pth", 72.376, 90.876)}
_TV_RECIPE = "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"


def weights_table(depth: int) -> dict:
    table = _builder.keras_weights(
        f"vgg{depth}/vgg{depth}_weights_tf_dim_ordering_tf_kernels", *_MD5[depth], preprocessing="caffe",
        num_params=NUM_PARAMS[depth], acc1={16: 71.3, 19: 71.3}[depth],
        source="Keras applications; the Oxford VGG team's Caffe weights converted to Keras",
        licence="CC BY 4.0 (Oxford Visual Geometry Group)",
    )  # fmt: skip
    file, acc1, acc5 = _TV_FILES[depth]
    table["torchvision"] = torchvision_entry("https://download.pytorch.org/models/" + file, NUM_PARAMS[depth], acc1,
                                             acc5, _TV_RECIPE)  # fmt: skip
    return table


WEIGHTS = {f"VGG{d}": weights_table(d) for d in BLOCK_CONVS}


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """'caffe' preprocessing as Keras' (``'imagenet'`` weights); ``mode='torch'`` for ``weights='torchvision'``."""
    return _preprocess(x, data_format=data_format, mode=mode)


def keras_names(depth: int) -> list[str]:
    """Keras' conv layer names in order: ``block1_conv1``, ..."""
    return [f"block{b}_conv{i}" for b, n in enumerate(BLOCK_CONVS[depth], 1) for i in range(1, n + 1)]


def converter(depth: int):
    """A pure torchvision -> Keras-names converter for VGG`depth`.

    torchvision's ``features.<i>`` are its convs (each followed by a ReLU module, blocks by a max pool), so the
    i-th conv module is Keras' i-th ``blockB_convC``; ``classifier.0/3/6`` are ``fc1``/``fc2``/``predictions``.
    ``classifier.0`` follows the flatten of the 512x7x7 map: its columns move from torchvision's (C, H, W) order to
    the (H, W, C) order of Keras' Flatten.
    """

    def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        convs = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
        rename = {f"features_{i}": name for i, name in zip(convs, keras_names(depth), strict=False)}
        rename.update({"classifier_0": "fc1", "classifier_3": "fc2", "classifier_6": "predictions"})
        special = {"classifier.0.weight": lambda w: linear_chw_to_hwc(w, (512, 7, 7))}
        out = torchvision_to_cnnkit(state, special)
        return {rename.get(k.split(".")[0], k.split(".")[0]) + "." + k.split(".", 1)[1]: v for k, v in out.items()}

    return from_torchvision


from_torchvision = converter(16)


def build_vgg(depth: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
              classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    """Keras' VGG16 / VGG19."""
    table = WEIGHTS[f"VGG{depth}"]
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, 224, 32)  # fmt: skip
    x = inputs
    for block, (filters, count) in enumerate(zip((64, 128, 256, 512, 512), BLOCK_CONVS[depth], strict=True), 1):
        for i in range(1, count + 1):
            x = Conv2D(filters, 3, activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _builder.apply_pooling(x, pooling, (None, None))
    model = Model(inputs, x, name=name)
    _builder.load_weights(model, weights, table, include_top=include_top, top_layers=("fc1", "fc2", "predictions"),
                          from_torchvision=converter(depth), from_keras="layers")  # fmt: skip
    return model


_DOC = """Builds Keras' VGG{depth} ({count:,} parameters with the 1000-class top; torchvision's count is the same).

    Args:
        include_top: Whether to include the 3 fully connected layers (then the input is 224x224x3 with ImageNet
            weights).
        weights: ``None``, ``'imagenet'`` (Keras' file, 'caffe' preprocessing), ``'torchvision'`` (torchvision's
            file converted, 'torch' preprocessing) or the path to a Keras ``.h5``/``.weights.h5``, a torchvision
            ``.pth`` or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``; at least 32x32.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """


def make(depth: int):
    """Registers and returns the builder ``VGG{depth}``."""

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"vgg{depth}",
    ) -> Any:
        return build_vgg(depth, include_top, weights, input_tensor, input_shape, pooling, classes,
                         classifier_activation, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = f"VGG{depth}"
    builder.__doc__ = _DOC.format(depth=depth, count=NUM_PARAMS[depth])
    return register_model(f"VGG{depth}", family=f"vgg{depth}", num_params=NUM_PARAMS[depth],
                          keras_params=NUM_PARAMS[depth], torchvision_params=NUM_PARAMS[depth],
                          num_params_source="keras.applications and torchvision (equal)",
                          weights=WEIGHTS[f"VGG{depth}"])(builder)  # fmt: skip


VGG16 = make(16)
