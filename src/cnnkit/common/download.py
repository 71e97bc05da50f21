"""The one downloader and the one cache root: verified, atomic downloads into ``$CNNKIT_HOME``.

Everything cnnkit fetches lives under ``$CNNKIT_HOME`` (default ``~/.cnnkit``): ``datasets/`` for the built-in
datasets, ``weights/`` for the zoo's pretrained weights. A download streams into a temporary file beside its target
(:mod:`cnnkit.common.files`), is hashed while it streams, and is moved into place only when its digest matches, so
the cache never holds a partial or foreign file.

Example:
    >>> download("https://example.org/f.bin", cache_dir("datasets") / "f.bin", sha256="ab12...")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from cnnkit.common.files import atomic_path
from cnnkit.common.progbar import Progbar

__all__ = [
    "ChecksumError",
    "DatasetUnavailableError",
    "DownloadError",
    "cache_dir",
    "cnnkit_home",
    "download",
    "get_file",
    "sha256_of",
]

DEBIAN_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}

_CHUNK = 1 << 20


class DownloadError(ConnectionError):
    """The file could not be fetched (offline, refused, cut off); nothing was written. ``reason`` says why."""

    def __init__(self, message: str, reason: object) -> None:
        super().__init__(message)
        self.reason = reason


class ChecksumError(ValueError):
    """The fetched file is not the published one (its digest differs); nothing was written."""

    def __init__(self, message: str, algorithm: str, expected: str, received: str, url: str) -> None:
        super().__init__(message)
        self.algorithm, self.expected, self.received, self.url = algorithm, expected, received, url


class DatasetUnavailableError(OSError):
    """A dataset file is neither on disk nor downloadable (offline, or the download failed its checksum)."""


def cnnkit_home() -> Path:
    """The cache root: ``$CNNKIT_HOME`` when set, else ``~/.cnnkit``."""
    home = os.environ.get("CNNKIT_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cnnkit"


def cache_dir(subdir: str = "datasets") -> Path:
    """A folder of the cache root: ``cache_dir("weights")`` is ``$CNNKIT_HOME/weights``."""
    return cnnkit_home() / subdir


def sha256_of(path: str | os.PathLike, transform: Callable[[bytes], bytes] | None = None) -> str:
    """The sha256 hex digest of a file (of ``transform(its bytes)`` when given)."""
    if transform is not None:
        return hashlib.sha256(transform(Path(path).read_bytes())).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _offline(url: str, target: Path, reason: object) -> DownloadError:
    return DownloadError(
        f"Could not download {url} ({reason}). Expected network access to it. Received: url={url!r}. "
        f"Without internet, download it elsewhere and copy it to {target}.",
        reason,
    )


def _check_digest(url: str, algorithm: str, expected: str | None, received: str) -> None:
    if expected is None:
        return
    # A shorter sha256 is a prefix: torchvision publishes only the first 8 hex digits, in the file name.
    if received.startswith(expected.lower()) if algorithm == "sha256" else received == expected.lower():
        return
    raise ChecksumError(
        f"Downloaded file has the wrong checksum. Expected {algorithm}={expected}. "
        f"Received: {algorithm}={received} from url={url!r}. The download was discarded; try again later.",
        algorithm,
        expected,
        received,
        url,
    )


def download(
    url: str,
    target: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Downloads ``url`` to ``target``, atomically, and only if its digest matches.

    Args:
        url: What to fetch.
        target: Where the file ends up; its folder is created.
        sha256: The expected sha256 hex digest, or a prefix of it (torchvision's 8 digits).
        md5: The expected md5 hex digest (Keras applications files publish md5).
        progress: Draw the progress bar on stderr (one final line when stderr is not a terminal).
        timeout: Socket timeout in seconds.

    Returns:
        ``target`` as a Path.

    Raises:
        DownloadError: Offline, refused, or cut off (a ConnectionError); the message says where to put the file.
        ChecksumError: The file's digest differs (a ValueError); nothing is kept.
        OSError: The file could not be written (no space...); the message names ``target``.
    """
    target = Path(target)
    sha, md5_hash = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - URLs come from our own tables
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            raise _offline(url, target, getattr(e, "reason", e)) from e
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = Progbar(
                total,
                verbose="auto" if progress else 0,
                unit_name="B",
                stream=sys.stderr,
                title=f"Downloading {target.name} from {url}",
            )
            received = 0
            while True:
                try:
                    block = response.read(_CHUNK)
                except (http.client.HTTPException, OSError) as e:
                    raise _offline(url, target, f"cut off after {received} bytes: {e}") from e
                if not block:
                    break
                out.write(block)  # a full disk raises here, as an OSError that names target
                sha.update(block)
                md5_hash.update(block)
                received += len(block)
                bar.update(received)
            if total is not None and received != total:
                raise _offline(url, target, f"cut off after {received} of {total} bytes")
            bar.update(received, finalize=True)
        _check_digest(url, "sha256", sha256, sha.hexdigest())
        _check_digest(url, "md5", md5, md5_hash.hexdigest())
    return target


def get_file(
    fname: str,
    url: str,
    sha256: str | None,
    subdir: str,
    local_dirs: Sequence[str | os.PathLike] = (),
    check: Callable[[Path], bool] | None = None,
    progress: bool = True,
) -> Path:
    """A verified local copy of a dataset file: from ``local_dirs``, ``$CNNKIT_HOME/datasets/<subdir>``, or a download.

    Args:
        check: verifies a local copy (default: its sha256); copies that fail are ignored (and re-downloaded).

    Raises:
        DatasetUnavailableError: offline / download failed; the message says which file to put where.
    """
    verify = check or (lambda p: sha256 is None or sha256_of(p) == sha256)
    target = cache_dir("datasets") / subdir / fname
    for d in [*local_dirs, target.parent]:
        candidate = Path(d) / fname
        if candidate.is_file() and verify(candidate):
            return candidate
    try:
        path = download(url, target, sha256=sha256 if check is None else None, progress=progress)
    except ChecksumError as e:
        raise DatasetUnavailableError(str(e)) from None
    except OSError as e:  # DownloadError (offline), or the cache folder cannot be written
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
