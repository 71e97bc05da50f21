"""CSVLogger: streams the epoch logs to a CSV file, and picks up where a resumed run's backup left it."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import Any

from cnnkit.callbacks.callback import Callback
from cnnkit.distribution import is_chief


class CSVLogger(Callback):
    """Writes one row per epoch: ``epoch`` then the log keys in sorted order (Keras' layout).

    ``append=True`` adds to an existing file (no second header); ``append=False`` starts it afresh (Keras'
    semantics). With :class:`BackupAndRestore`, the file's length is part of the backup: a resumed run cuts the file
    back to what it held at the backup it resumes from, whatever ``append`` says, so every epoch appears once (an
    epoch logged just before a crash, but not yet in the backup, is trained and logged again) and the header once.

    Example:
        >>> logger = CSVLogger("training.csv", append=True)
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._file = self._writer = None
        self._size = 0  # bytes of the file that belong to the log so far (what a backup records)
        self._resume_size: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        # The file is opened at the first epoch, not here: a resume (set_state) is only known after every
        # callback's on_train_begin, and a fresh run must not wipe a log that the resume still needs.
        self.close()
        self.keys, self._resume_size = None, None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._file is None:
            self._open()

    def _open(self) -> None:
        if not is_chief():  # under DDP rank 0 writes the file; every rank holds the same logs
            return
        exists = os.path.exists(self.filename)
        if self._resume_size is not None and exists:
            with open(self.filename, "r+b") as f:
                f.truncate(min(self._resume_size, os.path.getsize(self.filename)))
        keep = exists and (self.append or self._resume_size is not None)
        self._file = open(self.filename, "a" if keep else "w", newline="", encoding="utf-8")
        self._size = self._file.tell()
        self._writer = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._file is None:
            self._open()
        if self._file is None:
            return
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        if self.model is not None and self.model.stop_training:
            logs = {k: logs.get(k, "NA") for k in self.keys}  # a stopped run may miss validation values
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], delimiter=self.sep)
            if self._size == 0:
                self._writer.writeheader()
        row = {"epoch": epoch, **{k: _format(logs.get(k, "NA")) for k in self.keys}}
        self._writer.writerow(row)
        self._file.flush()
        self._size = self._file.tell()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.close()

    def close(self) -> None:
        """Closes the file (training does it when it ends)."""
        if self._file is not None:
            self._file.close()
            self._file, self._writer = None, None

    def get_state(self) -> dict[str, Any]:
        return {"size": self._size}

    def set_state(self, state: dict[str, Any]) -> None:
        # Called when BackupAndRestore resumes a run, before its first epoch: the file is cut back to this size.
        self._resume_size = int(state["size"])


def _format(value: object) -> object:
    if isinstance(value, Iterable) and not isinstance(value, str):
        return f'"[{", ".join(map(str, value))}]"'
    return value
