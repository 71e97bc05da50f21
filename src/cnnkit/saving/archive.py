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

import torch
from safetensors.torch import load as st_load

from cnnkit._version import __version__
from cnnkit.common.files import atomic_write
from cnnkit.layers.base import Layer
from cnnkit.saving.formats import _not_a_model, detect_format, read_archive, safetensors_metadata, safetensors_shapes
from cnnkit.saving.guards import load_json
from cnnkit.saving.keras_config import compile_args_from_config
from cnnkit.saving.keras_format import load_keras, save_keras
from cnnkit.saving.serialization import check_safe_mode, deserialize_layer, serialize_layer
from cnnkit.saving.weights import load_state, match_weights, misfit_error, saved_order, weight_problems, weights_bytes

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


def check_layer_config(config: Any, path: str, depth: int = 0) -> None:
    """A schema check of a saved architecture before anything is built: every layer entry is an object with a
    string ``class_name`` and an object ``config``; nested ``layers`` are lists of such entries.

    Raises:
        ValueError: naming what is malformed, instead of a KeyError or TypeError from deep inside a constructor.
    """
    problem = None
    if not isinstance(config, dict):
        problem = f"a layer entry is a {type(config).__name__}, not an object"
    elif not isinstance(config.get("class_name"), str):
        problem = f"a layer entry has no string 'class_name' (keys: {sorted(map(str, config))[:6]})"
    elif not isinstance(config.get("config"), dict):
        problem = f"the entry of {config['class_name']!r} has no 'config' object"
    else:
        inner = config["config"].get("layers")
        if inner is not None and not isinstance(inner, list):
            problem = f"the 'layers' of {config['class_name']!r} is a {type(inner).__name__}, not a list"
        else:
            for entry in inner or []:
                check_layer_config(entry, path, depth + 1)
    if problem:
        raise _not_a_model(path, f"its config.json is malformed: {problem}", "Save the model again with model.save().")


def _build(config: dict, custom_objects: dict | None, path: str, safe_mode: bool = True) -> Layer:
    try:
        return deserialize_layer(config, custom_objects, safe_mode=safe_mode)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise _not_a_model(
            path, f"its config.json is malformed ({type(e).__name__}: {e})", "Save the model again with model.save()."
        ) from None


def _check_declared_shapes(
    config: dict,
    declared: dict,
    order: list[str] | None,
    custom_objects: dict | None,
    path: str,
    safe_mode: bool = True,
) -> None:
    """Builds the architecture on PyTorch's meta device (shapes, no memory) and checks it against the shapes the
    weights file declares, so a config asking for Dense(20000) on 20000 inputs is refused before it allocates."""
    try:
        with torch.device("meta"):
            probe = _build(config, custom_objects, path, safe_mode)
    except (NotImplementedError, RuntimeError):  # a custom layer that needs real tensors to build: checked after
        return
    target = probe.state_dict()
    stand_ins = {k: torch.empty(shape, device="meta") for k, shape in declared.items()}
    problems = weight_problems(target, match_weights(target, stand_ins, order))
    if problems:
        raise misfit_error(
            len(target),
            problems,
            f"{path!r} (config.json against model.safetensors)",
            ("The file's architecture and weights disagree: it is damaged or was altered. Save the model again."),
        )


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
    marker = load_json(entries.get("cnnkit.json", b"{}"), "cnnkit.json of the model file")
    config = load_json(entries["config.json"], "config.json of the model file")
    compile_config = load_json(entries["training.json"], "training.json") if "training.json" in entries else None
    version = marker.get("format_version", FORMAT_VERSION) if isinstance(marker, dict) else None
    if not isinstance(version, int):
        raise _not_a_model(path, f"its cnnkit.json is malformed ({marker!r:.100})", "Save the model again.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by a newer cnnkit (format version {marker['format_version']}). Expected format "
            f"version <= {FORMAT_VERSION}. Upgrade cnnkit to load it."
        )
    check_layer_config(config, path)
    check_safe_mode(config, safe_mode)
    declared = safetensors_shapes(entries["model.safetensors"])
    order = saved_order(safetensors_metadata(entries["model.safetensors"]))
    _check_declared_shapes(config, declared, order, custom_objects, path, safe_mode)
    model = _build(config, custom_objects, path, safe_mode)
    try:
        tensors = st_load(entries["model.safetensors"])
    except Exception as e:  # safetensors raises its own error types for corrupt data
        raise _not_a_model(path, f"its weights are corrupt ({e})", "Save the model again.") from None
    load_state(model, tensors, path)
    if compile and compile_config is not None and hasattr(model, "compile_from_config"):
        model.compile_from_config(compile_args_from_config(compile_config, custom_objects, safe_mode))
        model.load_training_state(entries)
    return model
