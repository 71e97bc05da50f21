"""BackupAndRestore: resumes a killed run exactly where its last backup left it."""

from __future__ import annotations

import os

from cnnkit.callbacks.callback import Callback
from cnnkit.distribution import barrier, is_chief
from cnnkit.saving.checkpoint import CheckpointManager


class BackupAndRestore(Callback):
    """Backs up the whole training state to ``backup_dir`` every epoch (or every ``save_freq`` batches) and restores
    it when ``fit`` starts again, so that a run killed at any point (even by SIGKILL) continues as if it had never
    stopped: on CPU with a fixed seed the final weights are bit-identical to an uninterrupted run's.

    A backup holds the weights, optimizer state, every random generator, the data position (epoch and batch),
    metric accumulators, History and callback states. The previous backup is kept until the new one is whole; a
    damaged newest backup falls back to the previous one with a warning. The backups are deleted when training
    finishes, unless ``delete_checkpoint=False``.

    Example:
        >>> model.fit(x, y, epochs=10, callbacks=[BackupAndRestore("backup", save_freq=50)])  # doctest: +SKIP
    """

    _run_last = True  # its snapshot must include what the other callbacks did this epoch

    def __init__(
        self,
        backup_dir: str | os.PathLike,
        save_freq: str | int = "epoch",
        double_checkpoint: bool = True,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty backup_dir. Expected a folder path. Received: backup_dir=''. Pass a folder path.")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(
                "Invalid save_freq. Expected 'epoch' or a positive number of batches. "
                f"Received: save_freq={save_freq!r}. Pass save_freq='epoch' or an integer such as 100."
            )
        self.backup_dir, self.save_freq, self.delete_checkpoint = os.fspath(backup_dir), save_freq, delete_checkpoint
        self.manager = CheckpointManager(self.backup_dir, keep=2 if double_checkpoint else 1)
        self.restored_from: tuple[int, int] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        # A backup that passes its hash but does not fit the model (forged, or another architecture's) falls back to
        # the previous one, like a damaged file does. Under DDP every rank restores rank 0's backup: the ranks hold
        # the same state at every step (metrics are computed on the global batch), so one file resumes them all.
        state = self.manager.load_latest(apply=self._restore)
        if state is not None:
            self.restored_from = tuple(state["position"])
        barrier()  # no rank writes a new backup before every rank has read the one it resumes from

    def _restore(self, state: dict) -> None:
        position = tuple(int(p) for p in state["position"])
        self.model.trainer.restore_checkpoint_state(state)
        self.restored_from = position

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq != "epoch" and self.model.trainer.global_step % self.save_freq == 0:
            self._save()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save()

    def _save(self) -> None:
        if is_chief():
            self.manager.save(self.model.trainer.checkpoint_state())

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint:
            barrier()
            if is_chief():
                self.manager.delete_all()
