"""Keras' ConvNeXtTiny/Small/Base/Large/XLarge (``keras.applications.convnext``; Liu et al. 2022, arXiv:2201.03545).

Keras' architecture and layer names: the ImageNet normalisation inside the model (``{name}_prestem_normalization``,
with ``include_preprocessing``), the stem and the three downsampling blocks as nested ``Sequential`` models
(``convnext_tiny_stem``, ``convnext_tiny_downsampling_block_0`` ...), the blocks ``{name}_stage_{i}_block_{j}_``
``depthwise_conv``, ``layernorm``, ``pointwise_conv_1``, ``gelu``, ``pointwise_conv_2``, ``layer_scale`` and
``identity`` (``stochastic_depth`` when ``drop_path_rate`` > 0), and the head ``{name}_head_gap``, ``_head_layernorm``,
``_head_dense``. The model takes pixels in 0..255; ``preprocess_input`` is the identity, as in Keras.

Keras closes each block with ``inputs + x``, a tensor operation that its graph records but does not list in
``model.layers``; cnnkit's graph holds layers only, so the sum is an (auto-named) ``Add`` layer at the same place.

Weights: ``'imagenet'`` is Keras' file (sha256-checked, as Keras publishes); ``'torchvision'`` is torchvision's file
(Tiny to Large), converted by ``from_torchvision``. torchvision builds the same network with the same epsilons
(1e-6) and exact GELU; its input is normalised outside the model with the statistics Keras' prestem layer holds
(mean 255*(0.485, 0.456, 0.406), std 255*(0.229, 0.224, 0.225)), so the converted model takes 0..255 pixels too.

Example:
    >>> import cnnkit
    >>> base = cnnkit.applications.ConvNeXtTiny(include_top=False, input_shape=(32, 32, 3))
    >>> base.get_layer("convnext_tiny_stage_2_block_8_layer_scale").gamma.shape
    torch.Size([384])
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from cnnkit.applications import _builder
from cnnkit.applications._mobile import finish
from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.registry import register_model
from cnnkit.applications.weights import WeightsEntry, torchvision_entry
from cnnkit.layers import (
    Activation,
    Add,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    LayerNormalization,
    LayerScale,
    Normalization,
    StochasticDepth,
)
from cnnkit.models import Sequential

__all__ = ["ConvNeXt", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge",
           "preprocess_input", "decode_predictions", "from_torchvision", "FROM_TORCHVISION", "WEIGHTS"]  # fmt: skip

# (depths, projection dims) per variant, as keras.applications.convnext.MODEL_CONFIGS; default size 224.
VARIANTS = {"tiny": ((3, 3, 9, 3), (96, 192, 384, 768)), "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
            "base": ((3, 3, 27, 3), (128, 256, 512, 1024)), "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
            "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048))}  # fmt: skip
PUBLIC = {"tiny": "ConvNeXtTiny", "small": "ConvNeXtSmall", "base": "ConvNeXtBase", "large": "ConvNeXtLarge",
          "xlarge": "ConvNeXtXLarge"}  # fmt: skip
# Keras' count_params() with the top = its trainable count = torchvision's num_params (Tiny-Large): ConvNeXt has no
# moving statistics, and the prestem normalisation's constants are not weights.
NUM_PARAMS = {"tiny": 28_589_128, "small": 50_223_688, "base": 88_591_464, "large": 197_767_336,
              "xlarge": 350_196_968}  # fmt: skip
EPSILON = 1e-6  # every LayerNormalization of Keras' (and torchvision's) ConvNeXt
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)
_SHA256 = {  # keras/src/applications/convnext.py WEIGHTS_HASHES (with top, without)
    "tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
             "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
              "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
             "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
              "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
               "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}  # fmt: skip
_ACC1 = {"tiny": 81.3, "small": 82.3, "base": 85.3, "large": 86.3, "xlarge": 86.7}  # keras.io/api/applications
_TV = {  # torchvision's IMAGENET1K_V1 files and their acc@1, acc@5 (torchvision has no XLarge)
    "tiny": ("convnext_tiny-983f1562.pth", 82.520, 96.146),
    "small": ("convnext_small-0c510722.pth", 83.616, 96.650),
    "base": ("convnext_base-6075fbad.pth", 84.062, 96.870),
    "large": ("convnext_large-ea097f82.pth", 84.414, 96.976),
}
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"


def _table(variant: str) -> dict[str, WeightsEntry]:
    common = {"md5": None, "layout": "keras_h5", "preprocessing": "none", "classes": "imagenet",
              "num_params": NUM_PARAMS[variant], "metrics": {"acc@1": _ACC1[variant]},
              "source": "Keras applications; the authors' checkpoints (facebookresearch/ConvNeXt; Base, Large and "
                        "XLarge pre-trained on ImageNet-21k) converted (sayakpaul/keras-convnext-conversion)",
              "licence": "MIT (facebookresearch/ConvNeXt)"}  # fmt: skip
    sha, sha_notop = _SHA256[variant]
    table = {
        "imagenet": WeightsEntry(url=f"{KERAS_URL}convnext_{variant}.h5", sha256=sha, **common),
        "imagenet_notop": WeightsEntry(
            url=f"{KERAS_URL}convnext_{variant}_notop.h5", sha256=sha_notop, include_top=False, **common
        ),  # fmt: skip
    }
    if variant in _TV:
        file, acc1, acc5 = _TV[variant]
        tv = torchvision_entry(
            "https://download.pytorch.org/models/" + file,
            NUM_PARAMS[variant],
            acc1,
            acc5,
            "https://github.com/pytorch/vision/tree/main/references/classification#convnext",
        )
        # Converted, the file's normalisation is the model's prestem layer: it takes 0..255 pixels ("none").
        table["torchvision"] = dataclasses.replace(tv, preprocessing="none")
    return table


WEIGHTS = {PUBLIC[v]: _table(v) for v in VARIANTS}


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity, as ``keras.applications.convnext``: the model normalises 0..255 pixels itself."""
    return x


def _block(x: Any, dim: int, drop_path_rate: float, layer_scale_init_value: float | None, name: str) -> Any:
    """Keras' ConvNeXtBlock: 7x7 depthwise conv, LayerNorm, the 4x MLP as Dense layers on the channel axis,
    LayerScale, stochastic depth (or a linear Activation), and the residual sum."""
    inputs = x
    x = Conv2D(dim, 7, padding="same", groups=dim, name=f"{name}_depthwise_conv")(x)
    x = LayerNormalization(epsilon=EPSILON, name=f"{name}_layernorm")(x)
    x = Dense(4 * dim, name=f"{name}_pointwise_conv_1")(x)
    x = Activation("gelu", name=f"{name}_gelu")(x)
    x = Dense(dim, name=f"{name}_pointwise_conv_2")(x)
    if layer_scale_init_value is not None:
        x = LayerScale(layer_scale_init_value, dim, name=f"{name}_layer_scale")(x)
    if drop_path_rate:
        x = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")(x)
    else:
        x = Activation("linear", name=f"{name}_identity")(x)
    return Add()([inputs, x])  # Keras: `inputs + x`, an unnamed operation (see the module's docstring)


def _check_name(weights: Any, weights_name: str | None, name: str) -> None:
    """Keras' rule: its ImageNet file is ``{name}.h5``, so with ``weights='imagenet'`` the name must hold the
    variant's (its layer names are the file's)."""
    if weights == "imagenet" and weights_name is not None and weights_name not in name:
        raise ValueError(
            f"The model name does not match the weights variant. Expected a name containing '{weights_name}' with "
            f"weights='imagenet'. Received: name={name!r}. Pass name='{weights_name}' (the default)."
        )


def ConvNeXt(  # noqa: N802 (Keras' name)
    depths: Sequence[int],
    projection_dims: Sequence[int],
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-6,
    default_size: int = 224,
    name: str = "convnext",
    include_preprocessing: bool = True,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    weights_name: str | None = None,
) -> Any:
    """Keras' ``keras.applications.convnext.ConvNeXt``: any depths and widths, the stochastic depth schedule
    (``drop_path_rate`` rising linearly over the blocks from 0) and the LayerScale start (``None``: no LayerScale).

    Example:
        >>> model = ConvNeXt([1, 1, 1, 1], [8, 16, 32, 64], drop_path_rate=0.1, input_shape=(32, 32, 3), classes=5)
        >>> model.get_layer("convnext_stage_3_block_0_stochastic_depth").drop_path_rate
        0.1
    """
    if len(depths) != 4 or len(projection_dims) != 4:
        raise ValueError(
            f"ConvNeXt has four stages. Expected four depths and four projection dims. Received: depths={depths!r}, "
            f"projection_dims={projection_dims!r}. Pass one value per stage."
        )
    variant = (weights_name or "").rsplit("convnext_", 1)[-1]
    table = WEIGHTS.get(PUBLIC.get(variant, ""), {})
    if _builder.is_named(weights, table) and (tuple(depths), tuple(projection_dims)) != VARIANTS[variant]:
        raise ValueError(
            f"The architecture does not match the {weights_name} weights. Expected depths={VARIANTS[variant][0]} and "
            f"projection_dims={VARIANTS[variant][1]}. Received: depths={depths!r}, projection_dims="
            f"{projection_dims!r}. Use {PUBLIC[variant]}() or weights=None."
        )
    _check_name(weights, weights_name, name)
    inputs = _builder.keras_input(weights, table, include_top, classes, pooling, classifier_activation,
                                  input_shape, input_tensor, default_size, 32)  # fmt: skip
    x = inputs
    if include_preprocessing and inputs.shape[-1] == 3:
        x = Normalization(mean=[m * 255 for m in IMAGENET_MEAN_RGB], variance=[(s * 255) ** 2 for s in
                          IMAGENET_STDDEV_RGB], name=f"{name}_prestem_normalization")(x)  # fmt: skip
    stem = Sequential([Conv2D(projection_dims[0], 4, strides=4, name=f"{name}_stem_conv"),
                       LayerNormalization(epsilon=EPSILON, name=f"{name}_stem_layernorm")],
                      name=f"{name}_stem")  # fmt: skip
    downsampling = [stem] + [
        Sequential(
            [
                LayerNormalization(epsilon=EPSILON, name=f"{name}_downsampling_layernorm_{i}"),
                Conv2D(projection_dims[i + 1], 2, strides=2, name=f"{name}_downsampling_conv_{i}"),
            ],
            name=f"{name}_downsampling_block_{i}",
        )  # fmt: skip
        for i in range(3)
    ]
    rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]  # Keras' (and the paper's) schedule
    done = 0
    for i in range(4):
        x = downsampling[i](x)
        for j in range(depths[i]):
            x = _block(x, projection_dims[i], rates[done + j], layer_scale_init_value, f"{name}_stage_{i}_block_{j}")
        done += depths[i]
    if include_top:
        x = GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = LayerNormalization(epsilon=EPSILON, name=f"{name}_head_layernorm")(x)
        x = Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
        last_norm = f"{name}_head_layernorm"
    else:
        if pooling == "avg":
            x = GlobalAveragePooling2D()(x)
        elif pooling == "max":
            x = GlobalMaxPooling2D()(x)
        norm = LayerNormalization(epsilon=EPSILON)  # Keras leaves it auto-named
        x = norm(x)
        last_norm = norm.name

    def convert(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return from_torchvision(state, name=name, last_norm=last_norm)

    return finish(inputs, x, name, weights, table, include_top, (f"{name}_head_dense",), convert)


_BLOCK = {"block.0": ("depthwise_conv", "conv"), "block.2": ("layernorm", "norm"),
          "block.3": ("pointwise_conv_1", "linear"), "block.5": ("pointwise_conv_2", "linear")}  # fmt: skip


def _keras_layer(module: str, name: str, last_norm: str) -> tuple[str, str] | None:
    """A torchvision ConvNeXt module path -> (the cnnkit layer path in Keras' model, the kind of layer), or None."""
    head = {"classifier.0": (last_norm, "norm"), "classifier.2": (f"{name}_head_dense", "linear")}
    if module in head:
        return head[module]
    m = re.fullmatch(r"features\.(\d+)\.(\d+)(?:\.(.+))?", module)
    if m is None:
        return None
    k, part, inner = int(m[1]), m[2], m[3]
    if k == 0 and inner is None:  # the stem: Conv2dNormActivation(conv, LayerNorm2d)
        layer, kind = {"0": ("stem_conv", "conv"), "1": ("stem_layernorm", "norm")}.get(part, (None, ""))
        return (f"{name}_stem.{name}_{layer}", kind) if layer else None
    if k in (2, 4, 6) and inner is None:  # the downsampling blocks: (LayerNorm2d, conv)
        i = k // 2 - 1
        layer, kind = {"0": (f"downsampling_layernorm_{i}", "norm"),
                       "1": (f"downsampling_conv_{i}", "conv")}.get(part, (None, ""))  # fmt: skip
        return (f"{name}_downsampling_block_{i}.{name}_{layer}", kind) if layer else None
    prefix = f"{name}_stage_{(k - 1) // 2}_block_{part}"  # features.1/3/5/7: the stages' CNBlocks
    if k % 2 == 1 and inner is None:
        return f"{prefix}_layer_scale", "scale"
    if k % 2 == 1 and inner in _BLOCK:
        layer, kind = _BLOCK[inner]
        return f"{prefix}_{layer}", kind
    return None


_PARAMS = {"conv": {"weight": "kernel", "bias": "bias"}, "linear": {"weight": "kernel", "bias": "bias"},
           "norm": {"weight": "gamma", "bias": "beta"}, "scale": {"layer_scale": "gamma"}}  # fmt: skip


def from_torchvision(
    state: Mapping[str, torch.Tensor], name: str = "convnext_tiny", last_norm: str | None = None
) -> dict[str, torch.Tensor]:
    """torchvision ``convnext_*`` state dict -> cnnkit keys of Keras' ConvNeXt named `name` (a pure function).

    Names map one to one (``features.5.8.block.3`` -> ``{name}_stage_2_block_8_pointwise_conv_1``; ``features.0``
    and ``features.2/4/6`` into the nested stem and downsampling models). Layouts: conv weights are cnnkit's
    (out, in/groups, kh, kw) already; Linear ``(out, in)`` is transposed to Dense's ``(in, out)``; LayerNorm
    ``weight/bias`` are ``gamma/beta``; ``layer_scale`` ``(C, 1, 1)`` is LayerScale's ``gamma`` ``(C,)``.
    `last_norm` names the final LayerNormalization (auto-named in Keras without the top; default the head's).
    Keys it does not know come back unchanged, so the weight assignment names them as unexpected.
    """
    last_norm = last_norm or f"{name}_head_layernorm"
    out = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        found = _keras_layer(module, name, last_norm)
        if found is None or param not in _PARAMS[found[1]]:
            out[key] = value
            continue
        layer, kind = found
        if kind == "scale":
            value = value.reshape(-1)
        elif kind == "linear" and param == "weight":
            value = value.t().contiguous()
        out[f"{layer}.{_PARAMS[kind][param]}"] = value
    return out


def _converter(variant: str):
    def convert(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return from_torchvision(state, name=f"convnext_{variant}")

    return convert


FROM_TORCHVISION = {PUBLIC[v]: _converter(v) for v in VARIANTS}  # per variant: its default layer-name prefix

_DOC = """Builds Keras' {public} ({count:,} parameters, all trainable: Keras' count_params() and
    torchvision's num_params). Takes pixels in 0..255 (the normalisation is inside the model).

    Args:
        include_top: Whether to include the head (``{name}_head_gap``, ``_head_layernorm``, ``_head_dense``).
            Without it the features end in a LayerNormalization, after the optional pooling, as in Keras.
        include_preprocessing: Whether the model normalises its 0..255 input with ImageNet's statistics.
        weights: ``None``, ``'imagenet'`` (Keras' file), ``'torchvision'`` (torchvision's file, converted; Tiny to
            Large), or the path to a Keras ``.h5``/``.weights.h5``, a torchvision ``.pth`` or a cnnkit file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, 3)``, default 224x224x3 (fixed with the top and ImageNet weights).
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (1000 with ImageNet weights and the top).
        classifier_activation: Activation of the head's Dense layer; ``None`` returns logits.
        name: Model name, and the prefix of every layer name.
        model_name: The former name of ``name`` (Keras 3.0-3.3 and tf.keras); wins when given.
    """


def _make(variant: str):
    public = PUBLIC[variant]
    depths, dims = VARIANTS[variant]

    def builder(
        include_top: bool = True,
        include_preprocessing: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        name: str = f"convnext_{variant}",
        *,
        model_name: str | None = None,
    ) -> Any:
        return ConvNeXt(list(depths), list(dims), 0.0, 1e-6, 224, model_name or name, include_preprocessing,
                        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
                        weights_name=f"convnext_{variant}")  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = _DOC.format(public=public, count=NUM_PARAMS[variant], name=f"convnext_{variant}")
    register = register_model(public, family="convnext", num_params=NUM_PARAMS[variant],
                              keras_params=NUM_PARAMS[variant],
                              torchvision_params=NUM_PARAMS[variant] if variant in _TV else None,
                              weights=WEIGHTS[public],
                              num_params_source="Keras count_params() = torchvision num_params (Tiny-Large); XLarge "
                                                "Keras' count")  # fmt: skip
    return register(builder)


ConvNeXtTiny, ConvNeXtSmall, ConvNeXtBase, ConvNeXtLarge, ConvNeXtXLarge = (_make(v) for v in VARIANTS)
