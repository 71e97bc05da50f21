"""``split_dataset``: Keras' train/test split of arrays or a torch ``Dataset`` (torch backend semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

__all__ = ["pack_x_y_sample_weight", "split_dataset", "unpack_x_y_sample_weight"]


def split_dataset(
    dataset: Any,
    left_size: int | float | None = None,
    right_size: int | float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    preferred_backend: str | None = None,
) -> tuple[Subset, Subset]:
    """Splits a dataset into a left and a right part (e.g. train / test), as Keras 3's torch backend does.

    Args:
        dataset: A NumPy array, a list/tuple of arrays with the same length, or a ``torch.utils.data.Dataset``.
        left_size: A fraction in (0, 1) or a number of samples for the left part; the complement of
            ``right_size`` when None.
        right_size: The same for the right part.
        shuffle: Shuffle the samples before splitting (with ``seed``: the same split as Keras' torch backend).
        seed: The seed of the shuffle.
        preferred_backend: Accepted for Keras compatibility: only ``None`` or ``"torch"``.

    Returns:
        Two ``torch.utils.data.Subset`` objects; ``len()`` gives their sizes and each item is a tuple of tensors.

    Example:
        >>> left, right = split_dataset(np.arange(10.0).reshape(5, 2), left_size=0.6)
        >>> len(left), len(right), right[0][0].tolist()
        (3, 2, [6.0, 7.0])
    """
    if preferred_backend not in (None, "torch"):
        raise ValueError(
            "cnnkit splits datasets with torch. Expected preferred_backend=None or 'torch'. Received: "
            f"preferred_backend={preferred_backend!r}. Leave preferred_backend unset."
        )
    dataset = _as_torch_dataset(dataset)
    if left_size is None and right_size is None:
        raise ValueError(
            "At least one of the `left_size` or `right_size` must be specified. Received: left_size=None and "
            "right_size=None"
        )
    total = len(dataset)
    left, right = _split_sizes(left_size, right_size, total)
    if shuffle:
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
        order = torch.randperm(total, generator=generator).tolist()  # what torch's random_split draws, so Keras' split
    else:
        order = list(range(total))
    return Subset(dataset, order[:left]), Subset(dataset, order[total - right :] if right else [])


def _as_torch_dataset(dataset: Any) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, np.ndarray):
        return TensorDataset(torch.from_numpy(dataset))
    if isinstance(dataset, (list, tuple)) and dataset:
        arrays = []
        for i, element in enumerate(dataset):
            if not isinstance(element, (np.ndarray, torch.Tensor)):
                raise ValueError(
                    f"Expected a {type(dataset).__name__} of `numpy.ndarray` objects. Received: "
                    f"{type(element).__name__} at index {i}. Convert it with np.asarray()."
                )
            arrays.append(element if isinstance(element, torch.Tensor) else torch.from_numpy(element))
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(
                "Received arrays with different lengths. Expected one length for every array. "
                f"Received: lengths {[len(a) for a in arrays]}. Please provide arrays of the same length."
            )
        return TensorDataset(*arrays)
    raise TypeError(
        "The `dataset` argument must be a `torch.utils.data.Dataset` object, or a list/tuple of arrays. "
        f"Received: dataset of type {type(dataset).__name__}. Pass (x, y) arrays or a torch Dataset."
    )


def _split_sizes(left: Any, right: Any, total: int) -> tuple[int, int]:
    """Keras' size rules (``_rescale_dataset_split_sizes``), with its error types."""
    for name, size in (("left_size", left), ("right_size", right)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(
                f"Invalid `{name}` Type. Expected: int or float or None, Received: type({name})={type(size)}."
            )
    if left == 0 and right == 0:
        raise ValueError(
            "Both `left_size` and `right_size` are zero. At least one of the split sizes must be non-zero."
        )
    for name, size in (("left_size", left), ("right_size", right)):
        if (type(size) is int and (size <= 0 or size >= total)) or (type(size) is float and not 0 < size < 1):
            raise ValueError(
                f"`{name}` should be either a positive integer smaller than {total}, or a float within the range "
                f"`[0, 1]`. Received: {name}={size}"
            )
    if type(left) is float and type(right) is float and left + right > 1:
        raise ValueError(
            "The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal to 1."
        )
    left = round(left * total) if type(left) is float else left
    right = round(right * total) if type(right) is float else right
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(
            f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: left_size + "
            f"right_size = {left + right}and total_length = {total}"
        )
    for size, side in ((left, "left"), (right, "right")):
        if size == 0:
            raise ValueError(
                f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}.Resulting {side} side "
                "dataset split will be empty. Adjust any of the aforementioned parameters"
            )
    return int(left), int(right)


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> tuple:
    """Packs user data into the tuple ``fit`` expects, as Keras: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    A lone ``x`` that is itself a tuple or list (several inputs) is wrapped once more, so it is not read as ``(x, y)``.

    Example:
        >>> pack_x_y_sample_weight(1, 2)
        (1, 2)
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data: Any) -> tuple:
    """Unpacks a batch into ``(x, y, sample_weight)``, with None for the missing parts, as Keras.

    Example:
        >>> unpack_x_y_sample_weight((1, 2))
        (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found: " + str(data)
    )
