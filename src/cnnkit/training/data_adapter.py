"""Turns what users pass to fit/evaluate/predict into batches of torch tensors.

Accepted: NumPy arrays, torch tensors, lists/tuples/dicts of them (multi-input models), and dataset objects
(anything iterable yielding ``x``, ``(x, y)`` or ``(x, y, sample_weight)`` batches, e.g. the datasets from
``image_dataset_from_directory`` or a torch ``DataLoader``). Datasets with ``iterate(epoch, start_batch)`` give
exact resume; array data is shuffled with a permutation that is a pure function of (seed, epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

# map_structure and flatten live in common.nest; trainer.py & co. still reach them as data_adapter.map_structure.
from cnnkit.common.nest import flatten, map_structure
from cnnkit.utils.py_dataset import PyDataset, iterate_batches

Batch = tuple[Any, Any, Any]


def is_array_like(data: Any) -> bool:
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return True
    if isinstance(data, dict):
        return len(data) > 0 and all(is_array_like(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return len(data) > 0
    return False


def to_tensor(value: Any, is_input: bool = True) -> torch.Tensor:
    """One leaf to a torch tensor: float64 -> float32 (Keras' floatx), uint8/bool images -> float32."""
    if not isinstance(value, torch.Tensor):
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(
                "Unsupported data type. Expected numeric NumPy arrays or torch tensors. "
                f"Received: an array of dtype=object with shape {array.shape}. Convert the data with np.asarray(..., "
                "dtype='float32') first."
            )
        value = torch.from_numpy(np.ascontiguousarray(array))
    if value.is_floating_point() and value.dtype != torch.float32 and value.dtype != torch.bfloat16:
        value = value.float()
    elif value.dtype == torch.bool or (is_input and value.dtype == torch.uint8):
        value = value.float()
    return value


def leaves_to_tensors(data: Any, is_input: bool) -> Any:
    """Every array leaf of ``data`` (an array, or a list/tuple/dict of them) as a tensor; inputs as float32."""
    if (
        isinstance(data, (list, tuple))
        and data
        and not any(isinstance(leaf, (np.ndarray, torch.Tensor)) for leaf in flatten(data))
    ):
        return to_tensor(data, is_input)  # (nested) lists of numbers are one array, not several inputs
    return map_structure(lambda v: to_tensor(v, is_input), data)


def _check_finite(data: Any, name: str) -> None:
    for t in flatten(data):
        # One cheap reduction first: the sum of finite values is finite (barring overflow, re-checked exactly).
        if t.is_floating_point() and not bool(torch.isfinite(t.sum(dtype=torch.float64))):
            bad = ~torch.isfinite(t)
            if bool(bad.any()):
                first = int(bad.reshape(len(t), -1).any(dim=1).nonzero()[0, 0]) if t.dim() else 0
                raise ValueError(
                    f"Input {name} contains NaN or infinite values. Expected finite numbers. Received: {name} with "
                    f"{int(bad.sum())} non-finite values (first in sample {first}). Remove or impute those values "
                    "before calling fit()."
                )


def num_samples(data: Any, name: str) -> int:
    """The number of samples (first dimension) shared by every tensor of ``data``; ``name`` is for the error."""
    sizes = {int(t.shape[0]) if t.dim() else 1 for t in flatten(data)}
    if len(sizes) != 1:
        raise ValueError(
            f"All arrays in {name} must have the same number of samples. Expected one first dimension. Received: "
            f"{name} first dimensions {sorted(sizes)}. Pass arrays with one row per sample."
        )
    return sizes.pop()


def class_weight_to_sample_weight(y: torch.Tensor, class_weight: dict) -> torch.Tensor:
    """Per-sample weights from a {class index: weight} dict, classes read as Keras does (argmax or rounding)."""
    labels = y
    if labels.dim() > 1:
        labels = labels.argmax(dim=-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    labels = torch.round(labels.float()).long() if labels.is_floating_point() else labels.long()
    size = max(max(int(k) for k in class_weight) + 1, int(labels.max()) + 1 if labels.numel() else 1)
    table = torch.ones(size, dtype=torch.float32, device=labels.device)
    for k, w in class_weight.items():
        table[int(k)] = float(w)
    return table[labels]


class ArrayBatches:
    """Batches sliced from in-memory tensors; the shuffled order of an epoch depends only on (seed, epoch)."""

    def __init__(
        self, x: Any, y: Any, sample_weight: Any, batch_size: int, shuffle: bool | str = False, seed: int = 0
    ) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.num_samples = num_samples(x, "x")
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.steps = math.ceil(self.num_samples / batch_size)

    def _order(self, epoch: int) -> torch.Tensor | None:
        if not self.shuffle:
            return None
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
        if self.shuffle == "batch":
            batches = torch.randperm(self.steps, generator=g)
            return torch.cat(
                [
                    torch.arange(b * self.batch_size, min((b + 1) * self.batch_size, self.num_samples))
                    for b in batches.tolist()
                ]
            )
        return torch.randperm(self.num_samples, generator=g)

    def iterate(self, epoch: int = 0, start_batch: int = 0, steps: int | None = None) -> Iterator[Batch]:
        order = self._order(epoch)
        stop = self.steps if steps is None else min(steps, self.steps)
        for b in range(start_batch, stop):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, self.num_samples)
            if order is None:
                take = lambda t, lo=lo, hi=hi: t[lo:hi]  # noqa: E731 - a view, no copy
            else:
                idx = order[lo:hi]
                take = lambda t, idx=idx: t.index_select(0, idx)  # noqa: E731
            yield map_structure(take, self.x), map_structure(take, self.y), map_structure(take, self.sample_weight)

    def first_batch(self) -> Batch:
        return next(self.iterate(0, 0))


class DatasetBatches:
    """Batches from a dataset object; uses its ``iterate(epoch, start_batch)`` when it has one."""

    def __init__(self, dataset: Any, class_weight: dict | None = None) -> None:
        self.dataset, self.class_weight = dataset, class_weight
        self.steps = len(dataset) if hasattr(dataset, "__len__") else None
        self.num_samples = None
        self._iterator = None  # a one-shot iterator (generator) is kept across epochs, as Keras does

    def _raw(self, epoch: int, start_batch: int) -> Iterator:
        if hasattr(self.dataset, "iterate"):
            return self.dataset.iterate(epoch, start_batch)
        if iter(self.dataset) is self.dataset:
            return self.dataset
        it = iter(self.dataset)
        for _ in range(start_batch):
            next(it, None)
        return it

    def iterate(self, epoch: int = 0, start_batch: int = 0, steps: int | None = None) -> Iterator[Batch]:
        stop = steps if steps is not None else self.steps
        b = start_batch
        for item in self._raw(epoch, start_batch):
            if stop is not None and b >= stop:
                break
            yield self._unpack(item)
            b += 1

    def _unpack(self, item: Any) -> Batch:
        if not isinstance(item, (tuple, list)) or len(item) > 3:
            item = (item,)
        x, y, sw = (tuple(item) + (None, None))[:3]
        x, y = leaves_to_tensors(x, True), leaves_to_tensors(y, False)
        sw = leaves_to_tensors(sw, False)
        if self.class_weight is not None and y is not None and sw is None:
            sw = class_weight_to_sample_weight(y, self.class_weight)
        return x, y, sw

    def first_batch(self) -> Batch:
        if hasattr(self.dataset, "iterate") or iter(self.dataset) is not self.dataset:
            return next(self.iterate(0, 0))
        raise TypeError(
            "Cannot read a first batch from a one-shot iterator without consuming it. Expected a re-iterable dataset "
            "or a built model. Received: x of type generator. Build the model first (call it on a sample batch)."
        )


class PyDatasetBatches(DatasetBatches):
    """Batches of a ``PyDataset`` by index: the batch order of a shuffled epoch depends only on (seed, epoch), and
    the dataset's ``on_epoch_begin``/``on_epoch_end`` run around each full pass, as Keras calls them."""

    def __init__(self, dataset: PyDataset, class_weight: dict | None = None, shuffle: bool = False, seed: int = 0):
        super().__init__(dataset, class_weight)
        self.steps = dataset.num_batches
        self.shuffle, self.seed = bool(shuffle), seed

    def _order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.steps))
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
        return torch.randperm(self.steps, generator=g).tolist()

    def iterate(self, epoch: int = 0, start_batch: int = 0, steps: int | None = None) -> Iterator[Batch]:
        if self.steps is None:
            raise ValueError(
                f"{type(self.dataset).__name__} has no length. Expected a PyDataset with __len__ or num_batches. "
                "Received: num_batches=None. Implement __len__ (an endless PyDataset is not supported yet)."
            )
        stop = self.steps if steps is None else min(steps, self.steps)
        self.dataset.on_epoch_begin()
        for batch in iterate_batches(self.dataset, self._order(epoch)[start_batch:stop]):
            yield self._unpack(batch)
        self.dataset.on_epoch_end()

    def first_batch(self) -> Batch:
        return self._unpack(self.dataset[0])


def adapt(
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    batch_size: int | None = None,
    shuffle: bool | str = False,
    class_weight: dict | None = None,
    seed: int = 0,
    check_finite: bool = True,
):
    """Wraps user data into ArrayBatches or DatasetBatches, checking it the way Keras does (and for NaN)."""
    if x is None:
        raise ValueError("No input data. Expected x (arrays or a dataset). Received: x=None. Pass the training data.")
    if not is_array_like(x):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "y and sample_weight cannot be passed with a dataset. Expected the dataset to yield (x, y) or "
                f"(x, y, sample_weight). Received: x of type {type(x).__name__} and y={type(y).__name__}. "
                "Put the labels in the dataset and leave y=None."
            )
        if not hasattr(x, "__iter__"):
            raise TypeError(
                "Unsupported input data. Expected NumPy arrays, torch tensors, lists/dicts of them, or an iterable "
                f"dataset. Received: x of type {type(x).__name__}. Convert x with np.asarray()."
            )
        if isinstance(x, PyDataset):
            return PyDatasetBatches(x, class_weight, shuffle=shuffle, seed=seed)
        return DatasetBatches(x, class_weight)
    x, y, sample_weight = (leaves_to_tensors(d, i) for d, i in ((x, True), (y, False), (sample_weight, False)))
    n_x = num_samples(x, "x")
    for name, part in (("y", y), ("sample_weight", sample_weight)):
        if part is not None and num_samples(part, name) != n_x:
            raise ValueError(
                f"x and {name} have different numbers of samples. Expected the same first dimension. Received: "
                f"x.shape[0]={n_x}, {name}.shape[0]={num_samples(part, name)}. Pass one {name} entry per sample."
            )
    if check_finite:
        _check_finite(x, "x")
        _check_finite(y, "y")
    if class_weight is not None and sample_weight is None and y is not None:
        sample_weight = class_weight_to_sample_weight(flatten(y)[0], class_weight)
    return ArrayBatches(x, y, sample_weight, batch_size or 32, shuffle, seed)


def split_validation(x: Any, y: Any, sample_weight: Any, validation_split: float) -> tuple:
    """The last ``validation_split`` fraction, unshuffled, as Keras does: ((x, y, sw), (x_val, y_val, sw_val))."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(
            "validation_split must be in [0, 1). Expected a fraction such as 0.2. "
            f"Received: validation_split={validation_split}. Pass a number between 0 and 1."
        )
    if not is_array_like(x):
        raise ValueError(
            "validation_split is only supported for arrays and tensors. Expected NumPy arrays or torch tensors. "
            f"Received: x of type {type(x).__name__}. Pass validation_data=... for datasets instead."
        )
    x, y, sample_weight = (leaves_to_tensors(d, i) for d, i in ((x, True), (y, False), (sample_weight, False)))
    n = num_samples(x, "x")
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at in (0, n):
        raise ValueError(
            "validation_split leaves an empty training or validation set. Expected both to hold samples. "
            f"Received: validation_split={validation_split} with {n} samples. Use a different fraction or more data."
        )
    head = [map_structure(lambda t: t[:split_at], d) for d in (x, y, sample_weight)]
    tail = [map_structure(lambda t: t[split_at:], d) for d in (x, y, sample_weight)]
    return tuple(head), tuple(tail)


def unpack_validation_data(validation_data: Any) -> tuple:
    """``(x, y)``, ``(x, y, sw)`` or a dataset -> (x, y, sw)."""
    if isinstance(validation_data, (tuple, list)) and is_array_like(validation_data[0]):
        if len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be (x_val, y_val) or (x_val, y_val, val_sample_weight). Expected a tuple of 2 "
                f"or 3 items. Received: a tuple of {len(validation_data)} items. Pass validation_data=(x_val, y_val)."
            )
        return tuple(validation_data) + (None,) * (3 - len(validation_data))
    return validation_data, None, None
