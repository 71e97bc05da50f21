"""Checkpoints for exact resume: one safetensors file per checkpoint, tensors plus a JSON tree, no pickle.

Each file holds flattened tensors and, in the safetensors metadata, the JSON-able rest of the state (with tensor
placeholders) and a SHA-256 of both. Files are written atomically (temporary file, fsync, rename, fsync of the
directory); the previous checkpoint is deleted only once the new one is whole. When the newest file is truncated
or corrupt, loading warns and falls back to the previous one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch

from cnnkit.common.files import atomic_write
from cnnkit.saving.formats import check_regular_file
from cnnkit.saving.guards import load_json

_NAME = re.compile(r"^ckpt-(\d{8})\.safetensors$")


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "t") -> Any:
    """Replaces every tensor in a nested structure by ``{"__tensor__": key}``, filling ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return flatten_state(torch.from_numpy(obj.copy()), tensors, prefix) | {"__numpy__": True}
    if isinstance(obj, dict):
        return {
            "__dict__": [[flatten_state(k, tensors, prefix), flatten_state(v, tensors, prefix)] for k, v in obj.items()]
        }
    if isinstance(obj, (list, tuple)):
        return {"__tuple__" if isinstance(obj, tuple) else "__list__": [flatten_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        "Cannot store this value in a checkpoint. Expected tensors, arrays, numbers, strings, lists and dicts. "
        f"Received: a value of type {type(obj).__name__}. Convert it to one of those types in state_dict()."
    )


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            t = tensors[obj["__tensor__"]]
            return t.numpy() if obj.get("__numpy__") else t
        if "__dict__" in obj:
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, tensors) for v in obj["__tuple__"])
        if "__list__" in obj:
            return [unflatten_state(v, tensors) for v in obj["__list__"]]
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


def capture_rng_state() -> dict:
    """Every random generator's state: Python, NumPy, torch CPU and (when present) CUDA."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    numpy_state = (name, keys.astype(np.int64), pos, has_gauss, cached)  # uint32 is not a safetensors dtype
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def _digest(meta_json: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(meta_json.encode())
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_state(path: str | os.PathLike, state: Any) -> None:
    """Saves a nested state (tensors, arrays, JSON values) to one safetensors file, atomically."""
    tensors: dict[str, torch.Tensor] = {}
    meta_json = json.dumps(flatten_state(state, tensors))
    metadata = {"cnnkit_state": meta_json, "sha256": _digest(meta_json, tensors), "format": "cnnkit-checkpoint-1"}
    atomic_write(path, safetensors.torch.save(tensors, metadata=metadata))


def load_state(path: str | os.PathLike) -> Any:
    """Loads and verifies a file written by :func:`save_state`; raises ValueError if it is truncated or corrupt."""
    path = check_regular_file(path, "checkpoint")
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as e:  # any parse failure means a damaged file
        raise ValueError(f"Checkpoint {path} is unreadable ({type(e).__name__}: {e}).") from e
    meta_json = metadata.get("cnnkit_state")
    if meta_json is None or metadata.get("sha256") != _digest(meta_json, tensors):
        raise ValueError(f"Checkpoint {path} failed its integrity check (SHA-256 mismatch).")
    try:
        return unflatten_state(load_json(meta_json, f"state of checkpoint {path}"), tensors)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"Checkpoint {path} is malformed ({type(e).__name__}: {e}).") from None


class CheckpointManager:
    """Numbered checkpoints in a directory, keeping the newest ``keep`` files.

    Example:
        >>> manager = CheckpointManager("backup")  # doctest: +SKIP
        >>> manager.save({"step": 3})  # doctest: +SKIP
        >>> manager.load_latest()  # doctest: +SKIP
        {'step': 3}
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1. Expected a positive count. Received: keep={keep}. Pass keep=2.")
        self.directory, self.keep = Path(directory), keep

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, newest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _NAME.match(p.name)]
        return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)), reverse=True)

    def save(self, state: Any) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        existing = self.checkpoints()
        number = int(_NAME.match(existing[0].name).group(1)) + 1 if existing else 1
        path = self.directory / f"ckpt-{number:08d}.safetensors"
        save_state(path, state)
        for old in self.checkpoints()[self.keep :]:  # only once the new file is whole
            old.unlink(missing_ok=True)
        # Temporary names end in .<pid>.tmp (common.files.temp_name): those of other pids were left by a process
        # killed mid-write.
        for stale in self.directory.glob(".ckpt-*.tmp"):
            if not stale.name.endswith(f".{os.getpid()}.tmp"):
                stale.unlink(missing_ok=True)
        return path

    def load_latest(self, apply: Callable[[Any], None] | None = None) -> Any | None:
        """The newest readable checkpoint's state, or None; warns for each damaged file it skips.

        With ``apply``, a checkpoint counts as readable only once ``apply(state)`` succeeded: a file that passes its
        hash but does not fit (forged, or from another architecture) falls back to the previous one as well.
        """
        for path in self.checkpoints():
            try:
                state = load_state(path)
                if apply is not None:
                    apply(state)
                return state
            except (ValueError, OSError, RuntimeError, KeyError, TypeError, IndexError) as e:
                warnings.warn(
                    _fallback_message(path, e),
                    RuntimeWarning,
                    stacklevel=2,
                )
        return None

    def delete_all(self) -> None:
        for path in self.checkpoints():
            path.unlink(missing_ok=True)
        try:
            self.directory.rmdir()
        except OSError:
            pass


def _fallback_message(path: Path, error: Exception) -> str:
    message = str(error)
    if str(path) not in message:  # a restore error (another architecture, a forged state) does not name the file
        message = f"Checkpoint {path} does not fit ({type(error).__name__}: {message})"
    return f"{message.rstrip('.')}. Falling back to the previous checkpoint."
