"""History: records the epoch logs; ``fit`` returns it."""

from __future__ import annotations

from cnnkit.callbacks.callback import Callback


class History(Callback):
    """``history.history`` maps each log key (``loss``, ``val_accuracy``, ...) to its per-epoch values.

    Example:
        >>> h = History(); h.on_train_begin(); h.on_epoch_end(0, {"loss": 0.5})
        >>> h.history
        {'loss': [0.5]}
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self
