"""Listing an image folder exactly as Keras 3 does: class order, file order, labels, seeded shuffle, splits."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from cnnkit.data.decode import IMAGE_EXTENSIONS


def _unreadable(directory: str, err: OSError) -> ValueError:
    return ValueError(
        f"Cannot read directory {err.filename or directory!r}: {err.strerror or err}. Expected a readable folder of "
        f"images. Received: directory={directory!r}. Check that it exists and that you have permission to list it."
    )


def _walk_files(directory: str, follow_links: bool, formats: Sequence[str], top: str) -> list[tuple[str, str]]:
    def fail(err: OSError) -> None:
        raise _unreadable(top, err)

    # Keras sorts the walk by root path string, then file names, and matches extensions case-insensitively.
    walk = list(os.walk(directory, followlinks=follow_links, onerror=fail))
    found = []
    for root, _, files in sorted(walk, key=lambda x: x[0]):
        for fname in sorted(files):
            if fname.lower().endswith(tuple(formats)):
                found.append((root, fname))
    return found


def list_class_dirs(directory: str) -> list[str]:
    """Sorted names of the visible sub-folders of ``directory`` (Keras' inferred class names)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        raise ValueError(
            f"Directory not found. Expected an existing folder of images. Received: directory={directory!r}. "
            "Check the path."
        ) from None
    except NotADirectoryError:
        raise ValueError(
            f"Not a directory. Expected a folder of images (one sub-folder per class). "
            f"Received: directory={directory!r}. Pass the folder that holds the class sub-folders."
        ) from None
    except OSError as e:
        raise _unreadable(directory, e) from None
    return [n.rstrip("/") for n in names if os.path.isdir(os.path.join(directory, n)) and not n.startswith(".")]


def index_directory(
    directory: str,
    labels: str | Sequence[int] | None,
    class_names: Sequence[str] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    follow_links: bool = False,
    formats: Sequence[str] = IMAGE_EXTENSIONS,
) -> tuple[list[str], np.ndarray | None, list[str] | None, int]:
    """List image files with their labels, in Keras' order.

    Returns ``(file_paths, labels, class_names, seed)``: paths are ``os.path.join(directory, class, relative)``
    strings; ``labels`` is int64 or None; when ``shuffle`` the lists are permuted with
    ``np.random.RandomState(seed)`` exactly as Keras does, so splits contain the same files as Keras'.
    """
    directory = os.fspath(directory)
    if labels == "inferred":
        subdirs = list_class_dirs(directory)
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    "The class_names passed do not match the sub-folders of the directory. Expected names from "
                    f"{subdirs} (or a subset of them). Received: class_names={list(class_names)}. "
                    "Fix the names or leave class_names=None to use every sub-folder in alphabetical order."
                )
            subdirs = list(class_names)
    else:
        list_class_dirs(directory)  # same not-found / unreadable errors
        subdirs = [""]
    paths: list[str] = []
    label_list: list[int] = []
    for index, subdir in enumerate(subdirs):
        class_dir = os.path.join(directory, subdir)
        dirname = os.path.basename(class_dir)
        for root, fname in _walk_files(class_dir, follow_links, formats, directory):
            relative = os.path.join(dirname, os.path.relpath(os.path.join(root, fname), class_dir))
            paths.append(os.path.join(directory, relative))
            label_list.append(index)
    if labels == "inferred":
        out_labels: np.ndarray | None = np.asarray(label_list, dtype=np.int64)
        names: list[str] | None = list(subdirs)
    elif labels is None:
        out_labels, names = None, None
    else:
        if len(labels) != len(paths):
            raise ValueError(
                "The number of labels does not match the number of image files. Expected one label per file, "
                f"in the sorted order of the file paths ({len(paths)} files in {directory!r}). "
                f"Received: len(labels)={len(labels)}. Pass one integer label per image file."
            )
        out_labels = np.asarray(labels, dtype=np.int64)
        names = [str(v) for v in sorted(set(out_labels.tolist()))]
    if seed is None:
        seed = int(np.random.randint(1e6))
    if shuffle:
        # Two RandomStates with the same seed give the same permutation to paths and labels (Keras' recipe).
        np.random.RandomState(seed).shuffle(paths)
        if out_labels is not None:
            np.random.RandomState(seed).shuffle(out_labels)
    return paths, out_labels, names, seed


def split(n: int, validation_split: float | None, subset: str | None) -> slice:
    """The slice of the shuffled file list a Keras subset takes: validation is the last ``int(split * n)``."""
    if not validation_split:
        return slice(0, n)
    num_val = int(validation_split * n)
    if subset == "training":
        return slice(0, n - num_val)
    if subset == "validation":
        return slice(n - num_val, n)
    raise ValueError(
        f"Unknown subset. Expected 'training', 'validation' or 'both'. Received: subset={subset!r}. "
        "Pass one of those names."
    )


def check_split_args(validation_split: float | None, subset: str | None, shuffle: bool, seed: int | None) -> None:
    """Keras' rules for validation_split/subset/seed, with cnnkit's error style."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            "validation_split is out of range. Expected a float strictly between 0 and 1. "
            f"Received: validation_split={validation_split}. Pass e.g. 0.2."
        )
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(
            "subset and validation_split go together. Expected both set or both None. "
            f"Received: validation_split={validation_split}, subset={subset!r}. "
            "Set validation_split=0.2 and subset='training', 'validation' or 'both', or neither."
        )
    if subset not in ("training", "validation", "both", None):
        raise ValueError(
            f"Unknown subset. Expected 'training', 'validation' or 'both'. Received: subset={subset!r}. "
            "Pass one of those names."
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "A seed is needed to split a shuffled folder. Expected seed to be an int so the training and "
            "validation subsets do not overlap. Received: seed=None. Pass the same seed=... to both calls."
        )
