"""glibc's malloc thresholds raised once per process for fast CPU training.

Why: PyTorch on CPU allocates and frees large activation buffers every step. glibc serves
blocks above ``M_MMAP_THRESHOLD`` with mmap and returns them to the kernel on free (and trims the heap top above
``M_TRIM_THRESHOLD``), so every step page-faults all its activations back in. Measured here, that is about half the
wall time of a small CNN's training step. Raising both thresholds keeps freed memory in the process for reuse,
which is what tcmalloc/jemalloc do, without asking users to preload anything. Opt out with
``CNNKIT_MALLOC_TUNING=0``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1


M_MMAP_THRESHOLD = -3


# glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit); a larger trim threshold is fine.
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


_TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


_malloc_tuned: bool | None = None


def tune_malloc() -> bool:
    """Raises glibc's mmap and trim thresholds once per process; returns whether they are raised."""
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    _malloc_tuned = False
    if os.environ.get("CNNKIT_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1 and ok
    except (OSError, AttributeError):
        return False
    _malloc_tuned = ok
    return ok
