"""CIFAR-10/100 from the official *binary* archives (fixed-size records: no pickle anywhere)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from cnnkit.common.download import get_file

PIXELS = 3 * 32 * 32


def read_records(archive: Path, members: list[str], label_bytes: int) -> np.ndarray:
    """Concatenated ``(n, label_bytes + 3072)`` uint8 records of the named archive members."""
    parts = []
    with tarfile.open(archive, "r:gz") as tar:
        names = {m.name: m for m in tar.getmembers() if m.isfile()}
        for member in members:
            if member not in names:
                raise ValueError(
                    f"The archive lacks a file. Expected {member} in {archive}. Received: {sorted(names)[:8]}. "
                    "Delete the archive so that a fresh copy is downloaded."
                )
            data = tar.extractfile(names[member]).read()  # type: ignore[union-attr]
            parts.append(np.frombuffer(data, np.uint8).reshape(-1, label_bytes + PIXELS))
    return np.concatenate(parts)


def to_images(records: np.ndarray, label_bytes: int) -> np.ndarray:
    # Stored as planes (3, 32, 32) per image; Keras returns channels-last (N, 32, 32, 3).
    return np.ascontiguousarray(records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def fetch(fname: str, url: str, sha256: str, subdir: str) -> Path:
    return get_file(fname, url, sha256, subdir, [str(Path.home() / ".keras" / "datasets")])
