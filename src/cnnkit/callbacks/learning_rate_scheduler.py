"""LearningRateScheduler: sets the learning rate at the start of each epoch from ``schedule(epoch, lr)``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnnkit.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """Calls ``schedule(epoch, lr)`` (or ``schedule(epoch)``) before each epoch and sets the optimizer's rate.

    Example:
        >>> scheduler = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)
    """

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # a one-argument schedule, as Keras allows
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)) or isinstance(lr, bool):
            raise ValueError(
                "The output of the schedule function must be a float. Expected a number such as 0.001. "
                f"Received: {lr!r} of type {type(lr).__name__}. Return float(lr) from the schedule."
            )
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
