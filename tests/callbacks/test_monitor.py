"""The direction ``mode='auto'`` infers for a monitored metric, compared with Keras 3's rule."""

import numpy as np
import pytest

import cnnkit
from cnnkit import callbacks

MONITORS = ["loss", "val_loss", "val_auc", "val_AUC", "val_accuracy", "val_precision", "val_my_metric", "val_mse",
            "val_unknown"]  # fmt: skip


def my_metric(y_true, y_pred):
    return (y_true - y_pred) ** 2


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((16, 4), dtype=np.float32)
    return x, (x.sum(axis=1) > 2).astype("float32").reshape(-1, 1)


def _resolved(cb_class, model):
    """'max', 'min' or 'error' for each monitor, as the callback resolves it on ``model``."""
    out = {}
    for monitor in MONITORS:
        cb = cb_class(monitor=monitor)
        cb.set_model(model)
        try:
            cb._set_monitor_op()
        except ValueError:
            out[monitor] = "error"
            continue
        out[monitor] = "max" if cb.monitor_op(1.0, 0.0) else "min"
    return out


def _cnnkit_model(metrics):
    model = cnnkit.Sequential([cnnkit.layers.Input((4,)), cnnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=metrics)
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25)  # metrics are resolved on the first batch
    return model


def _keras_model(keras, metrics):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=metrics)
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25)
    return model


@pytest.mark.parametrize("name", ["EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"])
def test_auto_mode_matches_keras_3(name, tmp_path):
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs with KERAS_BACKEND=torch in this suite")

    specs = ["accuracy", "AUC", "precision", "mse", my_metric]
    if name == "ModelCheckpoint":
        ours_cls = lambda monitor: callbacks.ModelCheckpoint(str(tmp_path / "m.cnnkit"), monitor=monitor)  # noqa: E731
        theirs_cls = lambda monitor: keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor=monitor)  # noqa: E731
    else:
        ours_cls, theirs_cls = getattr(callbacks, name), getattr(keras.callbacks, name)
    ours = _resolved(ours_cls, _cnnkit_model(specs))
    theirs = _resolved(theirs_cls, _keras_model(keras, specs))
    assert ours == theirs
    # The cases the issue names: the exact metric name decides, as in Keras.
    assert ours["val_AUC"] == "max" and ours["val_auc"] == "error" and ours["val_loss"] == "min"

    # Metric objects keep their own names: AUC(name="auc") makes val_auc the one that resolves.
    ours = _resolved(
        ours_cls, _cnnkit_model([cnnkit.metrics.AUC(name="auc"), cnnkit.metrics.Precision(name="precision")])
    )
    theirs = _resolved(
        theirs_cls, _keras_model(keras, [keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="precision")])
    )
    assert ours == theirs and ours["val_auc"] == "max" and ours["val_precision"] == "max"


def test_explicit_mode_and_unknown_monitor_error():
    stop = callbacks.EarlyStopping(monitor="val_anything", mode="max")
    stop._set_monitor_op()
    assert stop.monitor_op(1.0, 0.0)
    stop = callbacks.EarlyStopping(monitor="val_AUC")  # no model: only loss is known
    with pytest.raises(ValueError, match=r"cannot tell whether 'val_AUC' should go up or down\. Expected 'loss' or"):
        stop._set_monitor_op()
    with pytest.raises(ValueError, match=r"Unknown mode for EarlyStopping\. Expected 'auto', 'min' or 'max'"):
        callbacks.EarlyStopping(mode="up")


def test_early_stopping_on_val_auc_stops_as_keras_would():
    x, y = _data()
    model = cnnkit.Sequential([cnnkit.layers.Input((4,)), cnnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["AUC"])
    stop = callbacks.EarlyStopping(monitor="val_AUC", patience=1)
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[stop])
    assert stop.monitor_op is not None and stop.monitor_op(1.0, 0.0)  # higher AUC is better
