"""Reading weight files of other libraries without importing them (no pickle, no keras, no torchvision).

Each reader returns plain arrays; the family converters map them onto cnnkit layer names and layouts.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from cnnkit.saving.archive import read_archive
from cnnkit.saving.keras_h5 import legacy_layers

__all__ = ["detect_format", "read_torch_state_dict", "read_keras_h5", "read_cnnkit_weights"]


def detect_format(path: str | os.PathLike) -> str:
    """``'torch'`` (.pth/.pt/.bin), ``'keras3'`` (.weights.h5), ``'keras_legacy'`` (.h5/.hdf5), ``'safetensors'``,
    or ``'cnnkit'`` (a saved .cnnkit model), from the file name."""
    name = Path(path).name.lower()
    if name.endswith(".weights.h5"):
        return "keras3"
    for suffixes, kind in (
        ((".pth", ".pt", ".bin"), "torch"),
        ((".h5", ".hdf5", ".keras_h5"), "keras_legacy"),
        ((".safetensors",), "safetensors"),
        ((".cnnkit",), "cnnkit"),
    ):
        if name.endswith(suffixes):
            return kind
    raise ValueError(
        "Unrecognised weights file type. Expected a torchvision .pth, a Keras .h5 or .weights.h5, a .safetensors "
        f"or a .cnnkit file. Received: weights={str(path)!r}. Rename the file with its real extension."
    )


def read_torch_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A torch state dict, loaded with ``weights_only=True`` (tensors and containers only, never code)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            "The .pth file holds objects other than tensors, which cnnkit refuses to unpickle (unpickling can run "
            f"any code). Expected a plain state dict. Received: weights={str(path)!r}. Re-save it with "
            f"torch.save(model.state_dict(), path). ({str(exc).splitlines()[0]})"
        ) from None
    for key in ("state_dict", "model"):  # common checkpoint wrappers around the state dict
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            "The .pth file does not hold a state dict. Expected a mapping of parameter names to tensors. "
            f"Received: weights={str(path)!r} holding {type(obj).__name__}. Save it with "
            "torch.save(model.state_dict(), path)."
        )
    return dict(obj)


def _decode(name: object) -> str:
    return name.decode("utf8") if isinstance(name, bytes) else str(name)


def read_keras_h5(path: str | os.PathLike) -> OrderedDict[str, list[np.ndarray]]:
    """``{keras layer name: [arrays in the layer's variable order]}`` from a Keras ``.h5`` or ``.weights.h5`` file.

    Legacy ``.h5`` files (``model.save``, ``save_weights`` in Keras 2, the Keras applications downloads) list
    their layers in model order in the ``layer_names`` attribute, which is kept. Keras 3 ``.weights.h5`` files
    store ``layers/<key>/vars/<i>`` with the layer's name in the ``vars`` group's ``name`` attribute.
    """
    import h5py

    out: OrderedDict[str, list[np.ndarray]] = OrderedDict()
    with h5py.File(path, "r") as f:
        if "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f:
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
    from safetensors.torch import load as load_bytes
    from safetensors.torch import load_file

    if detect_format(path) == "cnnkit":
        return load_bytes(read_archive(path)["model.safetensors"])
    return load_file(str(path))
