"""Keras ``.h5`` / ``.weights.h5`` files into the zoo's Keras-named models, by layer name or as Keras matches them.

The zoo's Keras families carry Keras' layer names, so a file saved from ``keras.applications.X`` is matched layer by
layer by name. Keras' auto-named layers (InceptionV3's ``conv2d_17``, ResNetV2's ``max_pooling2d_2``) carry a
per-session counter, so their names in a file depend on what was built before it was saved (Keras' own ImageNet
files say ``conv2d_1``...). Where names do not all match, the file is matched the way Keras itself loads it: a legacy
``.h5`` by the order of the layers with weights, a Keras 3 ``.weights.h5`` by its group paths (class name and
position, ``layers/conv2d_3``). Either way every array's shape is checked before anything is copied.
"""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np

from cnnkit.applications.weight_files import detect_format
from cnnkit.saving.keras_h5 import keras3_paths, legacy_layers

__all__ = ["load_keras_layers"]


def _read(path: str | os.PathLike, kind: str) -> list[tuple[str | None, str, list[np.ndarray]]]:
    """``(keras 3 group path or None, layer name, arrays)`` for every layer with weights, in the file's order."""
    if kind != "keras3":
        return [(None, name, arrays) for name, arrays in legacy_layers(os.fspath(path))]
    found: list[tuple[str | None, str, list[np.ndarray]]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and name.endswith("/vars") and len(obj):
            layer = obj.attrs.get("name", name[: -len("/vars")])
            layer = layer.decode("utf8") if isinstance(layer, bytes) else str(layer)
            found.append((name[: -len("/vars")], layer, [np.asarray(obj[str(i)]) for i in range(len(obj))]))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return found


def _pairs(model: Any, entries: list, kind: str, include_top: bool, where: str) -> list[tuple[Any, list]]:
    ours = [layer for layer in model.layers if layer.weights]
    by_name = {name: arrays for _, name, arrays in entries}
    if all(layer.name in by_name for layer in ours):
        return [(layer, by_name[layer.name]) for layer in ours]
    if kind == "keras3":
        by_path = {path: arrays for path, _, arrays in entries}
        # By path, layer by layer: a nested model (ConvNeXt's stem) has no group of its own, its layers' groups
        # are nested below its path (``layers/sequential/layers/conv2d``).
        leaves = {path: layer for path, layer in keras3_paths(model).items() if layer.weights}
        missing = [layer.name for path, layer in leaves.items() if path not in by_path]
        if not missing:
            return [(layer, by_path[path]) for path, layer in leaves.items()]
        raise ValueError(
            f"The Keras file does not hold this model's layers. Expected layers named as the model's or at the same "
            f"Keras 3 paths. Received: {where}, which lacks {len(missing)} of them ({', '.join(missing[:4])}, ...). "
            f"Save the weights of the same keras.applications model ({model.name})."
        )
    extra_top = len(entries) > len(ours) and not include_top
    first = [name for _, name, _ in entries[:3]]
    if len(entries) != len(ours) and not extra_top:
        raise ValueError(
            f"The Keras file does not hold this model's layers. Expected {len(ours)} layers with weights (or "
            f"Keras' layer names). Received: {where} with {len(entries)} layers ({', '.join(first)}, ...). Save the "
            f"weights of the same keras.applications model ({model.name})."
        )
    return [(layer, entry[2]) for layer, entry in zip(ours, entries, strict=False)]


def load_keras_layers(model: Any, path: str | os.PathLike, include_top: bool = True) -> None:
    """Loads a Keras weights file into a Keras-named zoo model (by name, else by Keras' own matching rule).

    A file with the classifier loads into a model built with ``include_top=False``: its extra top layers are
    ignored, as Keras' "notop" files are the same file without them.
    """
    where = f"weights={os.fspath(path)!r}"
    kind = detect_format(path)
    pairs = _pairs(model, _read(path, kind), kind, include_top, where)
    problems = []
    for layer, arrays in pairs:
        expected = [w.shape for w in layer.get_weights()]
        if [a.shape for a in arrays] != expected:
            problems.append(f"{layer.name}: file {[a.shape for a in arrays]} vs model {expected}")
    if problems:
        raise ValueError(
            f"The weights do not fit the model. Expected the shapes of the model's layers. Received: {where} with "
            f"{len(problems)} mismatches ({'; '.join(problems[:4])}). Build the model with the input size, "
            "include_top and classes the weights were saved with."
        )
    for layer, arrays in pairs:
        layer.set_weights(arrays)
