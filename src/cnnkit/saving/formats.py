"""What a file is, decided in one place from its first bytes and structure, before anything is parsed.

Every loader (``load_model``, ``load_weights``, the zoo's weight files) asks :func:`detect_format` and then decides
what it accepts; none sniffs a file itself. The kinds:

* ``"pickle"``: a Python pickle stream (also a legacy, non-zip ``torch.save`` file);
* ``"cnnkit"``: a ``.cnnkit`` model archive (a zip with ``config.json`` and ``model.safetensors``);
* ``"torch"``: a ``torch.save`` zip (its ``data.pkl`` is a pickle);
* ``"keras"``: a Keras 3 ``.keras`` model archive (a zip with ``config.json`` and ``model.weights.h5``);
* ``"zip"``: any other zip archive;
* ``"keras3"`` / ``"keras_legacy"``: an HDF5 file laid out as Keras 3's ``.weights.h5`` / a legacy Keras ``.h5``;
* ``"safetensors"``: a safetensors file;
* ``"unknown"``: none of these, or a truncated or corrupt file.
"""

from __future__ import annotations

import os
import zipfile

import safetensors

from cnnkit.saving.guards import check_regular, load_json, open_regular, read_zip_members
from cnnkit.saving.keras_h5 import is_keras3_file

__all__ = [
    "check_regular_file",
    "detect_format",
    "read_archive",
    "safetensors_header",
    "safetensors_metadata",
    "safetensors_shapes",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_regular_file(filepath: str | os.PathLike, what: str = "model", max_bytes: int | None = None) -> str:
    """The path as a string, once it is known to name a regular file (or a link to one) of at most ``max_bytes``.

    Reading a pipe or a device could block forever or never end, so only regular files are opened.

    Raises:
        FileNotFoundError: when nothing exists at the path.
        ValueError: when the path is a directory, a pipe, a device or a socket, or the file is over the cap.
    """
    path = os.fspath(filepath)
    check_regular(path, what, max_bytes)
    return path


def _is_pickle(head: bytes) -> bool:
    # Protocol 2+ starts with PROTO (0x80); protocols 0/1 of a dict or list start with "(d", "(l", "}q" or "]q".
    return head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q")


def _is_safetensors(head: bytes, size: int) -> bool:
    # An 8-byte little-endian header length that fits in the file, then the header's JSON object.
    if len(head) < 9:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return 2 <= header_len <= size - 8 and head[8:9] == b"{"


def detect_format(filepath: str | os.PathLike, what: str = "model") -> str:
    """What the file at ``filepath`` is (one of the kinds above), from its bytes, never from its name.

    Example:
        >>> detect_format("model.cnnkit")  # doctest: +SKIP
        'cnnkit'
    """
    path = os.fspath(filepath)
    with open_regular(path, what) as f:
        head = f.read(16)
    if _is_pickle(head):
        return "pickle"
    if head.startswith(_HDF5_SIGNATURE):
        try:
            return "keras3" if is_keras3_file(path) else "keras_legacy"
        except (OSError, KeyError, ValueError, RuntimeError):  # h5py cannot open it: a truncated or corrupt HDF5 file
            return "unknown"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return "unknown"
        if "config.json" in names and "model.safetensors" in names:
            return "cnnkit"
        if "config.json" in names and "model.weights.h5" in names:
            return "keras"  # before the pickle test: the .keras reader refuses a pickle inside by name
        if any(n.endswith(".pkl") for n in names):
            return "torch"
        return "zip"
    if _is_safetensors(head, os.path.getsize(path)):
        return "safetensors"
    return "unknown"


def safetensors_metadata(source: str | os.PathLike | bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (read by ``safetensors.safe_open``) or buffer; ``{}`` if none.

    The library reads metadata from files only; a buffer (an entry of a ``.cnnkit`` archive) has its header read
    here, the one place in cnnkit that does so.

    Raises:
        ValueError: when a buffer's header is not a safetensors header.
    """
    if not isinstance(source, (bytes, bytearray, memoryview)):
        with safetensors.safe_open(os.fspath(source), framework="pt") as f:
            return dict(f.metadata() or {})
    metadata = safetensors_header(source).get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError(
            "The safetensors header is corrupt (metadata that is not a JSON object). Expected an 8-byte length and a "
            f"JSON header. Received: {len(source)} bytes. Save the file again."
        )
    return metadata


def safetensors_shapes(source: bytes) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor a safetensors buffer declares in its header, nothing else read.

    Raises:
        ValueError: when the header is not a safetensors header.
    """
    header = safetensors_header(source)
    try:
        return {k: tuple(int(d) for d in v["shape"]) for k, v in header.items() if k != "__metadata__"}
    except (TypeError, KeyError, ValueError, AttributeError):
        raise ValueError(
            "The safetensors header is corrupt (a tensor without a shape). Expected an 8-byte length and a JSON "
            f"header. Received: {len(source)} bytes. Save the file again."
        ) from None


def safetensors_header(source: bytes) -> dict:
    """The JSON header of a safetensors buffer (size- and depth-checked)."""
    data = bytes(source[:8])
    header_len = int.from_bytes(data, "little") if len(data) == 8 else -1
    try:
        if not 0 < header_len <= len(source) - 8:
            raise ValueError(f"a header length of {header_len} bytes in {len(source)} bytes")
        header = load_json(bytes(source[8 : 8 + header_len]), "safetensors header")
        if not isinstance(header, dict):
            raise ValueError("a header that is not a JSON object")
    except (ValueError, AttributeError) as e:
        raise ValueError(
            f"The safetensors header is corrupt ({e}). Expected an 8-byte length and a JSON header. Received: "
            f"{len(source)} bytes. Save the file again."
        ) from None
    return header


def _not_a_model(path: str, what: str, fix: str) -> ValueError:
    return ValueError(
        f"{path!r} is not a cnnkit model file: {what}. Expected a .cnnkit file written by model.save(). {fix}"
    )


def read_archive(filepath: str | os.PathLike) -> dict[str, bytes]:
    """The entries of a ``.cnnkit`` archive, after :func:`detect_format` said it is one."""
    path = os.fspath(filepath)
    kind = detect_format(path, "model")
    if kind == "pickle":
        raise _not_a_model(
            path,
            "it is a Python pickle, and cnnkit never unpickles (unpickling can run any code)",
            "Re-save the model with cnnkit's model.save().",
        )
    if kind in ("keras3", "keras_legacy"):
        raise _not_a_model(
            path,
            "it is an HDF5 (Keras .h5) file",
            "Build the architecture in cnnkit and call model.load_weights(path) to read its weights.",
        )
    if kind == "torch":
        raise _not_a_model(
            path,
            "it is a PyTorch checkpoint written by torch.save (a pickle inside a zip), and cnnkit never unpickles",
            "Load its state dict with torch.load(path, weights_only=True) and copy it "
            "into a cnnkit model, or save a cnnkit model with model.save().",
        )
    if kind == "safetensors":
        raise _not_a_model(
            path,
            "it is a safetensors weights file (weights without an architecture)",
            "Build the architecture in cnnkit and call model.load_weights(path).",
        )
    if kind == "keras":
        raise _not_a_model(path, "it is a Keras 3 .keras archive", "Load it with cnnkit.models.load_model(path).")
    if kind not in ("cnnkit", "zip"):
        raise _not_a_model(path, "it is not a zip archive, or it is truncated or corrupt", "Save the model again.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if kind != "cnnkit":
                raise _not_a_model(
                    path,
                    f"it has no config.json/model.safetensors (it holds: {', '.join(names[:8])})",
                    "Save the model with model.save().",
                )
            return read_zip_members(archive, path)
    except zipfile.BadZipFile as e:
        raise _not_a_model(path, f"the archive is truncated or corrupt ({e})", "Save the model again.") from None
