"""Reading weight files of other libraries without importing them (no pickle, no keras, no torchvision).

Each reader returns plain arrays; the family converters map them onto cnnkit layer names and layouts.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import h5py
import numpy as np
import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import load_file

from cnnkit.saving import formats
from cnnkit.saving.formats import read_archive
from cnnkit.saving.keras_h5 import legacy_layers
from cnnkit.saving.torch_pth import read_torch_state_dict

__all__ = ["detect_format", "read_torch_state_dict", "read_keras_h5", "read_cnnkit_weights"]


_ZOO_KINDS = {"torch", "keras3", "keras_legacy", "safetensors", "cnnkit"}
_DESCRIBED = {"zip": "a zip archive of another kind", "unknown": "none of those (or truncated or corrupt)"}


def detect_format(path: str | os.PathLike) -> str:
    """``'torch'`` (a torch.save file), ``'keras3'`` (.weights.h5), ``'keras_legacy'`` (.h5), ``'safetensors'``,
    or ``'cnnkit'`` (a saved .cnnkit model), asked of :func:`cnnkit.saving.formats.detect_format` (the file's
    bytes, not its name)."""
    kind = formats.detect_format(path, "weights")
    if kind == "pickle":  # torch.save's legacy (non-zip) format; torch.load(weights_only=True) reads it safely
        return "torch"
    if kind not in _ZOO_KINDS:
        raise ValueError(
            "Unrecognised weights file type. Expected a torchvision .pth, a Keras .h5 or .weights.h5, a .safetensors "
            f"or a .cnnkit file. Received: weights={str(path)!r}, which is {_DESCRIBED.get(kind, kind)}. Check that "
            "the file is whole and in one of those formats."
        )
    return kind


def _decode(name: object) -> str:
    return name.decode("utf8") if isinstance(name, bytes) else str(name)


def read_keras_h5(path: str | os.PathLike) -> OrderedDict[str, list[np.ndarray]]:
    """``{keras layer name: [arrays in the layer's variable order]}`` from a Keras ``.h5`` or ``.weights.h5`` file.

    Legacy ``.h5`` files (``model.save``, ``save_weights`` in Keras 2, the Keras applications downloads) list
    their layers in model order in the ``layer_names`` attribute, which is kept. Keras 3 ``.weights.h5`` files
    store ``layers/<key>/vars/<i>`` with the layer's name in the ``vars`` group's ``name`` attribute.
    """
    out: OrderedDict[str, list[np.ndarray]] = OrderedDict()
    if formats.detect_format(path, "weights") == "keras3":
        with h5py.File(path, "r") as f:
            for key, group in f["layers"].items():
                vars_group = group.get("vars")
                if vars_group is None or len(vars_group) == 0:
                    continue
                name = _decode(vars_group.attrs.get("name", key))
                out[name] = [np.asarray(vars_group[str(i)]) for i in range(len(vars_group))]
            return out
    out.update(legacy_layers(path))
    return out


def read_cnnkit_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """cnnkit state-dict keys -> tensors from a ``.safetensors`` file or a saved ``.cnnkit`` model."""
    if detect_format(path) == "cnnkit":
        return load_bytes(read_archive(path)["model.safetensors"])
    return load_file(os.fspath(path))
