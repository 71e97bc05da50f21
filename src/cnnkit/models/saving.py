"""Saving and loading without pickle.

A ``.cnnkit`` file is a zip archive holding ``cnnkit.json`` (format marker), ``config.json`` (the architecture, as
layer class names and constructor arguments) and ``model.safetensors`` (the weights); training state may add
``optimizer.safetensors`` and ``training.json``. Loading reads JSON and safetensors only, and builds layers from
cnnkit's registry (or the caller's ``custom_objects``): nothing in a file can make us import or run code.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import cnnkit
from cnnkit.layers.base import Layer
from cnnkit.layers.naming import get_layer_class

FORMAT = "cnnkit-model"
FORMAT_VERSION = 1


def serialize_layer(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(data: dict[str, Any], custom_objects: dict | None = None) -> Layer:
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(
            f"Invalid layer config. Expected {{'class_name': ..., 'config': ...}}. Received: {data!r:.200}."
        )
    cls = get_layer_class(data["class_name"], custom_objects)
    if "custom_objects" in cls.from_config.__code__.co_varnames:
        return cls.from_config(data["config"], custom_objects=custom_objects)
    return cls.from_config(data["config"])


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], overwrite: bool = True) -> None:
    """Write through ``write(file)`` into a temporary file beside ``path``, fsync, then rename over ``path``."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} already exists. Pass overwrite=True to replace it.")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights as contiguous CPU tensors keyed by ``layer_name.weight_name``."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def weights_bytes(model: torch.nn.Module) -> bytes:
    """Safetensors bytes of the weights; the metadata keeps their order, so a twin model with other automatic
    layer names (``dense_3`` instead of ``dense``) can still load them by position."""
    tensors = state_tensors(model)
    return st_save(tensors, metadata={"cnnkit_order": json.dumps(list(tensors))})


def _order_of(data: bytes) -> list[str] | None:
    """The key order stored in a safetensors header's metadata, if any."""
    try:
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + size])
        return json.loads(header.get("__metadata__", {}).get("cnnkit_order", "null"))
    except (ValueError, TypeError):
        return None


def save_model(model: Layer, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} cannot be saved before it is built (its weights do not exist yet). Call it on data "
            f"or give it an input shape first."
        )
    config = serialize_layer(model)
    entries: dict[str, bytes] = {
        "cnnkit.json": json.dumps(
            {"format": FORMAT, "format_version": FORMAT_VERSION, "cnnkit_version": cnnkit.__version__}
        ).encode(),
        "config.json": json.dumps(config, indent=1).encode(),
        "model.safetensors": weights_bytes(model),
    }
    trainer = getattr(model, "_trainer", None)
    if trainer is not None and hasattr(trainer, "saved_state"):
        entries.update(trainer.saved_state())  # extra entries (optimizer state, compile config) by name

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in entries.items():
                archive.writestr(name, data)

    atomic_write(filepath, write, overwrite)


def _not_a_model(path: str, what: str, fix: str) -> ValueError:
    return ValueError(
        f"{path!r} is not a cnnkit model file: {what}. Expected a .cnnkit file written by model.save(). {fix}"
    )


def read_archive(filepath: str | os.PathLike) -> dict[str, bytes]:
    """The entries of a ``.cnnkit`` archive, after checking what kind of file it is."""
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path!r}. Check the path.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q"):
        raise _not_a_model(
            path,
            "it is a Python pickle, and cnnkit never unpickles (unpickling can run any code)",
            "Re-save the model with cnnkit's model.save().",
        )
    if head.startswith(b"\x89HDF"):
        raise _not_a_model(
            path,
            "it is an HDF5 (Keras .h5) file",
            "Build the architecture in cnnkit and call model.load_weights(path) to read its weights.",
        )
    if not zipfile.is_zipfile(path):
        raise _not_a_model(path, "it is not a zip archive, or it is truncated or corrupt", "Save the model again.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names or "model.safetensors" not in names:
                if any(n.endswith(".pkl") for n in names):
                    raise _not_a_model(
                        path,
                        "it is a PyTorch checkpoint written by torch.save (a pickle inside a zip), and cnnkit "
                        "never unpickles",
                        "Load its state dict with torch.load(path, weights_only=True) and copy it "
                        "into a cnnkit model, or save a cnnkit model with model.save().",
                    )
                raise _not_a_model(
                    path,
                    f"it has no config.json/model.safetensors (it holds: {', '.join(names[:8])})",
                    "Save the model with model.save().",
                )
            return {n: archive.read(n) for n in names if not n.endswith("/")}
    except zipfile.BadZipFile as e:
        raise _not_a_model(path, f"the archive is truncated or corrupt ({e})", "Save the model again.") from None


def load_model(
    filepath: str | os.PathLike, custom_objects: dict[str, type] | None = None, compile: bool = True
) -> Layer:
    """Rebuild a model saved with ``model.save()``: architecture, weights and (if saved) optimizer state.

    Example:
        >>> model = cnnkit.models.load_model("model.cnnkit")
    """
    path = os.fspath(filepath)
    entries = read_archive(path)
    try:
        marker = json.loads(entries.get("cnnkit.json", b"{}"))
        config = json.loads(entries["config.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _not_a_model(path, f"its JSON is corrupt ({e})", "Save the model again.") from None
    if marker.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by a newer cnnkit (format version {marker['format_version']}). Expected format "
            f"version <= {FORMAT_VERSION}. Upgrade cnnkit to load it."
        )
    model = deserialize_layer(config, custom_objects)
    try:
        tensors = st_load(entries["model.safetensors"])
    except Exception as e:  # safetensors raises its own error types for corrupt data
        raise _not_a_model(path, f"its weights are corrupt ({e})", "Save the model again.") from None
    load_state(model, tensors, path)
    if compile and "training.json" in entries:
        from cnnkit.training.trainer import Trainer

        if hasattr(Trainer, "from_saved_state"):
            model._trainer = Trainer.from_saved_state(model, entries)
    return model


def _describe(keys: Iterable[str], limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def assign_weights(model: torch.nn.Module, weights: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy ``weights`` into ``model`` after checking every name and shape; nothing is copied on error.

    Raises:
        ValueError: naming the missing keys, the unexpected keys and the shape mismatches.
    """
    target = model.state_dict()
    missing = set(target) - set(weights)
    unexpected = set(weights) - set(target)
    mismatched = [
        f"{k}: file {tuple(weights[k].shape)} vs model {tuple(target[k].shape)}"
        for k in sorted(set(target) & set(weights))
        if tuple(weights[k].shape) != tuple(target[k].shape)
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys ({len(missing)}): {_describe(missing)}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {_describe(unexpected)}")
        if mismatched:
            problems.append(f"shape mismatches ({len(mismatched)}): {'; '.join(mismatched[:8])}")
        raise ValueError(
            f"The weights do not fit the model. Expected exactly the model's {len(target)} weights with the same "
            f"shapes. Received: {source} with " + "; ".join(problems) + ". Build the model with the architecture, "
            "input size, include_top and classes the weights were saved with."
        )
    with torch.no_grad():
        for key, value in weights.items():
            target[key].copy_(value.to(dtype=target[key].dtype))


def load_state(
    model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str, order: list[str] | None = None
) -> None:
    """Copy ``tensors`` into ``model`` by name, checked by :func:`assign_weights`.

    When the names differ but ``order`` (the saved key order) lines up with the model's weights one to one with the
    same shapes, the weights are matched by position, as Keras matches a twin model's weights.
    """
    own = model.state_dict()
    if set(own) != set(tensors) and order is not None and set(order) == set(tensors) and len(order) == len(own):
        if all(tensors[k].shape == v.shape for k, v in zip(order, own.values())):
            tensors = {mine: tensors[theirs] for mine, theirs in zip(own, order)}
    assign_weights(model, tensors, repr(source))


def model_from_json(json_string: str, custom_objects: dict[str, type] | None = None) -> Layer:
    """Rebuild an architecture (no weights) from ``model.to_json()``."""
    return deserialize_layer(json.loads(json_string), custom_objects)


def save_weights(model: Layer, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Weights alone: safetensors, or a Keras 3 file when the name ends in ``.weights.h5``."""
    path = os.fspath(filepath)
    if path.endswith(".h5") and not path.endswith(".weights.h5"):
        raise ValueError(
            f"Weights files ending in .h5 are written in Keras 3's format and must end in '.weights.h5'. Received: "
            f"filepath={path!r}. Use e.g. 'model.weights.h5', or '.safetensors' for cnnkit's own format."
        )
    if path.endswith(".weights.h5"):
        from cnnkit.models.keras_h5 import write_keras3

        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".weights.h5")
        os.close(fd)
        try:
            write_keras3(model, tmp)
            atomic_write(path, lambda f: f.write(open(tmp, "rb").read()), overwrite)
        finally:
            os.unlink(tmp)
        return
    atomic_write(path, lambda f: f.write(weights_bytes(model)), overwrite)


def load_weights(model: Layer, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Read weights from safetensors, a ``.cnnkit`` model file, or Keras ``.weights.h5`` / legacy ``.h5``."""
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such weights file: {path!r}. Check the path.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        from cnnkit.models import keras_h5

        if keras_h5.is_keras3_file(path):
            keras_h5.read_keras3(model, path, skip_mismatch)
        else:
            keras_h5.read_legacy(model, path, skip_mismatch)
        return
    if zipfile.is_zipfile(path):
        data = read_archive(path)["model.safetensors"]
    else:
        with open(path, "rb") as f:
            data = f.read()
    order = _order_of(data)
    try:
        tensors = st_load(data)
    except Exception as e:
        raise ValueError(
            f"{path!r} is not a weights file cnnkit can read ({e}). Expected safetensors, a .cnnkit model, or a Keras "
            f".weights.h5/.h5 file. cnnkit never unpickles; for a torch .pth use the zoo's converters."
        ) from None
    load_state(model, tensors, path, order)
