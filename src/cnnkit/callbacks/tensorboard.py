"""TensorBoard: Keras' callback, writing event files with the ``tensorboard`` package's writer.

The layout and tags are Keras 3's, so dashboards and scripts made for Keras read cnnkit runs unchanged:
``<log_dir>/train`` and ``<log_dir>/validation``; ``epoch_<metric>`` per epoch (``val_`` metrics go to
``validation`` without the prefix; ``epoch_learning_rate`` beside the training metrics); ``batch_<metric>`` every
``update_freq`` batches; ``evaluation_<metric>_vs_iterations`` after each validation; ``<layer>/<weight>/histogram``
every ``histogram_freq`` epochs. Event files are append-only streams that TensorBoard reads while they grow, so they
are written in place rather than through the atomic writer.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from cnnkit.callbacks.callback import Callback

try:  # optional: the `tensorboard` extra (pip install 'cnnkit[tensorboard]'); the error below names it
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    SummaryWriter = None

__all__ = ["TensorBoard"]


def _missing_tensorboard() -> ImportError:
    return ImportError(
        "The TensorBoard callback needs the `tensorboard` package. Expected it to be installed. Received: "
        "`import tensorboard` failed. Install it with `pip install 'cnnkit[tensorboard]'` (or `pip install "
        "tensorboard`)."
    )


class TensorBoard(Callback):
    """Logs metrics (and optionally weight histograms) for TensorBoard, as ``keras.callbacks.TensorBoard``.

    Args:
        log_dir: The folder of the run; ``train/`` and ``validation/`` are created under it.
        histogram_freq: Every how many epochs to write weight histograms (0: never).
        write_graph: Write the model's config (JSON) as the ``keras`` text summary, as Keras does.
        write_images: Also write each weight as an image (with ``histogram_freq``).
        write_steps_per_second: Also log training steps per second.
        update_freq: ``"epoch"``, ``"batch"`` or an integer N: write ``batch_<metric>`` every N batches.
        profile_batch: Must be 0 (Keras has no profiler on the torch backend either).
        embeddings_freq: Must be 0 (embedding projector files are not written).
        embeddings_metadata: Must be None.

    Example:
        >>> model.fit(x, y, epochs=3, callbacks=[TensorBoard(log_dir="logs")])  # doctest: +SKIP
    """

    def __init__(
        self,
        log_dir: str | os.PathLike = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Any = None,
    ) -> None:
        super().__init__()
        if SummaryWriter is None:
            raise _missing_tensorboard()
        if profile_batch:
            raise ValueError(
                "Profiling is not yet available with the torch backend. Please open a PR if you'd like to add this "
                f"feature. Received: profile_batch={profile_batch} (must be 0)"
            )
        if embeddings_freq or embeddings_metadata is not None:
            raise ValueError(
                "Embedding projector files are not written by cnnkit's TensorBoard. Expected embeddings_freq=0. "
                f"Received: embeddings_freq={embeddings_freq}. Remove the embeddings arguments."
            )
        if update_freq != "epoch" and update_freq != "batch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(
                "Invalid update_freq. Expected 'epoch', 'batch' or a positive integer. Received: "
                f"update_freq={update_freq!r}. Pass update_freq='epoch'."
            )
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._batch_start = self._epoch_start = 0.0
        self._epoch_start_iterations = 0

    # ------------------------------------------------------------------------------------------------ writers
    def _writer(self, which: str) -> Any:
        # Created on first use, as Keras does: a run without validation has no validation/ folder.
        if which not in self._writers:
            self._writers[which] = SummaryWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self._writers = {}
        if self.write_graph and model is not None and hasattr(model, "to_json"):
            try:
                config = model.to_json()
            except (NotImplementedError, TypeError, ValueError):  # a subclassed model without get_config
                config = json.dumps({"class_name": type(model).__name__})
            self._writer("train").add_text("keras", config, 0)

    # ------------------------------------------------------------------------------------------------- hooks
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._global_train_batch = 0

    def on_train_end(self, logs: dict | None = None) -> None:
        self._close_writers()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.time()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer, step = self._writer("train"), self._global_train_batch
        if self.write_steps_per_second:
            writer.add_scalar("batch_steps_per_second", 1.0 / max(time.time() - self._batch_start, 1e-9), step)
        for name, value in dict(logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.write_steps_per_second:
            self._epoch_start = time.time()
            self._epoch_start_iterations = self._iterations()

    def on_test_end(self, logs: dict | None = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and logs:
            writer = self._writer("validation")
            for name, value in logs.items():
                writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), self._iterations())
            writer.flush()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start, 1e-9)
            train["steps_per_second"] = (self._iterations() - self._epoch_start_iterations) / elapsed
        for which, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
                writer.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    # ------------------------------------------------------------------------------------------------ helpers
    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        return int(getattr(optimizer, "iterations", 0) or 0)

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in getattr(self.model, "layers", []):
            for name, weight in layer.named_parameters():
                values = weight.detach().float().cpu().numpy()
                tag = f"{layer.name}/{name.replace('.', '/')}"
                writer.add_histogram(f"{tag}/histogram", values, epoch)
                if self.write_images:
                    writer.add_image(f"{tag}/image", _as_image(values), epoch, dataformats="HW")
        writer.flush()


def _as_image(weight: np.ndarray) -> np.ndarray:
    """A weight as a grey image scaled to [0, 1]: a row for a bias, the matrix for a kernel (conv kernels flattened
    to (inputs, outputs) as Keras flattens them)."""
    w = np.squeeze(weight)
    w = w.reshape(1, -1) if w.ndim <= 1 else w.reshape(-1, w.shape[-1])
    low, high = float(w.min()), float(w.max())
    return (w - low) / (high - low) if high > low else np.zeros_like(w)
