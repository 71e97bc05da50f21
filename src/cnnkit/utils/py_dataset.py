"""``PyDataset`` (and its old name ``Sequence``): a dataset of batches by index, as Keras 3 defines it.

A subclass implements ``__getitem__(index)`` returning one batch (``x``, ``(x, y)`` or ``(x, y, sample_weight)``)
and ``__len__`` (or the ``num_batches`` property); ``fit``/``evaluate``/``predict`` take it as ``x``. The loading
options go to the constructor, as in Keras 3 (``fit`` has no ``workers`` argument): ``workers > 1`` loads batches in
a pool of threads, in order, at most ``max_queue_size`` ahead of the step that uses them.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """Base class for a dataset of batches addressed by index.

    Args:
        workers: How many threads load batches in parallel (1: load in the training loop's thread).
        use_multiprocessing: Accepted for Keras compatibility. cnnkit's workers are always threads: torch and
            NumPy release the GIL while decoding and copying, and a thread needs no pickling of the dataset.
        max_queue_size: How many batches the workers may load ahead.

    Example:
        >>> import numpy as np
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, i):
        ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return self.x[s], self.y[s]
        >>> ds = Batches(np.zeros((10, 2)), np.ones(10), batch_size=4)
        >>> ds.num_batches, ds[2][0].shape
        (3, (2, 2))
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = [a for a in ("_workers", "_use_multiprocessing", "_max_queue_size") if not hasattr(self, a)]
        if missing:
            self._workers, self._use_multiprocessing, self._max_queue_size = (
                getattr(self, "_workers", 1),
                getattr(self, "_use_multiprocessing", False),
                getattr(self, "_max_queue_size", 10),
            )
            # Keras' wording: users searching for it find the Keras answer, which applies here too.
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. `**kwargs` can "
                "include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass these arguments to `fit()`, "
                "as they will be ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), returning one batch.")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            "You need to implement the `num_batches` property:\n\n@property\ndef num_batches(self):\n  return ..."
        )

    def __iter__(self) -> Iterator[Any]:
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        for index in range(count) if count is not None else itertools.count():
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch (shuffle the sample order here)."""


# Keras 3 keeps `Sequence` as the old name of `PyDataset`.
Sequence = PyDataset


def iterate_batches(dataset: PyDataset, indices: list[int]) -> Iterator[Any]:
    """``dataset[i]`` for each index, in order, loaded by ``dataset.workers`` threads up to ``max_queue_size`` ahead."""
    workers = max(int(dataset.workers or 1), 1)
    if workers == 1:
        for i in indices:
            yield dataset[i]
        return
    ahead = max(int(dataset.max_queue_size or 1), 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnkit-pydataset") as pool:
        pending = [pool.submit(dataset.__getitem__, i) for i in indices[:ahead]]
        for k in range(len(indices)):
            batch = pending[k].result()
            pending[k] = None  # drop the reference: the batch belongs to the training loop now
            if k + ahead < len(indices):
                pending.append(pool.submit(dataset.__getitem__, indices[k + ahead]))
            yield batch
