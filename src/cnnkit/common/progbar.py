"""A Keras-style progress bar.

``verbose=1``: ``12/128 ━━━━━━━━━━━━━━━━━━━━ 3s 30ms/step - accuracy: 0.9123 - loss: 0.2345`` redrawn at most every
``interval`` seconds (so the training loop syncs with the device only then); ``verbose=2``: one line when the
target is reached. ``'auto'`` means 1 on a terminal and 2 otherwise, so a bar written into a pipe or a log file
never holds a ``\r`` (logs and CI stay readable). Training, decoding, dataset writing and downloads all draw this one
bar.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from typing import TextIO


def resolve_verbose(verbose: int | str, stream: TextIO | None = None) -> int:
    """``'auto'`` -> 1 on a terminal, 2 otherwise; ints pass through."""
    if verbose == "auto":
        stream = stream or sys.stdout
        return 1 if getattr(stream, "isatty", lambda: False)() else 2
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"Invalid verbose. Expected 0, 1, 2 or 'auto'. Received: verbose={verbose!r}. Pass verbose='auto'."
        )
    return int(verbose)


def format_value(value: float) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def _format_per_step(seconds: float, unit: str) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class Progbar:
    """Progress bar over ``target`` steps (``None`` when unknown).

    Args:
        target: Total number of steps, or None when unknown (then pass ``finalize=True`` to the last update).
        width: Width of the bar in characters.
        verbose: 0 (silent), 1 (a bar redrawn in place with ``\r``), 2 (one line at the end) or ``'auto'`` (1 when
            ``stream`` is a terminal, else 2).
        interval: Least seconds between two redraws at ``verbose=1``.
        unit_name: What a step is, for the per-step time (``ms/step``, ``us/image``).
        stream: Where to write (default ``sys.stdout``).
        title: A line written once before the bar (``Decoding images``), unless silent.

    Example:
        >>> bar = Progbar(10, verbose=2)
        >>> for i in range(1, 11):
        ...     bar.update(i, {"loss": 0.5})  # doctest: +ELLIPSIS
        10/10 - ...
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int | str = 1,
        interval: float = 0.1,
        unit_name: str = "step",
        stream: TextIO | None = None,
        title: str | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        self.target, self.width, self.interval = target, width, interval
        self.verbose = resolve_verbose(verbose, self.stream)
        self.unit_name = unit_name
        self._title = title
        self._start = time.monotonic()
        self._last_draw = -math.inf  # the first step always draws
        self._last_len = 0
        self._seen = 0
        self._done = False

    def due(self, current: int) -> bool:
        """Whether ``update(current, ...)`` would draw now; lets callers skip computing values."""
        if self.verbose == 0 or self._done:
            return False
        finished = self.target is not None and current >= self.target
        if self.verbose == 2:
            return finished
        return finished or time.monotonic() - self._last_draw >= self.interval

    def add(self, n: int, values: Mapping[str, float] | None = None) -> None:
        """Advances by ``n`` steps (for counts that arrive in chunks: bytes, files)."""
        self.update(self._seen + n, values)

    def update(self, current: int, values: Mapping[str, float] | None = None, finalize: bool | None = None) -> None:
        """Draws step ``current`` with ``values`` (already averaged, as Keras' logs are)."""
        self._seen = current
        finalize = finalize if finalize is not None else (self.target is not None and current >= self.target)
        if self.verbose == 0 or self._done or not (finalize or self.due(current)):
            return
        if self._title is not None:
            self.stream.write(self._title + "\n")
            self._title = None
        now = time.monotonic()
        self._last_draw = now
        elapsed = now - self._start
        per_step = elapsed / current if current else 0.0
        metrics = "".join(f" - {k}: {format_value(float(v))}" for k, v in (values or {}).items())
        if self.verbose == 1:
            line = self._bar(current)
            if finalize:
                line += f" {_format_duration(elapsed)} {_format_per_step(per_step, self.unit_name)}"
            else:
                eta = per_step * (self.target - current) if self.target else elapsed
                line += f" {_format_duration(eta)} {_format_per_step(per_step, self.unit_name)}"
            line += metrics
            pad = max(self._last_len - len(line), 0)
            self._last_len = len(line)
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
        elif finalize:
            total = f"{current}/{self.target}" if self.target else f"{current}"
            self.stream.write(
                f"{total} - {_format_duration(elapsed)} - {_format_per_step(per_step, self.unit_name)}{metrics}\n"
            )
        self.stream.flush()
        self._done = bool(finalize)

    def _bar(self, current: int) -> str:
        if self.target is None:
            return f"{current}/Unknown"
        digits = int(math.log10(self.target)) + 1 if self.target > 0 else 1
        done = int(self.width * current / self.target) if self.target else self.width
        bar = "━" * done + "─" * (self.width - done)
        return f"{current:>{digits}}/{self.target} {bar}"
