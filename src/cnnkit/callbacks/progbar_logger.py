"""ProgbarLogger: prints ``Epoch i/n`` and a progress bar (verbose=1) or one line per epoch (verbose=2)."""

from __future__ import annotations

from cnnkit.callbacks.callback import Callback
from cnnkit.common.progbar import Progbar, resolve_verbose
from cnnkit.distribution import is_chief


class ProgbarLogger(Callback):
    """Progress output for fit/evaluate/predict; added automatically when ``verbose`` is not 0."""

    def __init__(self) -> None:
        super().__init__()
        self.verbose, self.epochs, self.target = 1, 1, None
        self.progbar: Progbar | None = None
        self._seen = 0
        self._train = False  # inside fit, evaluation is drawn on the epoch's line, not as a bar of its own

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        # Under DDP only rank 0 draws: every rank logs the same numbers.
        self.verbose = resolve_verbose(params.get("verbose", 1)) if is_chief() else 0
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self) -> None:
        self.progbar = Progbar(self.target, verbose=self.verbose) if self.verbose else None
        self._seen = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._train = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._reset()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._train:
            self._reset()

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._reset()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step(batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._train:
            self._step(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step(batch, None)

    def _step(self, batch: int, logs: dict | None) -> None:
        self._seen = batch + 1
        # The last step is drawn at epoch end, with the validation metrics.
        last = self.target is not None and self._seen >= self.target
        if self.progbar is not None and not last and self.progbar.due(self._seen):
            self.progbar.update(self._seen, dict(logs) if logs is not None else None)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._finish(logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if not self._train:
            self._finish(logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._finish(None)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._train = False

    def _finish(self, logs: dict | None) -> None:
        if self.progbar is not None:
            self.progbar.update(self._seen, dict(logs) if logs else None, finalize=True)
