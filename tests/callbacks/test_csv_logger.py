"""CSVLogger knows about resume: after BackupAndRestore resumes, each epoch is in the file once, the header once."""

import csv

import numpy as np
import pytest
import torch

from cnnkit import callbacks
from support.tiny import TinyCNN, trainer_for


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 8, 8, 3), dtype=np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)


class CrashAt(callbacks.Callback):
    """Raises at the end of ``epoch`` (after CSVLogger wrote its row, before BackupAndRestore saved it), or at
    training step ``step``."""

    def __init__(self, epoch=None, step=None):
        super().__init__()
        self.epoch, self.step = epoch, step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.trainer.global_step == self.step:
            raise RuntimeError("crash")

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("crash")


def _fit(tmp_path, append, extra=(), save_freq="epoch", epochs=3):
    torch.manual_seed(0)
    trainer = trainer_for(TinyCNN(), optimizer="sgd", loss="binary_crossentropy", device="cpu")
    x, y = _data()
    log = callbacks.CSVLogger(tmp_path / "history.csv", append=append)
    backup = callbacks.BackupAndRestore(tmp_path / "backup", save_freq=save_freq)
    trainer.fit(x, y, batch_size=16, epochs=epochs, verbose=0, validation_split=0.25, callbacks=[log, *extra, backup])
    return backup


def _rows(tmp_path):
    lines = (tmp_path / "history.csv").read_text().splitlines()
    return lines, [r["epoch"] for r in csv.DictReader(lines)]


@pytest.mark.parametrize("append", [False, True])
def test_an_epoch_logged_but_not_backed_up_is_logged_once_after_the_resume(tmp_path, append):
    with pytest.raises(RuntimeError, match="crash"):
        _fit(tmp_path, append, extra=[CrashAt(epoch=1)])
    lines, epochs = _rows(tmp_path)
    assert epochs == ["0", "1"]  # epoch 1 is in the file, but the backup holds epoch 0 only
    backup = _fit(tmp_path, append)
    assert backup.restored_from == (1, 0)
    lines, epochs = _rows(tmp_path)
    assert epochs == ["0", "1", "2"]
    assert sum(line.startswith("epoch,") for line in lines) == 1


def test_a_resume_from_a_mid_epoch_backup_logs_that_epoch_once(tmp_path):
    with pytest.raises(RuntimeError, match="crash"):
        _fit(tmp_path, False, extra=[CrashAt(step=5)], save_freq=1)  # 3 steps per epoch: epoch 1, batch 2
    assert _rows(tmp_path)[1] == ["0"]
    backup = _fit(tmp_path, False, save_freq=1)
    assert backup.restored_from == (1, 1)
    lines, epochs = _rows(tmp_path)
    assert epochs == ["0", "1", "2"] and lines[0].startswith("epoch,")


def test_without_a_resume_append_keeps_keras_semantics(tmp_path):
    _fit(tmp_path, False, epochs=2)
    _fit(tmp_path, True, epochs=1)
    lines, epochs = _rows(tmp_path)
    assert epochs == ["0", "1", "0"] and sum(line.startswith("epoch,") for line in lines) == 1
    _fit(tmp_path, False, epochs=1)
    assert _rows(tmp_path)[1] == ["0"]  # append=False starts the file afresh
