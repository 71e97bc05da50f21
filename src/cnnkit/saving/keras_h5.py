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
import torch

from cnnkit.common.naming import to_snake_case
from cnnkit.layers.base import Layer
from cnnkit.saving.guards import UnsafeFileError, check_finite, check_hdf5, check_regular, read_dataset


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


def _open(path: Any, source: str) -> h5py.File:
    """The file (a name or a binary file object) opened read-only after :func:`check_hdf5` refused external storage,
    external links, dangling soft links and virtual datasets."""
    if isinstance(path, (str, os.PathLike)):
        check_regular(path, "weights")
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise UnsafeFileError(
            f"{source} is not a readable HDF5 file ({e}). Expected a Keras .weights.h5 or .h5 file. Received: "
            f"path={source}. Save the weights again."
        ) from None
    try:
        check_hdf5(f, source)
    except BaseException:
        f.close()
        raise
    return f


def check_safe(f: h5py.File, source: str) -> None:
    """Refuse an HDF5 file that reaches outside itself or holds anything but numeric arrays, before any data is read
    (:func:`cnnkit.saving.guards.check_hdf5`, kept under this name for the ``.keras`` reader)."""
    check_hdf5(f, source)


def _malformed(source: str, error: Exception) -> UnsafeFileError:
    return UnsafeFileError(
        f"The HDF5 file {source} is malformed ({type(error).__name__}: {error}). Expected the layout Keras writes "
        f"(layers/<name>/vars/<i> or layer_names/weight_names). Received: path={source}. Save the weights again "
        "with Keras' or cnnkit's save_weights()."
    )


def read_keras3(model: Layer, path: Any, skip_mismatch: bool = False, source: str | None = None) -> None:
    """Read a Keras 3 weights layout (``path``: a file name or a binary file object) into ``model``.

    Every array's shape is compared from its header before anything is read.
    """
    ours = keras3_paths(model)
    source = source or repr(os.fspath(path))
    problems = []
    assignments = []
    with _open(path, source) as f:
        try:
            found: dict[str, list[Any]] = {}

            def visit(name: str, obj: Any) -> None:
                # Only the layers' variables: Keras also keeps its optimizer's (and metrics') under other groups.
                if isinstance(obj, h5py.Group) and name.startswith("layers/") and name.endswith("/vars") and len(obj):
                    found[name[: -len("/vars")]] = [obj[str(i)] for i in range(len(obj))]

            f.visititems(visit)
            for key, layer in ours.items():
                expected = layer.get_weights()
                if not expected:
                    continue
                datasets = found.pop(key, None)
                if datasets is None:
                    problems.append(f"layer {layer.name!r} ({type(layer).__name__}): no weights at '{key}' in the file")
                    continue
                # Shapes come from the headers: nothing is read unless every array has the model's shape.
                shapes_file = [tuple(getattr(d, "shape", ())) for d in datasets]
                shapes_model = [a.shape for a in expected]
                if shapes_file != shapes_model or not all(isinstance(d, h5py.Dataset) for d in datasets):
                    problems.append(
                        f"layer {layer.name!r} ({type(layer).__name__}) at '{key}': the file has shapes "
                        f"{shapes_file}, the model expects {shapes_model}"
                    )
                    continue
                arrays = [
                    read_dataset(d, s, f"{key}/vars/{i}", source)
                    for i, (d, s) in enumerate(zip(datasets, shapes_model))
                ]
                assignments.append((layer, arrays))
        except (KeyError, TypeError, AttributeError, OSError) as e:
            raise _malformed(source, e) from None
    # A compiled Keras model's file also holds its optimizer's slots; weights loading ignores them, as Keras does.
    found = {k: v for k, v in found.items() if k != "optimizer" and not k.startswith("optimizer/")}
    problems += [f"the file has weights at '{key}' that no layer of the model takes" for key in found]
    _finish(source, problems, assignments, skip_mismatch)


def _finish(source: str, problems: list[str], assignments: list, skip_mismatch: bool) -> None:
    for layer, arrays in assignments:
        check_finite({f"{layer.name}/{i}": torch.from_numpy(np.asarray(a)) for i, a in enumerate(arrays)}, source)
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


def legacy_layers(path: str, expected: list[list[tuple[int, ...]]] | None = None) -> list[tuple[str, list[np.ndarray]]]:
    """(layer name, arrays) of every layer with weights in a legacy Keras ``.h5`` file, in model order.

    With ``expected`` (the model's shapes, layer by layer), a layer whose shapes differ in the headers comes back
    with its arrays empty instead of read, so a header declaring a huge dataset costs nothing.
    """
    source = repr(os.fspath(path))
    with _open(path, source) as f:
        try:
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
                if not names:
                    continue
                datasets = [group[w] for w in names]
                shapes = [tuple(getattr(d, "shape", ())) for d in datasets]
                want = expected[len(out)] if expected is not None and len(out) < len(expected) else None
                if want is not None and [tuple(s) for s in want] != shapes:
                    out.append((name, [_Shape(s) for s in shapes]))
                    continue
                out.append((name, [read_dataset(d, None, f"{name}/{w}", source) for d, w in zip(datasets, names)]))
        except (KeyError, TypeError, AttributeError, OSError) as e:
            raise _malformed(source, e) from None
    return out


class _Shape:
    """Stands for an array left unread because its header's shape is not the model's: only ``shape`` is known."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def read_legacy(model: Layer, path: str, skip_mismatch: bool = False) -> None:
    model_layers = [layer for layer in model.layers if layer.get_weights()]
    file_layers = legacy_layers(path, [[a.shape for a in layer.get_weights()] for layer in model_layers])
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
    # Names and attributes only: no link is followed and no dataset read (the readers run check_hdf5).
    with h5py.File(path, "r") as f:
        return "layer_names" not in f.attrs and "model_weights" not in f and "layers" in f
