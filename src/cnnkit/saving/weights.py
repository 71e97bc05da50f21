"""Weights alone: written as safetensors or Keras' ``.weights.h5``, read from any of cnnkit's formats, copied into a
model by one match rule (by name; by position for a twin model), every name and shape checked first.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Mapping

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from cnnkit.common.files import atomic_path, atomic_write
from cnnkit.layers.base import Layer
from cnnkit.saving.formats import read_archive


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


def save_weights(model: Layer, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Weights alone: safetensors, or a Keras 3 file when the name ends in ``.weights.h5``."""
    path = os.fspath(filepath)
    if path.endswith(".h5") and not path.endswith(".weights.h5"):
        raise ValueError(
            f"Weights files ending in .h5 are written in Keras 3's format and must end in '.weights.h5'. Received: "
            f"filepath={path!r}. Use e.g. 'model.weights.h5', or '.safetensors' for cnnkit's own format."
        )
    if path.endswith(".weights.h5"):
        from cnnkit.saving.keras_h5 import write_keras3

        with atomic_path(path, overwrite=overwrite) as tmp:  # h5py writes to a file name
            write_keras3(model, str(tmp))
        return
    atomic_write(path, weights_bytes(model), overwrite=overwrite)


def load_weights(model: Layer, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Read weights from safetensors, a ``.cnnkit`` model file, or Keras ``.weights.h5`` / legacy ``.h5``."""
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such weights file: {path!r}. Check the path.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        from cnnkit.saving import keras_h5

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
