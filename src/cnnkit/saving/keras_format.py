"""Keras 3's ``.keras`` model file, both ways, read as hostile input.

A ``.keras`` file is a zip holding ``metadata.json`` (``keras_version``, ``date_saved``), ``config.json`` (the model
in Keras' config form, with its ``compile_config``) and ``model.weights.h5`` (the variables, one group per layer).
Reading checks the archive before parsing anything: member names, counts and sizes (declared and actual), JSON size
and depth, and the HDF5 file (no links out, no external storage, numeric data only); the architecture is rebuilt
from cnnkit's registries, so nothing a file names is imported or run.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
from typing import Any

from cnnkit._version import __version__
from cnnkit.common.files import atomic_write
from cnnkit.layers.base import Layer
from cnnkit.saving import keras_h5
from cnnkit.saving.formats import check_regular_file
from cnnkit.saving.keras_config import compile_args_from_config, compile_config_to_keras, layer_to_keras
from cnnkit.saving.serialization import check_safe_mode, deserialize_keras_object

__all__ = ["KERAS_VERSION", "load_keras", "save_keras"]

KERAS_VERSION = "3.15.1"  # the Keras version whose format this file follows (metadata.json)
MAX_MEMBERS = 256
MAX_JSON_BYTES = 32 << 20
MAX_JSON_DEPTH = 100
MAX_WEIGHTS_BYTES = 16 << 30
_MEMBERS = {"metadata.json": MAX_JSON_BYTES, "config.json": MAX_JSON_BYTES, "model.weights.h5": MAX_WEIGHTS_BYTES}
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _refuse(path: str, what: str, fix: str = "Save the model again with model.save('model.keras').") -> ValueError:
    return ValueError(f"Refused the .keras file {path!r}: {what}. Expected a Keras 3 model archive. {fix}")


# ------------------------------------------------------------------------------------------------------ writing
def save_keras(model: Layer, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` file that ``keras.models.load_model`` opens, atomically.

    Example:
        >>> model.save("model.keras")  # doctest: +SKIP
    """
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} cannot be saved before it is built (its weights do not exist yet). Call it on data "
            f"or give it an input shape first."
        )
    config = layer_to_keras(model)
    compile_config = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    config["compile_config"] = compile_config_to_keras(compile_config) if compile_config else None
    metadata = {"keras_version": KERAS_VERSION, "cnnkit_version": __version__}
    metadata["date_saved"] = datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")
    weights = io.BytesIO()
    keras_h5.write_keras3(model, weights)
    entries = {
        "metadata.json": json.dumps(metadata).encode(),
        "config.json": json.dumps(config).encode(),
        "model.weights.h5": weights.getvalue(),
    }

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in entries.items():
                archive.writestr(name, data)

    atomic_write(filepath, write, overwrite=overwrite)


# ------------------------------------------------------------------------------------------------------ reading
def _check_name(path: str, name: str) -> None:
    if name.endswith((".pkl", ".pickle", ".pt", ".pth", ".npy", ".npz")):
        raise _refuse(path, f"it holds {name!r}, a pickled or NumPy payload that cnnkit never loads")
    bad = name.startswith(("/", "\\")) or "\\" in name or "\x00" in name or ":" in name
    if bad or ".." in name.split("/"):
        raise _refuse(path, f"it holds a member with an unsafe name ({name!r})")
    if name not in _MEMBERS and not name.startswith("assets/"):
        raise _refuse(path, f"it holds an unexpected member {name!r}")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: str) -> bytes:
    """A member's bytes, stopping as soon as more come out than it declares (a zip bomb lies about its size)."""
    chunks, total = [], 0
    with archive.open(info) as f:
        while chunk := f.read(1 << 20):
            total += len(chunk)
            if total > info.file_size or total > limit:
                raise _refuse(path, f"{info.filename!r} holds more bytes than it declares ({info.file_size})")
            chunks.append(chunk)
    return b"".join(chunks)


def read_keras_archive(path: str) -> dict[str, bytes]:
    """The checked members of a ``.keras`` zip (``assets/`` entries are checked and left out)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise _refuse(path, f"it has {len(infos)} members (at most {MAX_MEMBERS})")
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise _refuse(path, "it holds two members with the same name")
            entries = {}
            for info in infos:
                _check_name(path, info.filename)
                if info.flag_bits & 0x1:
                    raise _refuse(path, f"{info.filename!r} is encrypted")
                if info.filename not in _MEMBERS:
                    continue
                limit = _MEMBERS[info.filename]
                if info.file_size > limit:
                    raise _refuse(path, f"{info.filename!r} declares {info.file_size} bytes (at most {limit})")
                entries[info.filename] = _read_member(archive, info, limit, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as e:
        raise _refuse(path, f"the archive is truncated or corrupt ({e})") from None
    missing = [m for m in ("config.json", "model.weights.h5") if m not in entries]
    if missing:
        raise _refuse(path, f"it has no {' or '.join(missing)}")
    return entries


def _depth(value: Any) -> int:
    """The nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((c, depth + 1) for c in children)
    return deepest


def _json(path: str, name: str, data: bytes) -> Any:
    try:
        value = json.loads(data)
    except RecursionError:
        raise _refuse(path, f"{name} is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise _refuse(path, f"{name} is not valid JSON ({e})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise _refuse(path, f"{name} is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
    return value


def load_keras(
    filepath: str | os.PathLike,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,  # noqa: A002 -- Keras' argument name
    safe_mode: bool = True,
) -> Layer:
    """Rebuild a model from a Keras 3 ``.keras`` file (written by Keras or by cnnkit) with cnnkit's own layers.

    Example:
        >>> model = cnnkit.models.load_model("model.keras")  # doctest: +SKIP
    """
    path = check_regular_file(filepath, "model")
    entries = read_keras_archive(path)
    if "metadata.json" in entries:
        _json(path, "metadata.json", entries["metadata.json"])
    config = _json(path, "config.json", entries["config.json"])
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise _refuse(path, "config.json is not a model config (no class_name/config)")
    weights = entries["model.weights.h5"]
    if not weights.startswith(_HDF5_SIGNATURE):
        what = "a Python pickle" if weights[:1] == b"\x80" else "not an HDF5 file"
        raise _refuse(path, f"model.weights.h5 is {what}, and cnnkit only reads HDF5 weights")
    check_safe_mode(config, safe_mode)
    model = deserialize_keras_object(config, custom_objects, safe_mode=safe_mode, _where="config.json")
    if not isinstance(model, Layer):
        raise _refuse(path, f"config.json describes a {type(model).__name__}, not a model")
    try:
        keras_h5.read_keras3(model, io.BytesIO(weights), source=f"{path!r} (model.weights.h5)")
    except OSError as e:  # h5py cannot parse it: a truncated or corrupt HDF5 file
        raise _refuse(path, f"model.weights.h5 is truncated or corrupt ({e})") from None
    compile_config = config.get("compile_config")
    if compile and compile_config and hasattr(model, "compile_from_config"):
        model.compile_from_config(compile_args_from_config(compile_config, custom_objects, safe_mode))
    return model
