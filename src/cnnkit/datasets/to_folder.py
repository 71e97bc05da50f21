"""``to_folder``: write an array dataset out as an image folder (one sub-folder per class)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from cnnkit.common.files import atomic_write
from cnnkit.common.progbar import Progbar

EXTENSIONS = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "bmp": "bmp", "gif": "gif", "webp": "webp"}
PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "bmp": "BMP", "gif": "GIF", "webp": "WEBP"}


def _class_dir_names(labels: np.ndarray, class_names: Sequence[str] | None) -> dict[int, str]:
    present = sorted(int(v) for v in np.unique(labels))
    if class_names is None:
        # Zero-padded numbers, so the alphabetical order image_dataset_from_directory uses is the label order.
        width = len(str(max(present)))
        return {v: str(v).zfill(width) for v in present}
    if max(present) >= len(class_names):
        raise ValueError(
            f"A label has no class name. Expected labels below len(class_names)={len(class_names)}. "
            f"Received: max label {max(present)}. Pass one name per class."
        )
    return {v: str(class_names[v]).replace(os.sep, "_") for v in present}


def to_folder(
    x: np.ndarray,
    y: np.ndarray,
    directory: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    format: str | Sequence[str] = "png",
    classes: Sequence[int] | None = None,
    max_per_class: int | None = None,
    quality: int = 95,
    verbose: bool = True,
) -> list[Path]:
    """Write images ``x`` with labels ``y`` as ``directory/<class>/<index>.<ext>``; returns the written paths.

    Args:
        x: uint8 images, (N, H, W) or (N, H, W, C) with C in 1, 3, 4.
        y: integer labels, (N,) or (N, 1).
        class_names: folder name per label (default: zero-padded label numbers, which sort in label order).
        format: "png", "jpeg", "bmp", "gif", "webp", or a list of them used in turn (e.g. ("png", "jpeg")).
        classes: only these labels; ``max_per_class``: at most this many images per class (the first ones).
        quality: JPEG/WebP quality.

    Example:
        >>> (x, y), _ = fashion_mnist.load_data()  # doctest: +SKIP
        >>> to_folder(x[:600], y[:600], "fmnist", classes=[0, 1, 7], format=("png", "jpeg"))  # doctest: +SKIP
    """
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.dtype != np.uint8:
        raise TypeError(
            f"to_folder writes 8-bit images. Expected x with dtype uint8. Received: x.dtype={x.dtype}. "
            "Convert with x.astype('uint8') (after scaling to 0..255)."
        )
    if len(x) != len(y) or x.ndim not in (3, 4):
        raise ValueError(
            "x and y do not describe one labelled image each. Expected x (N, H, W[, C]) and y (N,). "
            f"Received: x.shape={x.shape}, y.shape={y.shape}. Pass matching arrays."
        )
    formats = [format] if isinstance(format, str) else list(format)
    for f in formats:
        if f.lower() not in EXTENSIONS:
            raise ValueError(
                f"Unknown image format. Expected one of {sorted(EXTENSIONS)}. Received: format={f!r}. "
                "Pick one of those."
            )
    names = _class_dir_names(y, class_names)
    keep = np.ones(len(y), dtype=bool) if classes is None else np.isin(y, list(classes))
    root = Path(directory)
    counts: dict[int, int] = {}
    written: list[Path] = []
    todo = np.flatnonzero(keep)
    show = verbose and len(todo) >= 2000
    bar = Progbar(
        len(todo), verbose="auto" if show else 0, unit_name="image", stream=sys.stderr, title="Writing images"
    )
    for k, i in enumerate(todo):
        bar.update(k)
        label = int(y[i])
        if max_per_class is not None and counts.get(label, 0) >= max_per_class:
            continue
        counts[label] = counts.get(label, 0) + 1
        ext = EXTENSIONS[formats[k % len(formats)].lower()]
        img = Image.fromarray(x[i][:, :, 0] if x.ndim == 4 and x.shape[3] == 1 else x[i])
        path = root / names[label] / f"{i:06d}.{ext}"
        kwargs = {"quality": quality} if ext in ("jpg", "webp") else {}
        # No fsync per image: a folder of thousands of files would wait on the disk for each, and an interrupted
        # export is simply run again; the rename still keeps half-written images out of the folder.
        atomic_write(path, functools.partial(img.save, format=PIL_FORMATS[ext], **kwargs), fsync=False)
        written.append(path)
    bar.update(len(todo), finalize=True)
    return written
