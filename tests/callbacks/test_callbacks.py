"""One test per callback, showing its behaviour."""

import csv
import math

import numpy as np
import pytest
import torch

from cnnkit import callbacks
from support.tiny import TinyCNN, trainer_for


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 3), dtype=np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)


def _trainer(**kwargs):
    torch.manual_seed(0)
    kwargs = {"optimizer": "sgd", "loss": "binary_crossentropy", "device": "cpu", **kwargs}
    return trainer_for(TinyCNN(), **kwargs)


class ScriptedLogs(callbacks.Callback):
    """Overwrites one log value per epoch with a scripted sequence (runs before the callbacks under test)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_history_has_keras_keys_and_one_value_per_epoch():
    x, y = _data()
    history = _trainer(metrics=["accuracy"]).fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2] and all(len(v) == 3 for v in history.history.values())
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 1}


def test_early_stopping_stops_at_expected_epoch_and_restores_best_weights():
    x, y = _data()
    trainer = _trainer()
    snapshots = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: snapshots.append(trainer.model.dense_bias.detach().clone())
    )
    # val_loss improves until epoch 1, then stays worse: patience=2 -> stop at the end of epoch 3.
    script = ScriptedLogs("val_loss", [1.0, 0.5, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0])
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = trainer.fit(x, y, epochs=8, validation_split=0.25, verbose=0, callbacks=[script, keep, stop])
    assert len(history.history["loss"]) == 4 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert torch.equal(trainer.model.dense_bias, snapshots[1])  # weights of the best epoch are back
    assert not torch.equal(snapshots[3], snapshots[1])


def test_reduce_lr_on_plateau_lowers_the_rate_and_logs_it():
    x, y = _data()
    script = ScriptedLogs("val_loss", [1.0, 1.0, 1.0, 1.0, 1.0])
    reduce = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=0.002)
    history = _trainer().fit(x, y, epochs=5, validation_split=0.25, verbose=0, callbacks=[script, reduce])
    # SGD starts at 0.01; no improvement after epoch 0 -> halved after epochs 2 and 4 (wait resets after a cut).
    np.testing.assert_allclose(history.history["learning_rate"], [0.01, 0.01, 0.01, 0.005, 0.005], rtol=1e-6)
    assert history.model.optimizer.learning_rate == pytest.approx(0.0025)


def test_learning_rate_scheduler_sets_rate_each_epoch():
    x, y = _data()
    trainer = _trainer()
    seen = []
    scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    spy = callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(trainer.optimizer.learning_rate))
    history = trainer.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler, spy])
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.1 / 3])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3])


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    history = _trainer(metrics=["accuracy"]).fit(
        x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[callbacks.CSVLogger(path)]
    )
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert float(rows[1]["val_loss"]) == pytest.approx(history.history["val_loss"][1])
    _trainer().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, append=True)])
    assert len(list(csv.DictReader(open(path)))) == 3  # appended, header not repeated


def test_model_checkpoint_saves_best_only_with_formatted_names(tmp_path):
    x, y = _data()
    script = ScriptedLogs("val_loss", [0.9, 0.5, 0.7, 0.4])
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.safetensors")
    ckpt = callbacks.ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True, save_weights_only=True)
    _trainer().fit(x, y, epochs=4, validation_split=0.25, verbose=0, callbacks=[script, ckpt])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-01-0.90.safetensors", "ckpt-02-0.50.safetensors", "ckpt-04-0.40.safetensors"]
    assert ckpt.best == pytest.approx(0.4)


def test_model_checkpoint_every_epoch_and_batch_frequency(tmp_path):
    x, y = _data(64)
    _trainer().fit(
        x,
        y,
        epochs=2,
        batch_size=16,
        verbose=0,
        callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.st"), save_weights_only=True)],
    )
    _trainer().fit(
        x,
        y,
        epochs=1,
        batch_size=16,
        verbose=0,
        callbacks=[
            callbacks.ModelCheckpoint(str(tmp_path / "b{epoch}-{batch}.st"), save_freq=2, save_weights_only=True)
        ],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1-2.st", "b1-4.st", "e1.st", "e2.st"]


def test_terminate_on_nan_stops_and_nan_weights_are_never_saved_as_best(tmp_path):
    from safetensors.torch import load_file

    x, y = _data(64)
    trainer = _trainer(loss="mse")

    def poison(batch, logs):  # epoch 1, batch 1: the weights go NaN, so the next loss is NaN
        if trainer.global_step == 5:
            with torch.no_grad():
                trainer.model.dense_bias.fill_(float("nan"))

    best = tmp_path / "best.safetensors"
    ckpt = callbacks.ModelCheckpoint(str(best), monitor="loss", save_best_only=True, save_weights_only=True)
    nan = callbacks.TerminateOnNaN()
    history = trainer.fit(
        x,
        y,
        batch_size=16,
        epochs=5,
        verbose=0,
        shuffle=False,
        callbacks=[callbacks.LambdaCallback(on_train_batch_end=poison), nan, ckpt],
    )
    assert nan.stopped_batch == 1 and len(history.history["loss"]) == 2  # stopped cleanly in epoch 1
    assert math.isfinite(history.history["loss"][0]) and not math.isfinite(history.history["loss"][1])
    saved = load_file(best)
    assert all(torch.isfinite(t).all() for t in saved.values())  # still epoch 0's good weights

    # A finite monitored value does not make non-finite weights "best" either.
    script = ScriptedLogs("val_loss", [0.5])
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "b2.st"), save_best_only=True, save_weights_only=True)
    with pytest.warns(RuntimeWarning, match="not saving them as best"):
        trainer.fit(x, y, epochs=1, validation_split=0.25, verbose=0, callbacks=[script, ckpt])
    assert not (tmp_path / "b2.st").exists()


def test_lambda_callback_hooks_are_called():
    x, y = _data()
    calls = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda e, logs: calls.append(f"epoch_begin{e}"),
        on_batch_end=lambda b, logs: calls.append(f"batch{b}:{logs['loss']:.1f}"),
        on_epoch_end=lambda e, logs: calls.append(f"epoch_end{e}"),
        on_train_end=lambda logs: calls.append("train_end"),
    )
    _trainer().fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    assert calls[0] == "train_begin" and calls[1] == "epoch_begin0" and calls[-2:] == ["epoch_end0", "train_end"]
    assert [c[:6] for c in calls[2:4]] == ["batch0", "batch1"]
    with pytest.raises(ValueError, match="Unknown hook for LambdaCallback"):
        callbacks.LambdaCallback(on_epoch_ending=print)


def test_progbar_logger_verbose_1_and_2(capsys):
    x, y = _data()
    _trainer(metrics=["accuracy"]).fit(x, y, batch_size=8, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("4/4 - ") and "/step - accuracy: " in lines[1] and " - loss: " in lines[1]
    _trainer().fit(x, y, batch_size=8, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "4/4 ━━━━━━━━━━━━━━━━━━━━" in out and out.endswith("\n") and "Epoch" not in out


def test_backup_and_restore_resumes_after_an_exception(tmp_path):
    x, y = _data(64)

    class Crash(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.trainer.global_step == 6:
                raise RuntimeError("crash")

    def run(extra):
        trainer = _trainer(optimizer="adam")
        backup = callbacks.BackupAndRestore(str(tmp_path / "backup"), save_freq=1)
        history = trainer.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[backup, *extra])
        return trainer, history, backup

    with pytest.raises(RuntimeError, match="crash"):
        run([Crash()])
    resumed, history, backup = run([])
    assert backup.restored_from == (1, 1)  # step 6 crashed before its backup (BackupAndRestore runs last)
    reference, ref_history, _ = run([])  # the backup was deleted at the end of the resumed run
    for a, b in zip(resumed.model.state_dict().values(), reference.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert history.history == ref_history.history
    assert not (tmp_path / "backup").exists()
