"""Dynamic micro-batching: requests that arrive within a few milliseconds share one forward pass.

Every model call (batched forwards and Grad-CAM alike) runs on one worker thread, off the event loop: the model is
shared, and Grad-CAM's hooks must not see another request's forward.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

__all__ = ["MicroBatcher"]

T = TypeVar("T")


class MicroBatcher:
    """Merges concurrent single-image predictions into batches of at most ``max_batch_size``.

    The first waiting image opens a batch; the batch runs when it is full or ``max_wait_ms`` after it opened.
    While a batch runs, new images queue up and form the next one, so under load batches grow by themselves.

    Args:
        predict_batch: ``(n, h, w, c) float32 -> (n, classes)`` probabilities, called on the worker thread.
        max_batch_size: the most images in one forward pass.
        max_wait_ms: how long an open batch waits for company.
        on_batch: called with each batch's size (for the metrics).

    Example:
        >>> import numpy as np
        >>> batcher = MicroBatcher(lambda x: x.sum(axis=(1, 2)), max_batch_size=8)
        >>> async def three():
        ...     return await asyncio.gather(*(batcher.predict(np.full((2, 2, 1), i, np.float32)) for i in range(3)))
        >>> [float(r[0]) for r in asyncio.run(three())], batcher.batch_sizes
        ([0.0, 4.0, 8.0], [3])
        >>> batcher.close()
    """

    def __init__(
        self,
        predict_batch: Callable[[np.ndarray], np.ndarray],
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if int(max_batch_size) < 1 or float(max_wait_ms) < 0:
            raise ValueError(
                "Invalid micro-batching bounds. Expected max_batch_size >= 1 and max_wait_ms >= 0. "
                f"Received: max_batch_size={max_batch_size}, max_wait_ms={max_wait_ms}. Pass positive bounds."
            )
        self._predict_batch = predict_batch
        self.max_batch_size = int(max_batch_size)
        self.max_wait = float(max_wait_ms) / 1000.0
        self._on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnkit-model")
        self._queues: dict[int, asyncio.Queue] = {}  # one per event loop: the app may be served from several
        self._tasks: dict[int, asyncio.Task] = {}
        self._lock = threading.Lock()
        self.batch_sizes: list[int] = []  # the last 1,000 batch sizes, for tests and the bench
        self.pending = 0

    def _queue(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        key = id(loop)
        with self._lock:
            task = self._tasks.get(key)
            if task is None or task.done():
                # Started lazily on first use: a mounted sub-app gets no lifespan events from its parent.
                self._queues[key] = asyncio.Queue()
                self._tasks[key] = loop.create_task(self._worker(self._queues[key]))
            return self._queues[key]

    async def predict(self, image: np.ndarray) -> np.ndarray:
        """The model's output for one image, computed in a batch with whatever else is waiting."""
        fut = asyncio.get_running_loop().create_future()
        self.pending += 1
        try:
            await self._queue().put((image, fut))
            return await fut
        finally:
            self.pending -= 1

    async def run_exclusive(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs ``fn(*args)`` on the model thread, between batches (Grad-CAM, anything that hooks the model)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _worker(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(items) < self.max_batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    while len(items) < self.max_batch_size and not queue.empty():
                        items.append(queue.get_nowait())
                    break
                try:
                    items.append(await asyncio.wait_for(queue.get(), left))
                except asyncio.TimeoutError:
                    break
            items = [(x, f) for x, f in items if not f.cancelled()]  # a client that went away costs nothing
            if not items:
                continue
            # Images of one model share a shape (decode resizes), so stacking never fails.
            batch = np.stack([x for x, _ in items])
            try:
                out = await loop.run_in_executor(self._executor, self._predict_batch, batch)
            except Exception as e:  # the model failed: every waiting request gets the error, the worker lives on
                for _, f in items:
                    if not f.done():
                        f.set_exception(e)
                continue
            self.batch_sizes = [*self.batch_sizes[-999:], len(items)]
            if self._on_batch is not None:
                self._on_batch(len(items))
            for (_, f), row in zip(items, out):
                if not f.done():
                    f.set_result(row)

    async def aclose(self) -> None:
        """Stops this loop's worker (lifespan shutdown); requests still waiting get cancelled."""
        task = self._tasks.pop(id(asyncio.get_running_loop()), None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def close(self) -> None:
        """Releases the model thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
