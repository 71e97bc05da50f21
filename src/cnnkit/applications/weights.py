"""Pretrained weights: the table entry type, the cache directory, and verified, atomic downloads (common.download).

A file is downloaded once into ``$CNNKIT_HOME/weights`` (default ``~/.cnnkit/weights``), hashed while it streams,
and moved into place only when its digest matches, so the cache never holds a corrupt or foreign file.

Example:
    >>> from cnnkit.applications.weights import fetch_weights
    >>> path = fetch_weights(get_model_entry("ResNet18").weights["imagenet"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.common.download import ChecksumError, DownloadError, download
from cnnkit.common.download import cache_dir as common_cache_dir

__all__ = ["WeightsEntry", "weights_cache_dir", "fetch_weights", "verify_file"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsEntry:
    """One downloadable set of weights.

    Attributes:
        url: Where the file is published.
        sha256: The file's sha256 hex digest; a shorter value is a *prefix* of it (torchvision publishes only the
            first 8 hex digits, embedded in the file name, and checks ``digest.startswith(prefix)``).
        layout: Key/array layout of the file: ``"torchvision"`` (a ``.pth`` state dict) or ``"keras_h5"``.
        preprocessing: ``"torch"`` (RGB, /255, ImageNet mean/std), ``"caffe"`` (BGR, mean subtracted) or ``"tf"``.
        classes: Name of the class list (``"imagenet"``: ``imagenet_classes.json``) or the class names.
        num_params: Parameter count of the model the file belongs to (with its top).
        source: Who trained/published it and how (recipe, reported accuracy).
        licence: The licence the publisher states for the file.
        md5: The file's md5 when the publisher gives md5 instead of sha256 (Keras applications files).
        include_top: Whether the file holds the classifier (Keras publishes separate "notop" files).
        metrics: Published accuracy figures, e.g. ``{"acc@1": 69.758}``.
    """

    url: str
    sha256: str | None
    layout: str
    preprocessing: str
    classes: str | tuple[str, ...]
    num_params: int
    source: str
    licence: str
    md5: str | None = None
    include_top: bool = True
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def sha256_is_prefix(self) -> bool:
        return self.sha256 is not None and len(self.sha256) < 64


def torchvision_hash_prefix(url: str) -> str:
    """The sha256 prefix torchvision embeds in its file names (``resnet18-f37072fd.pth`` -> ``f37072fd``)."""
    match = re.search(r"-([a-f0-9]{6,})\.", url.rsplit("/", 1)[-1])
    if match is None:
        raise ValueError(
            f"The file name carries no torchvision hash prefix. Expected '<name>-<hex digits>.<ext>'. "
            f"Received: url={url!r}. Give the sha256 explicitly."
        )
    return match.group(1)


TORCHVISION_LICENCE = (
    "BSD-3-Clause (torchvision); the weights are trained on ImageNet-1k, whose terms of access limit use to "
    "non-commercial research and education"
)


def torchvision_entry(url: str, num_params: int, acc1: float, acc5: float, recipe: str) -> WeightsEntry:
    """A torchvision weight set: the full sha256 is not published, only the 8-digit prefix in the file name,
    which is what torchvision itself checks (``check_hash=True``), so that prefix is what is verified here."""
    return WeightsEntry(
        url=url,
        sha256=torchvision_hash_prefix(url),
        layout="torchvision",
        preprocessing="torch",
        classes="imagenet",
        num_params=num_params,
        source=f"torchvision 0.28 weights table; {recipe}",
        licence=TORCHVISION_LICENCE,
        metrics={"acc@1": acc1, "acc@5": acc5},
    )


def weights_cache_dir() -> Path:
    """``$CNNKIT_HOME/weights`` when CNNKIT_HOME is set, else ``~/.cnnkit/weights`` (the one cache root's folder)."""
    return common_cache_dir("weights")


def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _integrity_error(name: str, algorithm: str, expected: str, received: str, where: str) -> ValueError:
    if algorithm == "sha256":
        what = "sha256 prefix" if len(expected) < 64 else "sha256"
        return ValueError(
            f"The weights file '{name}' failed its integrity check. Expected {what} {expected}. "
            f"Received: sha256={received} ({where}). The file is corrupt or not the published one; it was not "
            f"kept. Retry the download, or check the URL."
        )
    return ValueError(
        f"The weights file '{name}' failed its integrity check. Expected md5 {expected}. Received: md5={received} "
        f"({where}). The file is corrupt or not the published one; it was not kept. Retry the download."
    )


def _check(name: str, sha256_hex: str, md5_hex: str, sha256: str | None, md5: str | None, where: str) -> None:
    if sha256 is not None and not sha256_hex.startswith(sha256.lower()):
        raise _integrity_error(name, "sha256", sha256, sha256_hex, where)
    if md5 is not None and md5_hex != md5.lower():
        raise _integrity_error(name, "md5", md5, md5_hex, where)


def verify_file(path: str | os.PathLike, sha256: str | None = None, md5: str | None = None) -> None:
    """Raises ValueError when the file's sha256 (full or prefix) or md5 does not match."""
    sha_hex, md5_hex = _digests(Path(path))
    _check(Path(path).name, sha_hex, md5_hex, sha256, md5, str(path))


def fetch_weights(
    entry: WeightsEntry | str,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Returns the local path of a weights file, downloading and verifying it on first use.

    Args:
        entry: A WeightsEntry, or a URL (then give `sha256` or `md5`).
        sha256: Full sha256 or a prefix of it (overrides the entry's).
        md5: md5 hex digest (Keras applications files).
        cache_dir: Where files are kept; defaults to ``weights_cache_dir()``.
        progress: Draw a progress bar on stderr while downloading.
        timeout: Socket timeout in seconds.

    Raises:
        ConnectionError: The file is not cached and could not be downloaded (the message says where to put it).
        ValueError: The downloaded file does not match its hash (nothing is cached).
    """
    if isinstance(entry, WeightsEntry):
        url, sha256, md5 = entry.url, sha256 or entry.sha256, md5 or entry.md5
    elif isinstance(entry, str):
        url = entry
    else:
        raise TypeError(
            f"fetch_weights needs a WeightsEntry or a URL string. Received: entry={entry!r} of type "
            f"{type(entry).__name__}. Pass get_model_entry(name).weights['imagenet'] or a URL."
        )
    if sha256 is None and md5 is None:
        raise ValueError(
            f"A download must be verified, but no hash was given. Expected sha256= or md5=. Received: url={url!r}. "
            "Pass the published digest."
        )
    folder = Path(cache_dir) if cache_dir is not None else weights_cache_dir()
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    target = folder / name
    if target.is_file():
        # Downloads are verified before they are moved in, but a file can also be copied into the cache by hand
        # (offline machines): it is hashed like a download, so a wrong file under the right name never loads.
        sha_hex, md5_hex = _digests(target)
        try:
            _check(name, sha_hex, md5_hex, sha256, md5, f"cached at {target}")
        except ValueError as exc:
            raise ValueError(
                str(exc)
                .replace("; it was not kept", "")
                .replace(" Retry the download, or check the URL.", "")
                .replace(" Retry the download.", "")
                + f" Delete {target} to download it again, or copy the published file there."
            ) from None
        return target
    try:
        return download(url, target, sha256=sha256, md5=md5, progress=progress, timeout=timeout)
    except DownloadError as exc:
        raise ConnectionError(
            f"Could not download the weights file '{name}' ({exc.reason}). Expected network "
            f"access to {url} or the file already in the cache. Received: url={url!r}. Without internet, download "
            f"it elsewhere and copy it to {target}, or pass weights='/path/to/{name}'."
        ) from exc
    except ChecksumError as exc:  # the zoo's wording, which names the weights file
        raise _integrity_error(name, exc.algorithm, exc.expected, exc.received, f"downloaded from {url}") from None
