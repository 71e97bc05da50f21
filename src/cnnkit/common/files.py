"""The one atomic file writer: a temporary file beside the target, fsync, rename, directory fsync."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], overwrite: bool = True) -> None:
    """Write through ``write(file)`` into a temporary file beside ``path``, fsync, then rename over ``path``."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} already exists. Pass overwrite=True to replace it.")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
