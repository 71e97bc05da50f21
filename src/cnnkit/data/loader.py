"""Decode and resize many files once, in parallel worker processes, into a uint8 (N, H, W, C) store."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass

import numpy as np

from cnnkit.common.progbar import Progbar
from cnnkit.data.decode import DEFAULT_MAX_PIXELS, check_color_mode, try_load_array

CHUNK = 64  # files per task: big enough to amortize inter-process overhead, small enough to balance the load
PROGRESS_MIN_FILES = 1000


@dataclass(frozen=True)
class DecodeSettings:
    """Everything that changes the decoded pixels (and so the cache key)."""

    image_size: tuple[int, int]
    color_mode: str = "rgb"
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    jpeg_draft: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return (int(self.image_size[0]), int(self.image_size[1]), check_color_mode(self.color_mode))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["image_size"] = list(self.shape[:2])
        return d

    def load(self, path: str) -> tuple[np.ndarray | None, str | None]:
        return try_load_array(
            path,
            color_mode=self.color_mode,
            image_size=self.shape[:2],
            interpolation=self.interpolation,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            max_pixels=self.max_pixels,
            jpeg_draft=self.jpeg_draft,
        )


def _worker_init() -> None:
    import torch

    # Each worker is one core's worth of work; torch's own thread pool would only oversubscribe the machine.
    torch.set_num_threads(1)


def _decode_chunk(start: int, paths: list[str], settings: DecodeSettings) -> tuple[int, np.ndarray, list]:
    out = np.zeros((len(paths), *settings.shape), dtype=np.uint8)
    reasons: list[str | None] = []
    for i, path in enumerate(paths):
        arr, reason = settings.load(path)
        if arr is not None:
            out[i] = arr
        reasons.append(reason)
    return start, out, reasons


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def decode_into(
    paths: list[str],
    settings: DecodeSettings,
    out: np.ndarray,
    workers: int | None = None,
    progress: bool = True,
) -> list[str | None]:
    """Decode ``paths`` into ``out[i]`` (uint8, shape (len(paths), H, W, C)); return each file's failure reason.

    Work is split in chunks over ``workers`` processes (default: the usable cores); small jobs stay in-process.
    """
    n = len(paths)
    reasons: list[str | None] = [None] * n
    workers = default_workers() if workers is None else max(1, int(workers))
    chunks = [(s, paths[s : s + CHUNK]) for s in range(0, n, CHUNK)]
    show = progress and n >= PROGRESS_MIN_FILES
    bar = Progbar(n, verbose="auto" if show else 0, unit_name="image", stream=sys.stderr, title="Decoding images")
    if workers == 1 or len(chunks) < 2:
        for start, chunk in chunks:
            _, arr, rs = _decode_chunk(start, chunk, settings)
            out[start : start + len(chunk)] = arr
            reasons[start : start + len(chunk)] = rs
            bar.add(len(chunk))
        return reasons
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(_decode_chunk, start, chunk, settings) for start, chunk in chunks]
        for fut in as_completed(futures):
            start, arr, rs = fut.result()
            out[start : start + len(rs)] = arr
            reasons[start : start + len(rs)] = rs
            bar.add(len(rs))
    return reasons
