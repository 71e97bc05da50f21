"""TensorBoard writes event files TensorBoard reads, with Keras 3's layout and tags; predict batch logs carry Keras'
``outputs`` key."""

import numpy as np
import pytest

import cnnkit
from cnnkit.callbacks import TensorBoard
from cnnkit.callbacks import tensorboard as tb_module

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")


def _model():
    model = cnnkit.Sequential([cnnkit.Input((4,)), cnnkit.layers.Dense(1, activation="sigmoid", name="dense")])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    return model


def _read(path):
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_epoch_and_batch_scalars_and_histograms(tmp_path):
    model = _model()
    history = model.fit(
        X,
        Y,
        epochs=2,
        batch_size=5,
        validation_split=0.25,
        verbose=0,
        callbacks=[TensorBoard(tmp_path, histogram_freq=1, update_freq=2)],
    )
    train, val = _read(tmp_path / "train"), _read(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {
        "epoch_loss",
        "epoch_accuracy",
        "epoch_learning_rate",
        "batch_loss",
        "batch_accuracy",
    }
    assert set(val.Tags()["scalars"]) == {
        "epoch_loss",
        "epoch_accuracy",
        "evaluation_loss_vs_iterations",
        "evaluation_accuracy_vs_iterations",
    }
    assert set(train.Tags()["histograms"]) == {"dense/kernel/histogram", "dense/bias/histogram"}
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [0, 1]
    np.testing.assert_allclose([e.value for e in loss], history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], history.history["val_loss"], rtol=1e-6)
    # 3 training batches per epoch (15 samples / 5), written every 2nd global batch: 2, 4, 6.
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6]
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [3, 6]
    np.testing.assert_allclose(train.Scalars("epoch_learning_rate")[0].value, 0.01, rtol=1e-6)
    assert "keras/text_summary" in train.Tags()["tensors"]


def test_no_validation_folder_without_validation(tmp_path):
    _model().fit(X, Y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path / "run", write_graph=False)])
    assert (tmp_path / "run" / "train").is_dir() and not (tmp_path / "run" / "validation").exists()


def test_missing_package_message(monkeypatch):
    monkeypatch.setattr(tb_module, "SummaryWriter", None)
    with pytest.raises(ImportError) as info:
        TensorBoard("logs")
    assert "pip install 'cnnkit[tensorboard]'" in str(info.value)
    assert str(info.value).startswith("The TensorBoard callback needs the `tensorboard` package.")


def test_unsupported_arguments_are_refused_like_keras():
    with pytest.raises(ValueError, match="Profiling is not yet available with the torch backend"):
        TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="Invalid update_freq"):
        TensorBoard(update_freq=0)


def test_predict_batch_logs_carry_outputs_like_keras():
    def record(lib):
        seen = []
        model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(2)])
        cb = lib.callbacks.LambdaCallback(on_predict_batch_end=lambda b, logs: seen.append(logs))
        model.predict(X, batch_size=8, verbose=0, callbacks=[cb])
        return seen, model

    k_seen, reference = record(keras)
    c_seen, model = record(cnnkit)
    assert [sorted(logs) for logs in c_seen] == [sorted(logs) for logs in k_seen] == [["outputs"]] * 3
    assert [type(logs["outputs"]) for logs in c_seen] == [type(logs["outputs"]) for logs in k_seen]
    assert [logs["outputs"].shape for logs in c_seen] == [logs["outputs"].shape for logs in k_seen]
