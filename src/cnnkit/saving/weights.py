"""Weights alone: written as safetensors or Keras' ``.weights.h5``, read from any of cnnkit's formats, copied into a
model by one match rule (by name; by position for a twin model), every name and shape checked first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence

import torch
from safetensors.torch import load as st_load
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save

from cnnkit.common.files import atomic_path, atomic_write
from cnnkit.layers.base import Layer
from cnnkit.saving import keras_h5
from cnnkit.saving.formats import detect_format, read_archive, safetensors_metadata
from cnnkit.saving.guards import check_finite


def state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights as contiguous CPU tensors keyed by ``layer_name.weight_name``."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def weights_bytes(model: torch.nn.Module) -> bytes:
    """Safetensors bytes of the weights; the metadata keeps their order, so a twin model with other automatic
    layer names (``dense_3`` instead of ``dense``) can still load them by position."""
    tensors = state_tensors(model)
    return st_save(tensors, metadata={"cnnkit_order": json.dumps(list(tensors))})


def _describe(keys: Iterable[str], limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def weight_problems(target: Mapping[str, torch.Tensor], weights: Mapping[str, torch.Tensor]) -> list[str]:
    """What keeps ``weights`` from fitting ``target`` (a state dict): missing and unexpected keys, other shapes.

    Only names and shapes are read, so ``weights`` may be meta tensors standing for a file's declared shapes.
    """
    missing = set(target) - set(weights)
    unexpected = set(weights) - set(target)
    mismatched = [
        f"{k}: file {tuple(weights[k].shape)} vs model {tuple(target[k].shape)}"
        for k in sorted(set(target) & set(weights))
        if tuple(weights[k].shape) != tuple(target[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_describe(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {'; '.join(mismatched[:8])}")
    return problems


def misfit_error(target_count: int, problems: list[str], source: str, fix: str | None = None) -> ValueError:
    """The one wording of "these weights do not fit this model"."""
    fix = (
        fix or "Build the model with the architecture, input size, include_top and classes the weights were saved with."
    )
    return ValueError(
        f"The weights do not fit the model. Expected exactly the model's {target_count} weights with the same "
        f"shapes. Received: {source} with " + "; ".join(problems) + f". {fix}"
    )


def assign_weights(
    model: torch.nn.Module, weights: Mapping[str, torch.Tensor], source: str, fix: str | None = None
) -> None:
    """Copy ``weights`` into ``model`` after checking every name, shape and value; nothing is copied on error.

    This is the one checked copy of weights into a model; every loader ends here. NaN and infinite values are
    refused (see :func:`cnnkit.saving.guards.check_finite`).

    Raises:
        ValueError: naming the missing keys, the unexpected keys, the shape mismatches or the non-finite arrays.
    """
    target = model.state_dict()
    problems = weight_problems(target, weights)
    if problems:
        raise misfit_error(len(target), problems, source, fix)
    check_finite(weights, source)
    with torch.no_grad():
        for key, value in weights.items():
            target[key].copy_(value.to(dtype=target[key].dtype))


def match_weights(
    target: Mapping[str, torch.Tensor], saved: Mapping[str, torch.Tensor], order: Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """The one match rule: ``saved`` keyed by the names of ``target`` (a model's state dict).

    By name when the names are the same. When they differ but ``order`` (the saved keys in the order they were
    saved) lists every saved weight once, one per model weight, with the same shapes in the same order, by position:
    that is a twin model whose automatic layer names count on (``dense_3`` instead of ``dense``), which Keras also
    loads by position. Otherwise ``saved`` comes back unchanged, for :func:`assign_weights` to report what differs.

    Example:
        >>> a = {"dense.kernel": torch.zeros(2, 3)}
        >>> list(match_weights(a, {"dense_3.kernel": torch.ones(2, 3)}, order=["dense_3.kernel"]))
        ['dense.kernel']
    """
    if set(target) == set(saved) or order is None:
        return dict(saved)
    if len(order) != len(target) or set(order) != set(saved) or len(set(order)) != len(order):
        return dict(saved)
    if any(tuple(saved[theirs].shape) != tuple(mine.shape) for theirs, mine in zip(order, target.values())):
        return dict(saved)
    return {mine: saved[theirs] for mine, theirs in zip(target, order)}


def load_state(
    model: torch.nn.Module,
    tensors: Mapping[str, torch.Tensor],
    source: str,
    order: Sequence[str] | None = None,
    fix: str | None = None,
) -> None:
    """Copy ``tensors`` into ``model`` by :func:`match_weights`' rule, checked by :func:`assign_weights`.

    ``order`` is the saved key order (None: match by name only); ``fix`` replaces the error's advice.
    """
    assign_weights(model, match_weights(model.state_dict(), tensors, order), repr(source), fix)


def save_weights(model: Layer, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Weights alone: safetensors, or a Keras 3 file when the name ends in ``.weights.h5``."""
    path = os.fspath(filepath)
    if path.endswith(".h5") and not path.endswith(".weights.h5"):
        raise ValueError(
            f"Weights files ending in .h5 are written in Keras 3's format and must end in '.weights.h5'. Received: "
            f"filepath={path!r}. Use e.g. 'model.weights.h5', or '.safetensors' for cnnkit's own format."
        )
    if path.endswith(".weights.h5"):
        with atomic_path(path, overwrite=overwrite) as tmp:  # h5py writes to a file name
            keras_h5.write_keras3(model, str(tmp))
        return
    atomic_write(path, weights_bytes(model), overwrite=overwrite)


def saved_order(metadata: Mapping[str, str]) -> list[str] | None:
    """The key order :func:`weights_bytes` stored, if the file has one."""
    try:
        order = json.loads(metadata.get("cnnkit_order", "null"))
    except ValueError:
        return None
    return order if isinstance(order, list) else None


_NOT_READABLE = {
    "pickle": "it is a Python pickle",
    "torch": "it is a PyTorch checkpoint written by torch.save (a pickle inside a zip)",
    "zip": "it is a zip archive without model.safetensors",
    "unknown": "its format is unknown, or it is truncated or corrupt",
}


def load_weights(model: Layer, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Read weights from safetensors, a ``.cnnkit`` model file, or Keras ``.weights.h5`` / legacy ``.h5``."""
    path = os.fspath(filepath)
    kind = detect_format(path, "weights")
    if kind == "keras3":
        keras_h5.read_keras3(model, path, skip_mismatch)
        return
    if kind == "keras_legacy":
        keras_h5.read_legacy(model, path, skip_mismatch)
        return
    try:
        if kind == "cnnkit":
            data = read_archive(path)["model.safetensors"]
            metadata, tensors = safetensors_metadata(data), st_load(data)
        elif kind == "safetensors":
            metadata, tensors = safetensors_metadata(path), st_load_file(path)
        else:
            raise ValueError(_NOT_READABLE[kind])
    except Exception as e:  # safetensors raises its own error types for corrupt data
        raise ValueError(
            f"{path!r} is not a weights file cnnkit can read ({e}). Expected safetensors, a .cnnkit model, or a Keras "
            f".weights.h5/.h5 file. cnnkit never unpickles; for a torch .pth use the zoo's converters."
        ) from None
    load_state(model, tensors, path, saved_order(metadata))
