"""torchvision ``.pth`` files: state dicts read with ``torch.load(..., weights_only=True)`` only, never full pickle.

``weights_only=True`` makes torch's unpickler accept tensors and plain containers and refuse every other class, so
a file cannot make us import or run code. On top of that we accept only a mapping of names to tensors (optionally
wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``, as training scripts save them).
"""

from __future__ import annotations

import os
import pickle

import torch

from cnnkit.saving.formats import detect_format

__all__ = ["read_torch_state_dict"]


def read_torch_state_dict(filepath: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A torch state dict, loaded with ``weights_only=True`` (tensors and containers only, never code).

    Example:
        >>> state = read_torch_state_dict("resnet18-f37072fd.pth")  # doctest: +SKIP

    Raises:
        ValueError: when the file is not a ``torch.save`` file, holds objects other than tensors, or does not hold
            a mapping of names to tensors.
    """
    path = os.fspath(filepath)
    kind = detect_format(path, "weights")
    if kind not in ("torch", "pickle"):  # "pickle": torch.save's legacy format, which weights_only also reads safely
        raise ValueError(
            f"The file is not a PyTorch .pth file. Expected a file written by torch.save. Received: weights={path!r}, "
            f"which is a {kind} file. Pass a torchvision .pth, or load this file with the reader for its format."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            "The .pth file holds objects other than tensors, which cnnkit refuses to unpickle (unpickling can run "
            f"any code). Expected a plain state dict. Received: weights={path!r}. Re-save it with "
            f"torch.save(model.state_dict(), path). ({str(exc).splitlines()[0]})"
        ) from None
    for key in ("state_dict", "model"):  # common checkpoint wrappers around the state dict
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            "The .pth file does not hold a state dict. Expected a mapping of parameter names to tensors. "
            f"Received: weights={path!r} holding {type(obj).__name__}. Save it with "
            "torch.save(model.state_dict(), path)."
        )
    return dict(obj)
