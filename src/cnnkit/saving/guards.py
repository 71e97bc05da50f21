"""Guards every file reader in cnnkit shares: what a hostile or broken file is refused with, before it costs memory.

A small file must never make cnnkit read another file on the machine, allocate gigabytes, recurse without end or
block forever. Each guard checks what a file *declares* (its stat, a zip's central directory, an HDF5 header, the
nesting of a JSON text) before anything is read or allocated, and raises :class:`UnsafeFileError` (a ValueError)
worded as every cnnkit error is: what is wrong, what was expected, what was received, how to fix it.

* :func:`open_regular`: only regular files are opened (never a FIFO, a device or a socket, even behind a symlink),
  without ever blocking, with a size cap read from the stat.
* :func:`read_zip_members`: a zip's members, refusing duplicate names, sizes over a limit, compression ratios of a
  zip bomb, and members whose actual size differs from the declared one (read in bounded chunks).
* :func:`load_json`: JSON with a size and a nesting-depth limit (no RecursionError).
* :func:`check_hdf5` and :func:`read_dataset`: an HDF5 file without external raw storage, external links, soft links
  that lead nowhere in the file or virtual datasets; numeric datasets whose size comes from the header.

The ``.keras`` reader uses the same functions.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO

import h5py
import numpy as np
import torch

__all__ = [
    "MAX_DATASET_BYTES",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MEMBER_BYTES",
    "MAX_ZIP_RATIO",
    "UnsafeFileError",
    "check_finite",
    "check_hdf5",
    "check_regular",
    "load_json",
    "open_regular",
    "read_dataset",
    "read_zip_members",
    "json_depth",
]

# Limits far above any real model and far below what hurts a laptop. Each is a keyword argument where used.
MAX_MEMBER_BYTES = 8 << 30  # one zip member (a model's weights)
MAX_ZIP_RATIO = 100  # uncompressed / compressed size of a member over 1 MiB (weights deflate about 1.1x)
MAX_JSON_BYTES = 64 << 20
MAX_JSON_DEPTH = 100  # a cnnkit or Keras config nests about 10 levels
MAX_DATASET_BYTES = 8 << 30
_CHUNK = 1 << 20

_FILE_TYPES = {
    stat.S_ISDIR: "a directory",
    stat.S_ISFIFO: "a named pipe",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


class UnsafeFileError(ValueError):
    """A file cnnkit refuses to read: hostile, malformed, or larger than a limit. A ValueError."""


def _kind(mode: int) -> str:
    return next((name for test, name in _FILE_TYPES.items() if test(mode)), "not a regular file")


def _too_big(path: str, what: str, size: int, limit: int) -> UnsafeFileError:
    return UnsafeFileError(
        f"The {what} file is too large: {size} bytes. Expected at most {limit} bytes. Received: path={path!r}. "
        "Check that it is the right file, or raise the limit (max_bytes=...)."
    )


def check_regular(path: str | os.PathLike, what: str = "model", max_bytes: int | None = None) -> os.stat_result:
    """The stat of ``path`` once it is known to be a regular file (or a link to one) of at most ``max_bytes``.

    Raises:
        FileNotFoundError: nothing exists at the path.
        UnsafeFileError: a directory, pipe, device or socket, or a file over ``max_bytes``.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"No such {what} file: {path!r}. Check the path.") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(
            f"Cannot read a {what} file from {path!r}: it is {_kind(st.st_mode)}. Expected a regular file. "
            f"Received: filepath={path!r}. Pass the path of the {what} file itself."
        )
    if max_bytes is not None and st.st_size > max_bytes:
        raise _too_big(path, what, st.st_size, max_bytes)
    return st


def open_regular(path: str | os.PathLike, what: str = "model", max_bytes: int | None = None) -> BinaryIO:
    """Opens ``path`` for binary reading only if it is a regular file of at most ``max_bytes``.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a FIFO never blocks
    the open and a file swapped after a check is still caught.

    Example:
        >>> with open_regular("model.cnnkit") as f:  # doctest: +SKIP
        ...     head = f.read(16)
    """
    path = os.fspath(path)
    check_regular(path, what, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"No such {what} file: {path!r}. Check the path.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(
                f"Cannot read a {what} file from {path!r}: it is {_kind(st.st_mode)}. Expected a regular file. "
                f"Received: filepath={path!r}. Pass the path of the {what} file itself."
            )
        if max_bytes is not None and st.st_size > max_bytes:
            raise _too_big(path, what, st.st_size, max_bytes)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _zip_error(path: str, problem: str, fix: str = "Save the file again.") -> UnsafeFileError:
    return UnsafeFileError(f"The archive {path!r} is unsafe or corrupt: {problem}. {fix}")


def read_zip_members(
    archive: zipfile.ZipFile,
    path: str,
    names: Iterable[str] | None = None,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_ratio: float = MAX_ZIP_RATIO,
) -> dict[str, bytes]:
    """The members ``names`` (default: every file member) of an open zip, each checked before and while it is read.

    Refused: two members with one name (a reader would see only one of them), a declared size over
    ``max_member_bytes``, a member over 1 MiB that claims more than ``max_ratio`` times its compressed size (a zip
    bomb), and a member whose data is longer or shorter than its declared size (read in 1 MiB chunks, so a lying
    header costs at most one chunk more than it declared).

    Raises:
        UnsafeFileError: naming the member and the limit.
    """
    infos = archive.infolist()
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:
            raise _zip_error(
                path,
                f"it holds two members named {info.filename!r}. Expected each name once",
                "Save the file again with a writer that does not append to an existing archive.",
            )
        seen.add(info.filename)
    wanted = set(names) if names is not None else None
    out: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir() or (wanted is not None and info.filename not in wanted):
            continue
        declared = info.file_size
        if declared > max_member_bytes:
            raise _zip_error(
                path,
                f"member {info.filename!r} declares {declared} bytes. Expected at most {max_member_bytes} bytes",
                "Check that the file is a model written by cnnkit or Keras.",
            )
        if declared > _CHUNK and declared > max_ratio * max(info.compress_size, 1):
            raise _zip_error(
                path,
                f"member {info.filename!r} expands from {info.compress_size} to {declared} bytes (more than "
                f"{max_ratio:g} times: a zip bomb). Expected a compression ratio under {max_ratio:g}",
                "Do not load files from an untrusted source.",
            )
        parts, total = [], 0
        try:
            with archive.open(info) as member:
                while True:
                    chunk = member.read(min(_CHUNK, declared - total + 1))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > declared:
                        raise _zip_error(path, f"member {info.filename!r} holds more data than its declared size")
                    parts.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
            if isinstance(e, UnsafeFileError):
                raise
            raise _zip_error(path, f"member {info.filename!r} cannot be read ({e})") from None
        if total != declared:
            raise _zip_error(path, f"member {info.filename!r} holds {total} bytes, its header says {declared}")
        out[info.filename] = b"".join(parts)
    return out


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in a JSON text, brackets inside strings not counted."""
    stripped = _JSON_STRING.sub(b'""', data)
    steps = _OPEN[np.frombuffer(stripped, dtype=np.uint8)].astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def load_json(data: bytes | str, what: str, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` with a size and a depth limit, every failure a ValueError naming ``what``.

    Example:
        >>> load_json(b'{"a": [1, 2]}', "config.json")
        {'a': [1, 2]}
        >>> try:
        ...     load_json(b"[" * 500 + b"]" * 500, "config.json")
        ... except ValueError as e:
        ...     print(str(e)[:48])
        The config.json is nested 500 levels deep. Expec
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise UnsafeFileError(
            f"The {what} is too large: {len(raw)} bytes. Expected at most {max_bytes} bytes of JSON. "
            f"Received: {len(raw)} bytes. Save the file again with cnnkit or Keras."
        )
    depth = json_depth(raw)
    if depth > max_depth:
        raise UnsafeFileError(
            f"The {what} is nested {depth} levels deep. Expected at most {max_depth} levels. "
            f"Received: {len(raw)} bytes. Save the file again with cnnkit or Keras."
        )
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise UnsafeFileError(
            f"The {what} is not valid JSON ({e}). Expected a JSON text. Received: {len(raw)} bytes. "
            "Save the file again with cnnkit or Keras."
        ) from None


def _h5_error(source: str, problem: str) -> UnsafeFileError:
    # ``source`` is already a display string (the quoted path, or "'x.keras' (model.weights.h5)").
    return UnsafeFileError(
        f"The HDF5 file {source} is refused: {problem}. Expected a self-contained weights file (datasets stored in "
        f"the file itself). Received: path={source}. Save the weights again with save_weights(), and do not load "
        "HDF5 files from untrusted sources."
    )


def check_hdf5(h5file: Any, path: str, max_dataset_bytes: int = MAX_DATASET_BYTES) -> None:
    """Walks every link of an open ``h5py.File`` and refuses what could read other files or memory.

    ``path`` is how messages name the file (e.g. ``repr(filename)``).

    Refused: external links (they open another file), soft links whose target is not an object of this file,
    datasets with external raw storage (their bytes live in any file on the machine), virtual datasets (made of
    other files' datasets), non-numeric datasets, and datasets whose header declares more than
    ``max_dataset_bytes``. Only the headers are read.

    Raises:
        UnsafeFileError: naming the object and what it does.
    """
    pending = [("", h5file["/"])]  # names relative to the root, as h5py's visit gives them
    seen: set = set()
    while pending:
        prefix, group = pending.pop()
        for name in group:
            full = f"{prefix}/{name}" if prefix else name
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise _h5_error(path, f"{full!r} is an external link to {link.filename!r}:{link.path!r}")
            if isinstance(link, h5py.SoftLink):
                target = link.path if link.path.startswith("/") else f"/{prefix}/{link.path}"
                if h5file.get(target, getlink=True) is None or isinstance(
                    h5file.get(target, getlink=True), h5py.ExternalLink
                ):
                    raise _h5_error(path, f"{full!r} is a soft link to {link.path!r}, which is not in the file")
                continue  # its target is reached by its own hard link
            obj = group.get(name)
            if obj is None:
                continue
            if isinstance(obj, h5py.Group):
                key = hash(obj.id)  # the same for every hard link to one group: a cycle is walked once
                if key not in seen:
                    seen.add(key)
                    pending.append((full, obj))
                continue
            if isinstance(obj, h5py.Dataset):
                _check_dataset(obj, full, path, max_dataset_bytes)


def _check_dataset(ds: Any, name: str, path: str, max_dataset_bytes: int) -> None:
    if ds.is_virtual:
        raise _h5_error(path, f"dataset {name!r} is a virtual dataset (its data comes from other files)")
    if ds.external:
        files = ", ".join(repr(os.fsdecode(e[0])) for e in ds.external[:3])
        raise _h5_error(path, f"dataset {name!r} stores its bytes in external files ({files})")
    if ds.dtype.kind not in "biuf":
        raise _h5_error(path, f"dataset {name!r} has dtype {ds.dtype}, not numbers")
    size = int(np.prod(ds.shape, dtype=np.float64)) * ds.dtype.itemsize if ds.shape else ds.dtype.itemsize
    if size > max_dataset_bytes:
        raise _h5_error(path, f"dataset {name!r} declares shape {ds.shape} ({size} bytes > {max_dataset_bytes})")


def read_dataset(ds: Any, expected_shape: tuple[int, ...] | None, name: str, path: str) -> np.ndarray:
    """The array of an h5py dataset, its shape checked from the header first (nothing is read on a mismatch).

    Raises:
        UnsafeFileError: the shape is not ``expected_shape`` (when given), or the data cannot be read.
    """
    if expected_shape is not None and tuple(ds.shape) != tuple(expected_shape):
        raise _h5_error(path, f"dataset {name!r} has shape {tuple(ds.shape)}, the model expects {expected_shape}")
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise _h5_error(path, f"dataset {name!r} cannot be read ({e})") from None


def check_finite(tensors: Mapping[str, Any], source: str) -> None:
    """Refuses floating-point weights holding NaN or infinity (a diverged or tampered file), naming them.

    A careful user wants to know at load time rather than get NaN predictions later; a diverged run is fixed by
    training again with a lower learning rate or loading an earlier checkpoint.
    """
    bad = [
        key
        for key, t in tensors.items()
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        shown = ", ".join(sorted(bad)[:8]) + (f", ... ({len(bad) - 8} more)" if len(bad) > 8 else "")
        raise UnsafeFileError(
            f"The weights hold NaN or infinite values ({len(bad)} of {len(tensors)} arrays: {shown}). Expected finite "
            f"numbers. Received: {source}. The run that saved them diverged or the file was altered: load an earlier "
            "checkpoint, or train again with a lower learning rate."
        )
