"""ModelCheckpoint: saves the model (or its weights) every epoch, every N batches, or only when it improves."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from cnnkit.callbacks.monitor import MonitorCallback
from cnnkit.distribution import barrier, is_chief
from cnnkit.saving.checkpoint import save_state


class ModelCheckpoint(MonitorCallback):
    """Saves to ``filepath``, which may hold ``{epoch}``, ``{batch}`` and log keys: ``'ckpt-{epoch:02d}-{val_loss:.2f}
    .cnnkit'``. With ``save_best_only=True`` it saves only when ``monitor`` improves, and never non-finite weights.

    Example:
        >>> checkpoint = ModelCheckpoint("best.cnnkit", monitor="val_accuracy", save_best_only=True)
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(
                "Unrecognized save_freq. Expected 'epoch' or a positive number of batches. "
                f"Received: save_freq={save_freq!r}. Pass save_freq='epoch' or an integer such as 100."
            )
        self.filepath, self.verbose = os.fspath(filepath), verbose
        self.save_best_only, self.save_weights_only, self.save_freq = save_best_only, save_weights_only, save_freq
        self._current_epoch, self._batches_seen = 0, 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen >= self.save_freq:
            self._batches_seen = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = dict(logs or {})
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = self.get_monitor_value(logs)
            if current is None:
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if not _all_finite(self.model):
                warnings.warn(
                    f"Epoch {epoch + 1}: the weights hold NaN or inf values; not saving them as best.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to {current:.5f}, "
                    f"saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        save_atomic(self.model, path, self.save_weights_only)

    def _file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f"Failed to format the ModelCheckpoint filepath. Expected placeholders among epoch, batch and the "
                f"log keys {sorted(logs)}. Received: filepath={self.filepath!r} (missing key {e}). "
                "Use only those names in the filepath."
            ) from e

    def get_state(self) -> dict:
        return {"best": self.best}

    def set_state(self, state: dict) -> None:
        self.best = state["best"]


def _all_finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def save_atomic(model: torch.nn.Module, path: str, weights_only: bool) -> None:
    """Saves so that ``path`` is always a whole file: every saver below writes through ``common.files.atomic_write``
    (a temporary file in the same folder, then a rename), and keeps the file name, which picks the format.

    Under DDP rank 0 writes and the other ranks wait until the file is whole (every rank decides alike to save)."""
    if is_chief():
        _save_file(model, path, weights_only)
    barrier()


def _save_file(model: torch.nn.Module, path: str, weights_only: bool) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if weights_only and hasattr(model, "save_weights"):
        model.save_weights(path)
    elif not weights_only and hasattr(model, "save"):
        model.save(path)
    else:  # a plain torch module: its state_dict as safetensors
        save_state(path, {"model": model.state_dict()})
