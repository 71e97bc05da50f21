"""TerminateOnNaN: stops training cleanly when the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from cnnkit.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Sets ``model.stop_training`` when a batch's running loss is not finite.

    Reading the loss each batch makes the loop wait for the device every step (as in Keras); use it when you need it.
    ModelCheckpoint never saves non-finite weights as "best", so a stopped run leaves the last good checkpoint.

    Example:
        >>> model.fit(x, y, callbacks=[TerminateOnNaN()])  # doctest: +SKIP
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped_batch: int | None = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.stopped_batch = batch
            self.model.stop_training = True
