"""The dataset returned by ``image_dataset_from_directory``: batches assembled from a uint8 store."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from cnnkit.data.augment import run_augmentations
from cnnkit.data.seeding import epoch_permutation, mix, seed_scope


class ImageDataset:
    """Batches of ``(images, labels)``: images float32 (batch, H, W, C) in 0..255, channels-last, like Keras.

    Iteration order is a pure function of (seed, epoch): ``iterate(epoch, start_batch)`` gives exactly the same
    batches (order and augmentation) every time, which is what exact resume needs; ``iter(ds)`` walks epochs
    0, 1, 2, ... in turn. Decoding happened once, up front; the pixels live in a uint8 store.

    Attributes:
        class_names: class names in label order (None when there are no labels).
        file_paths: the paths of the images in this dataset, in its base order (skipped files excluded).
        skipped: ``(path, reason)`` for every file that could not be decoded.
    """

    def __init__(
        self,
        store: np.ndarray,
        slots: np.ndarray,
        labels: np.ndarray | None,
        label_mode: str | None,
        class_names: list[str] | None,
        file_paths: list[str],
        batch_size: int | None,
        shuffle: bool,
        seed: int,
        augment: Sequence[Any] = (),
        maps: Sequence[Callable] = (),
        skipped: Sequence[tuple[str, str]] = (),
        num_classes: int | None = None,
    ) -> None:
        self._store = store
        self._slots = np.asarray(slots, dtype=np.int64)
        self._labels = labels
        self.label_mode = label_mode
        self.class_names = class_names
        self.file_paths = list(file_paths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(seed)
        self.augment = list(augment)
        self._maps = list(maps)
        self.skipped = list(skipped)
        self.num_classes = num_classes if num_classes is not None else len(class_names or [])
        self._epoch = 0
        # Batches are built in the consuming thread unless .prefetch() asks for threads. A background thread's torch
        # ops start an OpenMP team of their own, and with more OpenMP threads than cores libgomp stops spin-waiting
        # between parallel regions, the training step's too: fit() of ResNetS on Fashion-MNIST (2 cores) measured
        # 62 ms a batch with one prefetch thread and 50 ms without (its augmentation costs 0.7 ms of that).
        self._prefetch = 0

    # -- sizes ---------------------------------------------------------------------------------------------------
    @property
    def num_samples(self) -> int:
        return len(self._slots)

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.num_samples
        return math.ceil(self.num_samples / self.batch_size)

    def cardinality(self) -> int:
        return len(self)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self._store.shape[1:])

    # -- tf.data-like helpers ------------------------------------------------------------------------------------
    def _replace(self, **changes: Any) -> ImageDataset:
        new = object.__new__(ImageDataset)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        new._epoch = 0
        return new

    def map(self, fn: Callable) -> ImageDataset:
        """A new dataset whose batches are ``fn(images, labels)`` (``fn(images)`` without labels), as tf.data.

        Random preprocessing layers called inside ``fn`` draw from the batch's seed scope, so the result is still a
        pure function of (seed, epoch, batch). Example: ``ds.map(lambda x, y: (augment(x, training=True), y))``.
        """
        return self._replace(_maps=[*self._maps, fn])

    def shuffle(self, buffer_size: int | None = None, seed: int | None = None) -> ImageDataset:
        """A shuffled copy (a full shuffle every epoch; ``buffer_size`` is accepted for tf.data compatibility)."""
        return self._replace(shuffle=True, seed=self.seed if seed is None else int(seed))

    def cache(self, filename: str = "") -> ImageDataset:
        """Returns self: the pixels are already decoded once and cached (tf.data compatibility)."""
        return self

    def prefetch(self, buffer_size: int | None = None) -> ImageDataset:
        """A copy that prepares ``buffer_size`` batches ahead in background threads (tf.data's AUTOTUNE, -1 or
        None: 2). Torch ops release the GIL, so heavy per-batch work (a Python ``.map``, large images) overlaps the
        training step; the batches and their order are unchanged. Without it, batches are built when asked for,
        which measured faster for light augmentation: each thread's torch ops bring OpenMP threads of their own,
        which slow the training step's when there are more of them than cores."""
        n = 2 if buffer_size is None or buffer_size < 0 else int(buffer_size)
        new = self._replace()
        new._prefetch = n
        return new

    def take(self, count: int) -> list:
        """The first ``count`` batches of the next epoch, as a list (``for x, y in ds.take(1)`` as in tf.data)."""
        it = iter(self)
        return [b for _, b in zip(range(max(0, int(count))), it, strict=False)]

    # -- iteration -----------------------------------------------------------------------------------------------
    def order(self, epoch: int) -> np.ndarray:
        """Sample indices (into ``file_paths``) in the order epoch ``epoch`` visits them."""
        if not self.shuffle:
            return np.arange(self.num_samples)
        return epoch_permutation(self.num_samples, self.seed, epoch).numpy()

    def _gather(self, idx: np.ndarray) -> torch.Tensor:
        slots = self._slots[idx]
        if not isinstance(self._store, np.ndarray) or isinstance(self._store, np.memmap):
            # Memory-mapped: read in file order (sequential I/O), then put back in batch order.
            sort = np.argsort(slots, kind="stable")
            data = np.empty((len(slots), *self._store.shape[1:]), dtype=np.uint8)
            data[sort] = self._store[slots[sort]]
        else:
            data = self._store[slots]
        return torch.from_numpy(data).float()

    def _labels_for(self, idx: np.ndarray) -> torch.Tensor:
        y = torch.from_numpy(self._labels[idx])
        if self.label_mode == "categorical":
            return torch.nn.functional.one_hot(y, self.num_classes).float()
        if self.label_mode == "binary":
            return y.float().unsqueeze(-1)
        return y.long()

    def _batch(self, idx: np.ndarray, scope_seed: int) -> Any:
        images = self._gather(idx)
        labels = self._labels_for(idx) if self.label_mode is not None else None
        if self.augment or self._maps:
            with seed_scope(scope_seed):
                # flips fold into the rotation/zoom/translation resample next to them (see augment.run_geometry)
                images = run_augmentations(self.augment, images)
                for fn in self._maps:
                    if labels is None:
                        images = fn(images)
                    else:
                        images, labels = fn(images, labels)
        return images if labels is None else (images, labels)

    def iterate(self, epoch: int, start_batch: int = 0) -> Iterator[Any]:
        """The batches of epoch ``epoch`` from ``start_batch`` on; a pure function of (seed, epoch, batch)."""
        order = self.order(epoch)
        if self.batch_size is None:
            for b in range(start_batch, self.num_samples):
                item = self._batch(order[b : b + 1], mix(self.seed, epoch, b))
                yield tuple(t[0] for t in item) if isinstance(item, tuple) else item[0]
            return
        size = self.batch_size

        def make(b: int) -> Any:
            return self._batch(order[b * size : (b + 1) * size], mix(self.seed, epoch, b))

        todo = range(start_batch, len(self))
        if self._prefetch <= 0 or len(todo) < 2:
            for b in todo:
                yield make(b)
            return
        # Background threads build the next batches (each a pure function of its index, so order and content
        # are the same as without them); at most `_prefetch` batches wait at any time.
        with ThreadPoolExecutor(self._prefetch, thread_name_prefix="cnnkit-batches") as pool:
            pending: deque = deque()
            upcoming = iter(todo)
            for b in upcoming:
                pending.append(pool.submit(make, b))
                if len(pending) >= self._prefetch:
                    break
            while pending:
                batch = pending.popleft().result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    pending.append(pool.submit(make, nxt))
                yield batch

    def __iter__(self) -> Iterator[Any]:
        epoch = self._epoch
        self._epoch += 1
        return self.iterate(epoch)

    def as_numpy(self) -> tuple[np.ndarray, np.ndarray | None]:
        """All images (uint8, base order) and integer labels, without augmentation: handy for small sets."""
        images = np.asarray(self._store[self._slots])
        return images, None if self._labels is None else self._labels.copy()

    def __repr__(self) -> str:
        return (
            f"ImageDataset(samples={self.num_samples}, batch_size={self.batch_size}, image_shape={self.image_shape}, "
            f"classes={self.class_names}, skipped={len(self.skipped)})"
        )
