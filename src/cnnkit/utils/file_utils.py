"""``get_file``: Keras' cached download, through cnnkit's one verified downloader (``common.download``).

Differences from Keras, on purpose: the cache root is ``$CNNKIT_HOME`` (``~/.cnnkit``) unless ``cache_dir`` is given;
a download lands atomically (a partial file never sits in the cache); offline, the error is the one the built-in
datasets give (``DatasetUnavailableError``, saying where to put the file by hand); archives are extracted with
member paths checked, so a ``../`` or absolute member cannot write outside the extraction folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.parse
import zipfile
from pathlib import Path

from cnnkit.common.download import ChecksumError, DatasetUnavailableError, cnnkit_home, download
from cnnkit.common.files import temp_name

__all__ = ["get_file"]


def get_file(
    fname: str | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: str | list[str] | None = "auto",
    cache_dir: str | os.PathLike | None = None,
    force_download: bool = False,
) -> str:
    """Downloads a file from a URL unless it is already in the cache, as Keras' ``get_file``.

    Args:
        fname: The local file name (default: the last part of the URL's path). With ``extract``, a name without an
            extension names the extraction folder.
        origin: The URL.
        untar: Deprecated in Keras for ``extract``: extract a tar archive.
        md5_hash: Deprecated in Keras for ``file_hash``: the expected md5 digest.
        file_hash: The expected sha256 or md5 hex digest; the file is verified after download and in the cache.
        cache_subdir: The folder under the cache root (an absolute path is used as it is).
        hash_algorithm: ``"sha256"``, ``"md5"`` or ``"auto"`` (64 hex digits: sha256, otherwise md5).
        extract: Extract the archive (tar, tar.gz, tar.bz2 or zip) and return the extraction folder.
        archive_format: ``"auto"`` (tar then zip), ``"tar"``, ``"zip"``, or a list of them.
        cache_dir: The cache root (default ``$CNNKIT_HOME``, i.e. ``~/.cnnkit``).
        force_download: Download again even when a cached copy is there.

    Returns:
        The path of the downloaded file, or of the extraction folder with ``extract=True``.

    Raises:
        DatasetUnavailableError: Offline or the server refused; the message says where to put the file.
        ValueError: The download's digest differs from ``file_hash`` (nothing is kept).

    Example:
        >>> path = get_file(origin="https://example.org/data/flowers.tgz", extract=True)  # doctest: +SKIP
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _algorithm(file_hash, hash_algorithm)
    datadir = Path(os.path.expanduser(cache_dir)) if cache_dir is not None else cnnkit_home()
    datadir = datadir / cache_subdir
    given = os.fspath(fname) if fname else None
    if not given:
        given = None
        name = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not name:
            raise ValueError(
                f"Can't parse the file name from the origin provided: '{origin}'.Please specify the `fname` argument."
            )
    else:
        name = given
        if os.sep in name or (os.altsep and os.altsep in name):
            raise ValueError(
                "Paths are no longer accepted as the `fname` argument. To specify the file's parent directory, use "
                f"the `cache_dir` argument. Received: fname={name}"
            )
    if extract or untar:
        if given and "." in name:
            target, extraction_dir = datadir / name, datadir / f"{name[: name.find('.')]}_extracted"
        else:
            target, extraction_dir = datadir / f"{name}_archive", datadir / name
    else:
        target, extraction_dir = datadir / name, None

    fresh = force_download or not target.is_file()
    if not fresh and file_hash is not None and not _matches(target, file_hash, algorithm):
        print(
            f"A local file was found, but it seems to be incomplete or outdated because the {algorithm} file hash "
            f"does not match the original value of {file_hash} so we will re-download the data."
        )
        fresh = True
    if fresh:
        print(f"Downloading data from {origin}")
        digests = {algorithm: file_hash} if file_hash is not None else {}
        try:
            download(origin, target, **digests)
        except ChecksumError as e:
            raise ValueError(
                f"Incomplete or corrupted file detected. The {algorithm} file hash does not match the provided value "
                f"of {file_hash}. Received: {algorithm}={e.received} from origin={origin!r}. The download was "
                "discarded; check file_hash or try again later."
            ) from None
        except OSError as e:  # offline (DownloadError), refused, or the cache folder cannot be written
            raise DatasetUnavailableError(
                f"Cannot download {name}: {getattr(e, 'reason', e)}. Expected the file in {target.parent} (or "
                f"downloadable from {origin}). Received: no local copy. Put {target.name} in {target.parent} (set "
                "CNNKIT_HOME or cache_dir to use another cache root) and call get_file() again."
            ) from None
        if extraction_dir is not None and extraction_dir.exists():
            shutil.rmtree(extraction_dir)  # a new archive replaces what the old one extracted
    if extraction_dir is None:
        return os.fspath(target)
    if not extraction_dir.exists():
        formats = ["tar"] if untar and not extract else _formats(archive_format)
        _extract(target, extraction_dir, formats)
    return os.fspath(extraction_dir)


def _algorithm(file_hash: str | None, hash_algorithm: str) -> str:
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(
            "Unknown hash algorithm. Expected 'auto', 'sha256' or 'md5'. Received: "
            f"hash_algorithm={hash_algorithm!r}. Pass one of those."
        )
    if hash_algorithm != "auto":
        return hash_algorithm
    return "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"


def _matches(path: Path, file_hash: str, algorithm: str) -> bool:
    h = hashlib.sha256() if algorithm == "sha256" else hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest() == str(file_hash).lower()


def _formats(archive_format: str | list[str] | None) -> list[str]:
    if archive_format is None:
        return []
    if archive_format == "auto":
        return ["tar", "zip"]
    return [archive_format] if isinstance(archive_format, str) else list(archive_format)


def _inside(root: Path, member: str) -> bool:
    resolved = (root / member).resolve()
    return resolved == root.resolve() or root.resolve() in resolved.parents


def _extract(archive: Path, dest: Path, formats: list[str]) -> None:
    """Extracts into a temporary folder beside ``dest`` and renames it into place, so ``dest`` is complete or absent."""
    for fmt in formats:
        is_format = tarfile.is_tarfile if fmt == "tar" else zipfile.is_zipfile
        if not is_format(archive):
            continue
        tmp = temp_name(dest)
        tmp.mkdir(parents=True)
        try:
            if fmt == "tar":
                with tarfile.open(archive) as tar:
                    bad = [m.name for m in tar.getmembers() if not _inside(tmp, m.name) or m.issym() or m.islnk()]
                    _refuse(archive, bad)
                    tar.extractall(tmp, filter="data")
            else:
                with zipfile.ZipFile(archive) as zf:
                    _refuse(archive, [n for n in zf.namelist() if not _inside(tmp, n)])
                    zf.extractall(tmp)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    raise ValueError(
        f"Cannot extract {archive.name}. Expected a {' or '.join(formats) or 'supported'} archive. Received: "
        f"archive_format={formats!r}. Pass extract=False, or the right archive_format."
    )


def _refuse(archive: Path, bad: list[str]) -> None:
    if bad:
        raise ValueError(
            f"Archive {archive.name} holds members that would land outside the extraction folder. Expected relative "
            f"paths inside the archive. Received: {bad[:3]}. Extract it by hand after checking its contents."
        )
