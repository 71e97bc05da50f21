"""The one atomic file writer: a temporary file beside the target, fsync, rename, directory fsync.

Every file cnnkit writes (models, weights, checkpoints, reports, plots, caches, downloads) goes through here, so a
reader never sees a half-written file, a crash never leaves one under the final name, and the file gets the mode
the user's umask gives (``0o666 & ~umask``, e.g. 0644), like any file ``open(path, "w")`` creates.

Example:
    >>> atomic_write("notes.txt", "hello\\n")  # doctest: +SKIP
    >>> atomic_write("model.bin", lambda f: f.write(payload))  # doctest: +SKIP
    >>> with atomic_path("net.onnx") as tmp:  # doctest: +SKIP
    ...     torch.onnx.export(model, args, tmp)  # a writer that needs a path; renamed only if no exception
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["atomic_path", "atomic_write", "atomic_write_json", "temp_name"]

Writer = Callable[[BinaryIO], Any]


def temp_name(path: str | os.PathLike) -> Path:
    """A fresh hidden name beside ``path``: ``.<name>.<random>.<pid>.tmp``.

    The pid comes last so that cleanup code can tell this process's temporary files from those a killed process
    left behind.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{os.getpid()}.tmp")


def _create_temp(target: Path) -> tuple[int, Path]:
    # os.open with 0o666 lets the kernel apply the umask, as open(path, "w") does; mkstemp's 0600 would make saved
    # models unreadable to a group that shares them.
    while True:
        tmp = temp_name(target)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:  # a 32-bit random clash: draw again
            continue


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows and some filesystems cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exists_error(target: Path) -> FileExistsError:
    return FileExistsError(
        f"The file already exists. Expected a new path because overwrite=False. Received: path='{target}'. "
        "Pass overwrite=True to replace it, or choose another path."
    )


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if target exists, with no window in which another writer could slip in
    except FileExistsError:
        raise _exists_error(target) from None
    except OSError:  # a filesystem without hard links: check, then rename
        if target.exists():
            raise _exists_error(target) from None
        os.replace(tmp, target)
    else:
        tmp.unlink()


def _os_error(error: OSError, target: Path) -> OSError:
    reason = error.strerror or str(error)
    # OSError(errno, ...) picks the matching subclass (PermissionError for EACCES...), so callers can still catch it.
    return OSError(
        error.errno,
        f"Could not write '{target}' ({reason}). Expected a writable folder with enough free space. "
        f"Received: path='{target}'. Free some space, fix the folder's permissions, or choose another path.",
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True, fsync: bool = True) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; when the block ends without an exception, it becomes ``path``.

    For writers that need a file name (h5py, ``torch.onnx.export``, ``np.lib.format.open_memmap``). The temporary
    file exists (empty, with the umask's mode) when the block starts; it is removed if the block raises.

    Args:
        path: The final file name; its folder is created if missing.
        overwrite: Replace an existing file; with False a FileExistsError is raised (before and after writing).
        fsync: Flush the file and the folder to disk before returning. False trades durability after a power cut
            for speed (the rename is still atomic), for bulk writes of files that can be made again.

    Raises:
        FileExistsError: ``overwrite=False`` and ``path`` exists.
        OSError: The operating system refused (no space, no permission); the message names ``path``.
    """
    target = Path(os.path.abspath(os.fspath(path)))
    if not overwrite and target.exists():
        raise _exists_error(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(target)
        os.close(fd)
    except OSError as e:
        raise _os_error(e, target) from e
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        _commit(tmp, target, overwrite)
        if fsync:
            _fsync_dir(target.parent)
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno is None:  # a library's own error (PIL's "cannot write mode RGBA as JPEG"): not the OS's
            raise
        raise _os_error(e, target) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write(
    path: str | os.PathLike, data: bytes | str | Writer, *, overwrite: bool = True, fsync: bool = True
) -> Path:
    """Writes ``data`` to ``path`` so that ``path`` is always either the old file or the whole new one.

    Args:
        path: The file to write; its folder is created if missing.
        data: ``bytes``, ``str`` (written as UTF-8), or a callable ``write(fileobj)`` that writes into a binary file.
        overwrite: Replace an existing file; with False a FileExistsError is raised instead.
        fsync: See :func:`atomic_path`.

    Returns:
        ``path`` as a Path.

    Raises:
        FileExistsError: ``overwrite=False`` and ``path`` exists.
        OSError: The operating system refused (no space, no permission); the message names ``path``.

    Example:
        >>> atomic_write("labels.txt", "cat\\ndog\\n")  # doctest: +SKIP
        PosixPath('labels.txt')
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)) and not callable(data):
        raise TypeError(
            f"atomic_write cannot write this. Expected bytes, str or a callable write(fileobj). "
            f"Received: data of type {type(data).__name__}. Encode it first or pass a function."
        )
    with atomic_path(path, overwrite=overwrite, fsync=fsync) as tmp, open(tmp, "wb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2, overwrite: bool = True) -> Path:
    """Writes ``obj`` as JSON (UTF-8, a final newline), atomically."""
    text = json.dumps(obj, indent=indent) + "\n"
    return atomic_write(path, text, overwrite=overwrite)
