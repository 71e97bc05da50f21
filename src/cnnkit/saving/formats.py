"""What a file is: model and weight files recognised by their first bytes and structure, before anything is parsed."""

from __future__ import annotations

import os
import zipfile


def _not_a_model(path: str, what: str, fix: str) -> ValueError:
    return ValueError(
        f"{path!r} is not a cnnkit model file: {what}. Expected a .cnnkit file written by model.save(). {fix}"
    )


def read_archive(filepath: str | os.PathLike) -> dict[str, bytes]:
    """The entries of a ``.cnnkit`` archive, after checking what kind of file it is."""
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path!r}. Check the path.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q"):
        raise _not_a_model(
            path,
            "it is a Python pickle, and cnnkit never unpickles (unpickling can run any code)",
            "Re-save the model with cnnkit's model.save().",
        )
    if head.startswith(b"\x89HDF"):
        raise _not_a_model(
            path,
            "it is an HDF5 (Keras .h5) file",
            "Build the architecture in cnnkit and call model.load_weights(path) to read its weights.",
        )
    if not zipfile.is_zipfile(path):
        raise _not_a_model(path, "it is not a zip archive, or it is truncated or corrupt", "Save the model again.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names or "model.safetensors" not in names:
                if any(n.endswith(".pkl") for n in names):
                    raise _not_a_model(
                        path,
                        "it is a PyTorch checkpoint written by torch.save (a pickle inside a zip), and cnnkit "
                        "never unpickles",
                        "Load its state dict with torch.load(path, weights_only=True) and copy it "
                        "into a cnnkit model, or save a cnnkit model with model.save().",
                    )
                raise _not_a_model(
                    path,
                    f"it has no config.json/model.safetensors (it holds: {', '.join(names[:8])})",
                    "Save the model with model.save().",
                )
            return {n: archive.read(n) for n in names if not n.endswith("/")}
    except zipfile.BadZipFile as e:
        raise _not_a_model(path, f"the archive is truncated or corrupt ({e})", "Save the model again.") from None
