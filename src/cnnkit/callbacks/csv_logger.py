"""CSVLogger: streams the epoch logs to a CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable

from cnnkit.callbacks.callback import Callback


class CSVLogger(Callback):
    """Writes one row per epoch: ``epoch`` then the log keys in sorted order (Keras' layout).

    Example:
        >>> logger = CSVLogger("training.csv", append=True)
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._file = self._writer = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                append_header = not bool(len(f.readline()))
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._append_header = append_header
        self.keys, self._writer = None, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        if self.model is not None and getattr(self.model, "stop_training", False):
            logs = {k: logs.get(k, "NA") for k in self.keys}  # a stopped run may miss validation values
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], delimiter=self.sep)
            if self._append_header:
                self._writer.writeheader()
        row = {"epoch": epoch, **{k: _format(logs.get(k, "NA")) for k in self.keys}}
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file, self._writer = None, None


def _format(value: object) -> object:
    if isinstance(value, Iterable) and not isinstance(value, str):
        return f'"[{", ".join(map(str, value))}]"'
    return value
