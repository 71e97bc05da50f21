"""``cache=False``: a store that decodes its images again for every batch (Keras' behaviour, least memory)."""

from __future__ import annotations

import numpy as np

from cnnkit.data.loader import DecodeSettings, decode_into


class _Sink:
    """Accepts writes and keeps nothing: the up-front validation pass only needs the failure reasons."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


class LazyStore:
    """Looks like a uint8 (N, H, W, C) array; ``store[slots]`` decodes those files on the spot."""

    def __init__(self, paths: list[str], settings: DecodeSettings) -> None:
        self.paths = list(paths)
        self.settings = settings
        self.shape = (len(self.paths), *settings.shape)
        self.dtype = np.dtype(np.uint8)

    @classmethod
    def validated(
        cls, paths: list[str], settings: DecodeSettings, workers: int | None = None, progress: bool = True
    ) -> tuple[LazyStore, list[str | None]]:
        """Decode every file once (in parallel) to find the broken ones, keep no pixels."""
        reasons = decode_into(paths, settings, _Sink(), workers, progress)  # type: ignore[arg-type]
        return cls(paths, settings), reasons

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, slots: np.ndarray) -> np.ndarray:
        slots = np.atleast_1d(np.asarray(slots))
        out = np.zeros((len(slots), *self.shape[1:]), dtype=np.uint8)
        for k, s in enumerate(slots):
            arr, _ = self.settings.load(self.paths[int(s)])
            if arr is not None:  # a file broken since validation reads as black rather than stopping the run
                out[k] = arr
        return out
