"""The ``.cnnkit`` model file, without pickle.

A ``.cnnkit`` file is a zip archive holding ``cnnkit.json`` (format marker), ``config.json`` (the architecture, as
layer class names and constructor arguments) and ``model.safetensors`` (the weights); training state may add
``optimizer.safetensors`` and ``training.json``. Loading reads JSON and safetensors only, and builds layers from
cnnkit's registry (or the caller's ``custom_objects``): nothing in a file can make us import or run code.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

from safetensors.torch import load as st_load

from cnnkit._version import __version__
from cnnkit.common.files import atomic_write
from cnnkit.layers.base import Layer
from cnnkit.saving.formats import _not_a_model, detect_format, read_archive
from cnnkit.saving.keras_config import compile_args_from_config
from cnnkit.saving.keras_format import load_keras, save_keras
from cnnkit.saving.serialization import check_safe_mode, deserialize_layer, serialize_layer
from cnnkit.saving.weights import load_state, weights_bytes

FORMAT = "cnnkit-model"


FORMAT_VERSION = 1


def save_model(model: Layer, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write the whole model to one file, atomically, in the format its name says.

    ``.keras``: Keras 3's archive (``keras.models.load_model`` opens it). Any other name: cnnkit's ``.cnnkit``
    archive (architecture, weights and, once compiled, compile config and optimizer state, so training resumes).
    ``.h5``/``.hdf5`` (Keras' legacy format) is refused rather than written as something else under that name.

    Example:
        >>> cnnkit.saving.save_model(model, "model.cnnkit")  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if path.lower().endswith((".h5", ".hdf5")):
        raise ValueError(
            f"cnnkit does not write Keras' legacy HDF5 model format. Expected a '.keras' (Keras 3) or '.cnnkit' file "
            f"name. Received: filepath={path!r}. Use model.save('model.keras'), or model.save_weights('"
            f"model.weights.h5') for the weights alone."
        )
    if path.endswith(".keras"):
        save_keras(model, path, overwrite=overwrite)
        return
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} cannot be saved before it is built (its weights do not exist yet). Call it on data "
            f"or give it an input shape first."
        )
    config = serialize_layer(model)
    entries: dict[str, bytes] = {
        "cnnkit.json": json.dumps(
            {"format": FORMAT, "format_version": FORMAT_VERSION, "cnnkit_version": __version__}
        ).encode(),
        "config.json": json.dumps(config, indent=1).encode(),
        "model.safetensors": weights_bytes(model),
    }
    # Duck-typed public seams (Keras' names): a model that can train says how it was compiled and what its optimizer
    # holds; saving sits below models/ and training/ and never imports them.
    compile_config = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    if compile_config is not None:
        entries["training.json"] = json.dumps(compile_config).encode()
        entries.update(model.get_training_state())  # e.g. optimizer.safetensors, once the optimizer is built

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in entries.items():
                archive.writestr(name, data)

    atomic_write(filepath, write, overwrite=overwrite)


def load_model(
    filepath: str | os.PathLike,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,  # noqa: A002 -- Keras' argument name
    safe_mode: bool = True,
) -> Layer:
    """Rebuild a model from a ``.cnnkit`` file (architecture, weights and, if saved, optimizer state) or a Keras 3
    ``.keras`` file, whatever its name.

    Args:
        filepath: the model file.
        custom_objects: classes and functions the file may name beyond cnnkit's own and the registered ones.
        compile: compile the model as it was saved.
        safe_mode: refuse Python bytecode (a ``Lambda``'s function) in the file; pass False only for files you trust.

    Example:
        >>> model = cnnkit.models.load_model("model.cnnkit")  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if detect_format(path, "model") == "keras":
        return load_keras(path, custom_objects, compile=compile, safe_mode=safe_mode)
    entries = read_archive(path)
    try:
        marker = json.loads(entries.get("cnnkit.json", b"{}"))
        config = json.loads(entries["config.json"])
        compile_config = json.loads(entries["training.json"]) if "training.json" in entries else None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _not_a_model(path, f"its JSON is corrupt ({e})", "Save the model again.") from None
    if marker.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by a newer cnnkit (format version {marker['format_version']}). Expected format "
            f"version <= {FORMAT_VERSION}. Upgrade cnnkit to load it."
        )
    check_safe_mode(config, safe_mode)
    model = deserialize_layer(config, custom_objects, safe_mode=safe_mode)
    try:
        tensors = st_load(entries["model.safetensors"])
    except Exception as e:  # safetensors raises its own error types for corrupt data
        raise _not_a_model(path, f"its weights are corrupt ({e})", "Save the model again.") from None
    load_state(model, tensors, path)
    if compile and compile_config is not None and hasattr(model, "compile_from_config"):
        model.compile_from_config(compile_args_from_config(compile_config, custom_objects, safe_mode))
        model.load_training_state(entries)
    return model
