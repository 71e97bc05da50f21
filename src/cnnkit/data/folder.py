"""``image_dataset_from_directory``: Keras 3's function, decoding each image once and skipping broken files."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnkit.data.cache import build_store
from cnnkit.data.dataset import ImageDataset
from cnnkit.data.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, check_color_mode, check_interpolation
from cnnkit.data.index import check_split_args, index_directory, split
from cnnkit.data.lazy import LazyStore
from cnnkit.data.loader import DecodeSettings

logger = logging.getLogger("cnnkit.data")


def _check_args(labels: Any, label_mode: Any, class_names: Any, image_size: Any, data_format: Any) -> tuple:
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                "labels must be 'inferred', None or a list of integer labels. Expected one label per image file "
                f"in sorted path order. Received: labels={labels!r}. Pass labels='inferred' to use the sub-folders."
            )
        if class_names:
            raise ValueError(
                "class_names can only be used with labels='inferred'. Expected class_names=None with explicit "
                f"labels. Received: labels=<list of {len(labels)}>, class_names={class_names!r}. Drop class_names."
            )
    if labels is None and class_names is not None:
        raise ValueError(
            "class_names cannot be used with labels=None. Expected class_names=None. "
            f"Received: class_names={class_names!r}. Drop class_names or pass labels='inferred'."
        )
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(
            "Unknown label_mode. Expected 'int', 'categorical', 'binary' or None. "
            f"Received: label_mode={label_mode!r}. Pick one of those."
        )
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2 or not all(int(s) > 0 for s in image_size):
        raise ValueError(
            "image_size must be (height, width). Expected a tuple of 2 positive integers. "
            f"Received: image_size={image_size!r}. Pass e.g. image_size=(180, 180)."
        )
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "cnnkit datasets are channels-last. Expected data_format=None or 'channels_last'. "
            f"Received: data_format={data_format!r}. Drop the argument."
        )
    return tuple(int(s) for s in image_size)


def _no_images(directory: str, what: str = "No images found in directory") -> ValueError:
    return ValueError(
        f"{what} {directory!r}. Expected image files ({', '.join(IMAGE_EXTENSIONS)}) in one sub-folder per class "
        f"(or anywhere below it with labels=None). Received: directory={directory!r}. "
        "Check the path and the folder layout."
    )


def _make_store(paths: list[str], settings: DecodeSettings, cache: Any, directory: str, workers: Any, verbose: bool):
    if cache is False:
        return LazyStore.validated(paths, settings, workers, progress=verbose)
    if cache is True or cache == "memory":
        _warn_if_too_big(len(paths) * int(np.prod(settings.shape)))
    # The file list is part of the key, so a training and a validation subset keep separate cache files.
    name = f"{os.path.abspath(directory)}:{hashlib.sha256(chr(10).join(paths).encode()).hexdigest()[:16]}"
    store, reasons, reused = build_store(paths, settings, cache, name=name, workers=workers, progress=verbose)
    if reused and verbose:
        print(f"Using cached decoded images from {cache}.")
    return store, reasons


def image_dataset_from_directory(
    directory: str | os.PathLike,
    labels: str | Sequence[int] | None = "inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: tuple[int, int] = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    verbose: bool = True,
    *,
    cache: bool | str | os.PathLike = True,
    augment: Callable | Sequence[Callable] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    jpeg_draft: bool = False,
) -> ImageDataset | list[ImageDataset]:
    """Generates a dataset from image files in a directory (Keras 3 semantics for every Keras argument).

    Files are listed, ordered, labelled, shuffled (``np.random.RandomState(seed)``) and split exactly as Keras
    does, so ``subset="training"``/``"validation"`` hold the same files as Keras'. Each image is then decoded and
    resized once (in parallel), EXIF orientation applied; broken files are skipped with one warning each.

    Args (cnnkit additions, keyword-only):
        cache: True/"memory" keeps the decoded uint8 pixels in RAM; a directory path keeps them in a memory-mapped
            file there, reused while the files are unchanged; False decodes every batch again (least memory).
        augment: a preprocessing layer, a function of the image batch, or a list of them, applied to each
            training batch (layers run with ``training=True``), deterministic in (seed, epoch, batch).
        max_pixels: images with more pixels are skipped as possible decompression bombs.
        workers: decoding processes (default: the usable CPU cores).
        jpeg_draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) still at least ``image_size``: a
            several times faster first read for small targets, at the price of pixels that differ slightly from
            Keras' full-size decode + resize (they alias less). Off by default.

    Returns:
        An :class:`ImageDataset`, or ``[train, validation]`` when ``subset="both"``.

    Example:
        >>> train, val = image_dataset_from_directory("data", validation_split=0.2, subset="both",
        ...                                           seed=1337, image_size=(180, 180))  # doctest: +SKIP
    """
    directory = os.fspath(directory)
    image_size = _check_args(labels, label_mode, class_names, image_size, data_format)
    check_color_mode(color_mode)
    interpolation = check_interpolation(interpolation)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True. Expected at most one. "
            "Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True. Set one of them to False."
        )
    check_split_args(validation_split, subset, shuffle, seed)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = int(np.random.randint(1e6))

    paths, all_labels, names, _ = index_directory(directory, labels, class_names, False, seed, follow_links)
    if not paths:
        raise _no_images(directory)
    if label_mode == "binary" and len(names or []) != 2:
        raise ValueError(
            "label_mode='binary' needs exactly 2 classes. Expected 2 class names. "
            f"Received: class_names={names}. Use label_mode='int' or 'categorical' for more classes."
        )
    if verbose:
        what = f"Found {len(paths)} files" + ("." if names is None else f" belonging to {len(names)} classes.")
        print(what)
    # Keras shuffles the sorted list once with RandomState(seed); that permutation decides the split.
    perm = np.random.RandomState(seed).permutation(len(paths)) if shuffle else np.arange(len(paths))
    subsets = ["training", "validation"] if subset == "both" else [subset]
    picks = {s: perm[split(len(paths), validation_split, s)] for s in subsets}
    for s, pick in picks.items():
        if verbose and validation_split:
            print(f"Using {len(pick)} files for {s}.")
        if len(pick) == 0:
            raise _no_images(directory, f"No {s} images (validation_split={validation_split}) in directory")

    # Decode only what the requested subsets need, once, in sorted (seed-independent) order.
    needed = np.unique(np.concatenate(list(picks.values())))
    settings = DecodeSettings(
        image_size, color_mode, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, max_pixels, jpeg_draft
    )
    store, reasons = _make_store([paths[i] for i in needed], settings, cache, directory, workers, verbose)
    slot_of = np.full(len(paths), -1, dtype=np.int64)
    slot_of[needed] = np.arange(len(needed))
    bad = {int(i): reasons[k] for k, i in enumerate(needed) if reasons[k] is not None}
    for i in sorted(bad):
        logger.warning("Skipped %s: %s", paths[i], bad[i])
    if bad:
        logger.warning("Skipped %d of %d image files that could not be decoded.", len(bad), len(needed))
    if names is not None and labels == "inferred":
        _check_classes_not_emptied(directory, names, needed, bad, all_labels)

    augment_list = [] if augment is None else list(augment) if isinstance(augment, (list, tuple)) else [augment]
    datasets = []
    for s, pick in picks.items():
        keep = np.asarray([i for i in pick if int(i) not in bad], dtype=np.int64)
        datasets.append(
            ImageDataset(
                store,
                slot_of[keep],
                None if all_labels is None else all_labels[keep],
                label_mode,
                names,
                [paths[i] for i in keep],
                batch_size,
                shuffle if s != "validation" or subset != "both" else False,
                seed,
                augment=augment_list if s != "validation" else [],
                skipped=[(paths[i], bad[i]) for i in sorted(int(j) for j in pick) if i in bad],
                num_classes=len(names) if names else 0,
            )
        )
    return datasets if subset == "both" else datasets[0]


def _warn_if_too_big(nbytes: int) -> None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return
    if nbytes > total // 2:
        logger.warning(
            "The decoded images need %.1f GB, more than half of this machine's %.1f GB of memory. Pass "
            "cache='<a directory>' to keep them in a memory-mapped file instead, or a smaller image_size.",
            nbytes / 1e9,
            total / 1e9,
        )


def _check_classes_not_emptied(directory: str, names: list[str], needed: np.ndarray, bad: dict, labels: Any) -> None:
    for c, name in enumerate(names):
        files = [int(i) for i in needed if labels[i] == c]
        if files and all(i in bad for i in files):
            raise ValueError(
                f"Class folder {os.path.join(directory, name)!r} has no readable image: all {len(files)} of its "
                f"files were skipped (first: {bad[files[0]]}). Expected at least one valid image per class. "
                f"Received: directory={directory!r}. Replace the broken files or remove the class folder."
            )
