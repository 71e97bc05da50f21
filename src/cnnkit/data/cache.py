"""The decoded-image store: uint8 (N, H, W, C) in memory, or memory-mapped from a cache file on disk.

A disk cache is two files in the cache directory, ``<key>.npy`` (the pixels, memory-mapped on reuse) and
``<key>.json`` (settings, each file's path, size and mtime, and why a file was skipped). ``key`` hashes the folder
and the decode settings; the file list is checked on every load, so a changed folder is re-read and an unchanged
one is not. Both files are written atomically (``common.files``: a temporary name, then a rename), pixels first.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from cnnkit.common.files import atomic_path, atomic_write
from cnnkit.data.loader import DecodeSettings, decode_into

CACHE_VERSION = 1


def fingerprint(paths: list[str]) -> list[list]:
    """``[path, size, mtime_ns]`` per file (size -1 when the file cannot be stat'ed)."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p, -1, 0])
    return out


def cache_key(name: str, settings: DecodeSettings) -> str:
    payload = json.dumps({"name": os.path.abspath(name), "settings": settings.as_dict(), "v": CACHE_VERSION})
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _try_reuse(npy: Path, meta: Path, settings: DecodeSettings, files: list[list]) -> tuple | None:
    try:
        manifest = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("version") != CACHE_VERSION or manifest.get("settings") != settings.as_dict():
        return None
    if manifest.get("files") != files:
        return None
    try:
        arr = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if arr.shape != (len(files), *settings.shape) or arr.dtype != np.uint8:
        return None
    return arr, manifest["reasons"]


def build_store(
    paths: list[str],
    settings: DecodeSettings,
    cache: bool | str | os.PathLike = True,
    name: str = "",
    workers: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, list[str | None], bool]:
    """Decode ``paths`` once into a uint8 store. Returns ``(store, reasons, reused)``.

    Args:
        cache: True or "memory" keeps the pixels in RAM; a directory path keeps them in a memory-mapped file
            there (reused while the files are unchanged).
        name: what the cache is for (the folder), part of the cache key.
    """
    shape = (len(paths), *settings.shape)
    if cache is True or cache == "memory":
        store = np.zeros(shape, dtype=np.uint8)
        return store, decode_into(paths, settings, store, workers, progress), False
    if not isinstance(cache, (str, os.PathLike)):
        raise TypeError(
            "cache has the wrong type. Expected True, 'memory', False or a directory path. "
            f"Received: cache={cache!r}. Pass e.g. cache='~/.cnnkit/cache'."
        )
    directory = Path(os.path.expanduser(os.fspath(cache)))
    directory.mkdir(parents=True, exist_ok=True)
    key = cache_key(name, settings)
    npy, meta = directory / f"cnnkit-images-{key}.npy", directory / f"cnnkit-images-{key}.json"
    files = fingerprint(paths)
    reused = _try_reuse(npy, meta, settings, files)
    if reused is not None:
        return reused[0], reused[1], True
    with atomic_path(npy) as tmp:  # decoded straight into the memory-mapped temporary file
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        reasons = decode_into(paths, settings, mm, workers, progress)
        mm.flush()
        del mm
    manifest = {"version": CACHE_VERSION, "settings": settings.as_dict(), "files": files, "reasons": reasons}
    atomic_write(meta, json.dumps(manifest))
    return np.load(npy, mmap_mode="r"), reasons, False
