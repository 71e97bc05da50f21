"""Shared plumbing of the zoo builders: Keras' argument checks, the input, the top, and weight loading."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnkit.applications._keras_files import load_keras_layers
from cnnkit.applications.weight_files import detect_format, read_cnnkit_weights, read_keras_h5
from cnnkit.applications.weights import WeightsEntry, fetch_weights
from cnnkit.layers import Dense, GlobalAveragePooling2D, GlobalMaxPooling2D, Input
from cnnkit.models import Model
from cnnkit.saving.torch_pth import read_torch_state_dict
from cnnkit.saving.weights import assign_weights

# A family converter turns a file's arrays into {cnnkit state-dict key: tensor} for one model.
TorchConverter = Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]
KerasConverter = Callable[["OrderedDict[str, list[np.ndarray]]"], dict[str, torch.Tensor]]

CLASSIFIER_ACTIVATIONS = (None, "softmax", "sigmoid", "linear")


def check_arguments(
    weights: str | os.PathLike | None,
    table: Mapping[str, WeightsEntry],
    include_top: bool,
    classes: int,
    pooling: str | None,
) -> None:
    """Keras' argument rules for application builders, with its wording."""
    named = isinstance(weights, str) and weights in table
    if not (weights is None or named or (isinstance(weights, str | os.PathLike) and Path(weights).is_file())):
        names = ", ".join(f"'{k}'" for k in table) or "none for this model"
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), the name of a published "
            f"set ({names}), or the path to the weights file to be loaded. Received: weights={weights!r}. "
            "Check the spelling or that the file exists."
        )
    if named and include_top and classes != 1000:
        raise ValueError(
            f"If using `weights='{weights}'` with `include_top=True`, `classes` should be 1000. Received: "
            f"classes={classes}. Pass include_top=False and add your own head, or classes=1000."
        )
    if not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer. Received: classes={classes!r}. Pass e.g. 10.")
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            f"`pooling` must be one of None, 'avg' or 'max'. Received: pooling={pooling!r}. Pass one of those."
        )


def is_named(weights: object, table: Mapping[str, WeightsEntry]) -> bool:
    """Whether `weights` names a published set (rather than None or a file)."""
    return isinstance(weights, str) and weights in table


def make_input(
    input_shape: tuple[int, ...] | None,
    input_tensor: Any,
    default_shape: tuple[int, int, int],
    min_size: int,
    require_default: bool,
) -> Any:
    """The model's symbolic input. With a flattening top and pretrained weights, Keras fixes the input size."""
    if input_tensor is not None:
        return input_tensor
    shape = tuple(default_shape) if input_shape is None else tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape!r}. "
            f"Pass e.g. {default_shape}."
        )
    if require_default and shape != tuple(default_shape):
        raise ValueError(
            f"When setting `include_top=True` and loading pretrained weights, `input_shape` should be "
            f"{default_shape}. Received: input_shape={input_shape!r}. Pass include_top=False to use another size."
        )
    for size in shape[:2]:
        if size is not None and size < min_size:
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}. Received: input_shape={input_shape!r}. "
                "Pass larger images (or resize them)."
            )
    return Input(shape=shape)


def apply_pooling(x: Any, pooling: str | None, names: tuple[str | None, str | None] = ("avg_pool", "max_pool")) -> Any:
    """The optional global pooling of a model without its top (Keras names them per family; None: auto name)."""
    if pooling == "avg":
        return GlobalAveragePooling2D(name=names[0])(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=names[1])(x)
    return x


def check_classifier_activation(classifier_activation: Any, weights: Any) -> None:
    if weights is not None and classifier_activation not in CLASSIFIER_ACTIVATIONS:
        raise ValueError(
            "Only `None`, 'linear', 'softmax' or 'sigmoid' are allowed as `classifier_activation` with pretrained "
            f"weights. Received: classifier_activation={classifier_activation!r}. Pass one of those."
        )


def load_weights(
    model: Any,
    weights: str | os.PathLike | None,
    table: Mapping[str, WeightsEntry],
    *,
    include_top: bool,
    top_layers: Iterable[str],
    from_torchvision: TorchConverter | None,
    from_keras: KerasConverter | str | None,
) -> None:
    """Loads `weights` (a table name or a file) into `model` through the family's converters.

    ``from_keras="layers"`` marks a model with Keras' layer names: Keras files load layer by layer
    (``_keras_files.load_keras_layers``) with no converter.
    """
    if weights is None:
        return
    if isinstance(weights, str) and weights in table:
        # Keras publishes a separate file without the classifier ("notop") for include_top=False.
        entry = table.get(f"{weights}_notop", table[weights]) if not include_top else table[weights]
        path = fetch_weights(entry)
        kind = "torch" if entry.layout == "torchvision" else "keras_legacy"
    else:
        path = Path(weights)
        kind = detect_format(path)
    if kind == "torch":
        state = read_torch_state_dict(path)
        converter: Callable[[Any], dict[str, torch.Tensor]] | None = from_torchvision
        if converter is None or not any(k.endswith((".weight", ".running_mean")) for k in state):
            converter = dict  # a cnnkit state dict saved with torch.save: keys are already ours
    elif kind in ("keras3", "keras_legacy") and from_keras == "layers":  # a Keras-named model: by layer name
        load_keras_layers(model, path, include_top)
        return
    elif kind in ("keras3", "keras_legacy"):
        state, converter = read_keras_h5(path), from_keras
    else:
        state, converter = read_cnnkit_weights(path), dict
    if converter is None:
        raise ValueError(
            f"This model has no converter for {kind} files. Expected a torchvision .pth or a cnnkit file. "
            f"Received: weights={str(weights)!r}. Convert the file to a cnnkit .safetensors first."
        )
    converted = converter(state)
    if not include_top:
        tops = tuple(f"{name}." for name in top_layers)
        converted = {k: v for k, v in converted.items() if not k.startswith(tops)}
    assign_weights(model, converted, f"weights={str(weights)!r}")


KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def keras_weights(
    folder_file: str, md5: str, notop_md5: str, *, preprocessing: str, num_params: int, source: str, licence: str,
    acc1: float | None = None,
) -> dict[str, WeightsEntry]:  # fmt: skip
    """Keras' ImageNet pair of files (with and without the classifier), as ``{"imagenet", "imagenet_notop"}``.

    Keras publishes md5 digests only (``file_hash`` in keras/src/applications), so md5 is what is verified.
    """
    metrics = {} if acc1 is None else {"acc@1": acc1}
    common = {"sha256": None, "layout": "keras_h5", "preprocessing": preprocessing, "classes": "imagenet",
              "num_params": num_params, "source": source, "licence": licence, "metrics": metrics}  # fmt: skip
    return {
        "imagenet": WeightsEntry(url=KERAS_URL + folder_file + ".h5", md5=md5, **common),
        "imagenet_notop": WeightsEntry(
            url=KERAS_URL + folder_file + "_notop.h5", md5=notop_md5, include_top=False, **common
        ),  # fmt: skip
    }


def keras_input(
    weights: Any, table: Mapping[str, WeightsEntry], include_top: bool, classes: int, pooling: str | None,
    classifier_activation: Any, input_shape: Any, input_tensor: Any, default_size: int, min_size: int,
) -> Any:  # fmt: skip
    """Keras' argument checks, then the model's input (Keras fixes the size with a top and ImageNet weights)."""
    check_arguments(weights, table, include_top, classes, pooling)
    check_classifier_activation(classifier_activation, weights)
    require = include_top and is_named(weights, table)
    return make_input(input_shape, input_tensor, (default_size, default_size, 3), min_size, require_default=require)


def keras_output(
    inputs: Any, x: Any, *, include_top: bool, pooling: str | None, classes: int, classifier_activation: Any,
    name: str, weights: Any, table: Mapping[str, WeightsEntry], from_torchvision: TorchConverter | None = None,
    pool_names: tuple[str | None, str | None] = ("avg_pool", "max_pool"),
) -> Any:  # fmt: skip
    """Keras' top (``avg_pool`` + ``predictions``) or optional pooling, the Model, and its weights."""
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = apply_pooling(x, pooling, pool_names)
    model = Model(inputs, x, name=name)
    load_weights(model, weights, table, include_top=include_top, top_layers=("predictions",),
                 from_torchvision=from_torchvision, from_keras="layers")  # fmt: skip
    return model
