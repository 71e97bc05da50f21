"""Finding dataset files locally, else downloading them with a progress bar, a sha256 check and an atomic write."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from cnnkit.data.progress import Progress

DEBIAN_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}


class DatasetUnavailableError(OSError):
    """A dataset file is neither on disk nor downloadable (offline, or the download failed its checksum)."""


def cache_dir() -> Path:
    """``$CNNKIT_HOME/datasets``, else ``~/.cnnkit/datasets``."""
    home = os.environ.get("CNNKIT_HOME")
    return Path(home).expanduser() / "datasets" if home else Path.home() / ".cnnkit" / "datasets"


def sha256_of(path: str | os.PathLike, transform: Callable[[bytes], bytes] | None = None) -> str:
    if transform is not None:
        return hashlib.sha256(transform(Path(path).read_bytes())).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, target: Path, sha256: str | None, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``target`` through a temporary file; verify ``sha256`` before moving it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            h = hashlib.sha256()
            with Progress(total or 1, f"Downloading {target.name}", enabled=progress and total > 0) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
        if sha256 is not None and h.hexdigest() != sha256:
            raise DatasetUnavailableError(
                f"Downloaded file has the wrong checksum. Expected sha256={sha256}. "
                f"Received: sha256={h.hexdigest()} from url={url!r}. The download was discarded; try again later."
            )
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()


def get_file(
    fname: str,
    url: str,
    sha256: str | None,
    subdir: str,
    local_dirs: Sequence[str | os.PathLike] = (),
    check: Callable[[Path], bool] | None = None,
    progress: bool = True,
) -> Path:
    """A verified local copy of ``fname``: from ``local_dirs``, the cnnkit cache, or a fresh download.

    Args:
        check: verifies a local copy (default: its sha256); copies that fail are ignored (and re-downloaded).

    Raises:
        DatasetUnavailableError: offline / download failed; the message says which file to put where.
    """
    verify = check or (lambda p: sha256 is None or sha256_of(p) == sha256)
    target = cache_dir() / subdir / fname
    for d in [*local_dirs, target.parent]:
        candidate = Path(d) / fname
        if candidate.is_file() and verify(candidate):
            return candidate
    try:
        path = download(url, target, sha256 if check is None else None, progress)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if isinstance(e, DatasetUnavailableError):
            raise
        raise DatasetUnavailableError(
            f"Cannot download {fname}: {getattr(e, 'reason', e)}. Expected the file in {target.parent} "
            f"(or downloadable from {url}). Received: no local copy. Put {fname} in {target.parent} "
            "(set CNNKIT_HOME to use another cache root) and call load_data() again."
        ) from None
    if not verify(path):
        path.unlink()
        raise DatasetUnavailableError(
            f"Downloaded {fname} does not match its checksum. Expected sha256={sha256}. "
            f"Received: a different file from url={url!r}. The download was discarded; try again later."
        )
    return path
