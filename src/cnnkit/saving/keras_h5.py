"""Keras weight files, read and written with h5py (Keras itself is never imported).

* Keras 3 ``.weights.h5``: one group per layer, ``layers/<path>/vars/<i>``, where ``<path>`` is the snake-case
  class name made unique within its container in the order of ``model.layers`` (``conv2d``, ``conv2d_1``, ...), and
  nested models add ``layers/<path>/layers/...``. We rebuild the same paths from our model, so a layer is matched by
  its type and its position among the layers of that type, then every array's shape is checked.
* Legacy Keras 2 ``.h5`` (``model.save('x.h5')`` or the Keras applications files): the root (or the
  ``model_weights`` group) lists ``layer_names``; each layer group lists ``weight_names``. Layers with weights are
  matched in order.
"""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np

from cnnkit.common.naming import to_snake_case
from cnnkit.layers.base import Layer


def _is_container(layer: Layer) -> bool:
    """Sequential and functional models: Keras nests their layers' groups below their own."""
    return hasattr(layer, "_exec_nodes") or hasattr(layer, "_layer_list")


def keras3_paths(model: Layer, prefix: str = "") -> dict[str, Layer]:
    """Our layers keyed by the group path Keras 3 gives them in a ``.weights.h5`` file."""
    paths: dict[str, Layer] = {}
    counts: dict[str, int] = {}
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        n = counts.get(base, 0)
        counts[base] = n + 1
        path = f"{prefix}layers/{base}" + (f"_{n}" if n else "")
        if _is_container(layer):
            paths.update(keras3_paths(layer, path + "/"))
        else:
            paths[path] = layer
    return paths


_MAX_DATASET_BYTES = 1 << 34  # 16 GiB: more than any model cnnkit can hold; bounds a compressed "bomb"


def check_safe(f: h5py.File, source: str) -> None:
    """Refuse an HDF5 file that reaches outside itself or holds anything but numeric arrays, before any data is read.

    An external link or external storage would read another file of this machine; a virtual dataset maps other
    files; object, string or opaque data is not a weight.

    Raises:
        ValueError: naming the first such object.
    """

    def problem(name: str, link: Any) -> str | None:
        if isinstance(link, h5py.ExternalLink):
            return f"{name!r} is an external link to {link.filename!r}"
        if isinstance(link, h5py.SoftLink):
            return f"{name!r} is a soft link to {link.path!r}"
        obj = f.get(name)
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual:
                return f"{name!r} is a virtual dataset (mapped from other files)"
            if obj.external:
                return f"{name!r} is a dataset with external storage"
            if obj.dtype.kind not in "biuf":
                return f"{name!r} is a dataset of dtype {obj.dtype}"
            if obj.size * obj.dtype.itemsize > _MAX_DATASET_BYTES:
                return f"{name!r} is a dataset of {obj.size * obj.dtype.itemsize} bytes"
        return None

    # The first problem stops the walk (a non-None return); raising inside h5py's callback would be garbled.
    found = f.visititems_links(problem)
    if found is not None:
        raise ValueError(
            f"Refused the HDF5 weights in {source}: {found}. Expected groups and numeric datasets only, as Keras "
            f"writes them. Save the weights again with Keras or cnnkit."
        )


def read_keras3(model: Layer, path: Any, skip_mismatch: bool = False, source: str | None = None) -> None:
    """Read a Keras 3 weights layout (``path``: a file name or a binary file object) into ``model``."""
    ours = keras3_paths(model)
    source = source or repr(os.fspath(path))
    with h5py.File(path, "r") as f:
        check_safe(f, source)
        found: dict[str, list[np.ndarray]] = {}

        def visit(name: str, obj: Any) -> None:
            # Only the layers' variables: Keras also keeps its optimizer's (and metrics') under other groups.
            if isinstance(obj, h5py.Group) and name.startswith("layers/") and name.endswith("/vars") and len(obj):
                found[name[: -len("/vars")]] = [np.asarray(obj[str(i)]) for i in range(len(obj))]

        f.visititems(visit)
    # A compiled Keras model's file also holds its optimizer's slots; weights loading ignores them, as Keras does.
    found = {k: v for k, v in found.items() if k != "optimizer" and not k.startswith("optimizer/")}
    problems = []
    assignments = []
    for key, layer in ours.items():
        expected = layer.get_weights()
        if not expected:
            continue
        arrays = found.pop(key, None)
        if arrays is None:
            problems.append(f"layer {layer.name!r} ({type(layer).__name__}): no weights at '{key}' in the file")
            continue
        shapes_file = [a.shape for a in arrays]
        shapes_model = [a.shape for a in expected]
        if shapes_file != shapes_model:
            problems.append(
                f"layer {layer.name!r} ({type(layer).__name__}) at '{key}': the file has shapes {shapes_file}, "
                f"the model expects {shapes_model}"
            )
            continue
        assignments.append((layer, arrays))
    problems += [f"the file has weights at '{key}' that no layer of the model takes" for key in found]
    _finish(source, problems, assignments, skip_mismatch)


def _finish(source: str, problems: list[str], assignments: list, skip_mismatch: bool) -> None:
    if problems and not skip_mismatch:
        raise ValueError(
            f"The weights in {source} do not match the model:\n  - "
            + "\n  - ".join(problems)
            + "\nCheck that the file was saved from the same architecture, or pass skip_mismatch=True to load the "
            "layers that match."
        )
    for layer, arrays in assignments:
        layer.set_weights(arrays)


def write_keras3(model: Layer, path: Any) -> None:
    """Write ``model``'s weights as a Keras 3 ``.weights.h5`` file (``keras_model.load_weights`` reads it); ``path``
    is a file name or a binary file object."""
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        for key, layer in keras3_paths(model).items():
            group = f.require_group(key).require_group("vars")
            group.attrs["name"] = layer.name
            for i, array in enumerate(layer.get_weights()):
                group.create_dataset(str(i), data=array)


def _decode(values: Any) -> list[str]:
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def legacy_layers(path: str) -> list[tuple[str, list[np.ndarray]]]:
    """(layer name, arrays) of every layer with weights in a legacy Keras ``.h5`` file, in model order."""
    with h5py.File(path, "r") as f:
        check_safe(f, repr(os.fspath(path)))
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise ValueError(
                "The .h5 file is not a Keras weights file. Expected a 'layer_names' attribute or a 'layers' group. "
                f"Received: weights={str(path)!r} with top-level keys {list(f.keys())[:5]}. Save the model with "
                "Keras' save_weights()."
            )
        out = []
        for name in _decode(root.attrs["layer_names"]):
            group = root[name]
            names = _decode(group.attrs.get("weight_names", []))
            if names:
                out.append((name, [np.asarray(group[w]) for w in names]))
    return out


def read_legacy(model: Layer, path: str, skip_mismatch: bool = False) -> None:
    file_layers = legacy_layers(path)
    model_layers = [layer for layer in model.layers if layer.get_weights()]
    problems, assignments = [], []
    if len(file_layers) != len(model_layers):
        problems.append(
            f"the file has {len(file_layers)} layers with weights ({', '.join(n for n, _ in file_layers)}), the model "
            f"has {len(model_layers)} ({', '.join(layer.name for layer in model_layers)})"
        )
    for (name, arrays), layer in zip(file_layers, model_layers):
        shapes_file = [a.shape for a in arrays]
        shapes_model = [a.shape for a in layer.get_weights()]
        if shapes_file != shapes_model:
            problems.append(
                f"layer {layer.name!r} ({type(layer).__name__}) <- file layer {name!r}: the file has shapes "
                f"{shapes_file}, the model expects {shapes_model}"
            )
        else:
            assignments.append((layer, arrays))
    _finish(repr(os.fspath(path)), problems, assignments, skip_mismatch)


def is_keras3_file(path: str) -> bool:
    with h5py.File(path, "r") as f:
        return "layer_names" not in f.attrs and "model_weights" not in f and "layers" in f
