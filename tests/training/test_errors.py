"""Bad calls get errors that say what is wrong, what was expected, what was received and how to fix it."""

import re

import numpy as np
import pytest

from cnnkit import callbacks, layers, models
from cnnkit.common.progbar import resolve_verbose
from cnnkit.training.device import resolve_device


def model(units=3, activation="softmax"):
    return models.Sequential([layers.Input((4,)), layers.Dense(units, activation=activation)])


def compiled(loss="categorical_crossentropy", **kwargs):
    m = model()
    m.compile(optimizer="adam", loss=loss, **kwargs)
    return m


def test_fit_before_compile():
    with pytest.raises(ValueError) as e:
        model().fit(np.ones((4, 4)), np.ones((4, 3)))
    assert str(e.value) == (
        "The model must be compiled before calling fit(). Expected model.compile(optimizer=..., loss=...) first. "
        "Received: an uncompiled model. Call model.compile(optimizer='adam', loss='binary_crossentropy') before "
        "model.fit()."
    )
    with pytest.raises(ValueError, match=re.escape("before calling evaluate()")):
        model().evaluate(np.ones((4, 4)), np.ones((4, 3)))
    assert model().predict(np.ones((2, 4)), verbose=0).shape == (2, 3)  # predict needs no compile, as in Keras


def test_integer_labels_with_categorical_crossentropy_point_to_sparse():
    with pytest.raises(ValueError, match=re.escape("Use loss='sparse_categorical_crossentropy' for integer labels")):
        compiled().fit(np.ones((4, 4)), np.array([0, 1, 2, 1]), verbose=0)


def test_x_and_y_of_different_lengths():
    with pytest.raises(ValueError) as e:
        compiled().fit(np.ones((5, 4)), np.ones((4, 3)), verbose=0)
    assert str(e.value) == (
        "x and y have different numbers of samples. Expected the same first dimension. "
        "Received: x.shape[0]=5, y.shape[0]=4. Pass one y entry per sample."
    )
    with pytest.raises(ValueError, match=re.escape("x.shape[0]=4, sample_weight.shape[0]=3")):
        compiled().fit(np.ones((4, 4)), np.ones((4, 3)), sample_weight=np.ones(3), verbose=0)


def test_nan_in_inputs():
    x = np.ones((6, 4), dtype="float32")
    x[3, 1] = np.nan
    with pytest.raises(ValueError) as e:
        compiled().fit(x, np.ones((6, 3)), verbose=0)
    assert str(e.value) == (
        "Input x contains NaN or infinite values. Expected finite numbers. Received: x with 1 non-finite values "
        "(first in sample 3). Remove or impute those values before calling fit()."
    )
    y = np.ones((6, 3))
    y[5, 0] = np.inf
    with pytest.raises(ValueError, match=re.escape("Input y contains NaN or infinite values")):
        compiled().fit(np.ones((6, 4)), y, verbose=0)


def test_bad_fit_arguments():
    m = compiled()
    x, y = np.ones((8, 4)), np.ones((8, 3))
    with pytest.raises(ValueError, match=re.escape("class_weight and sample_weight cannot be used together")):
        m.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(8), verbose=0)
    with pytest.raises(ValueError, match=re.escape("Received: validation_split=1.5")):
        m.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match=re.escape("validation_split leaves an empty training or validation set")):
        m.fit(x, y, validation_split=0.99, verbose=0)
    with pytest.raises(ValueError, match=re.escape("validation_split is only supported for arrays and tensors")):
        m.fit(iter([(x, y)]), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=re.escape("y and sample_weight cannot be passed with a dataset")):
        m.fit([(x, y)].__iter__(), y, verbose=0)
    with pytest.raises(ValueError, match=re.escape("Expected True, False or 'batch'. Received: shuffle='yes'")):
        m.fit(x, y, shuffle="yes", verbose=0)
    with pytest.raises(TypeError, match=re.escape("Invalid callback. Expected instances of cnnkit.callbacks.Callback")):
        m.fit(x, y, callbacks=[print], verbose=0)
    with pytest.raises(ValueError, match=re.escape("Invalid verbose. Expected 0, 1, 2 or 'auto'. Received: verbose=3")):
        resolve_verbose(3)


def test_bad_compile_arguments():
    with pytest.raises(ValueError, match=re.escape("Unknown dtype policy")):
        model().compile(optimizer="adam", loss="mse", dtype_policy="mixed_int8")
    with pytest.raises(ValueError, match=re.escape("mixed_float16 needs a CUDA device")):
        model().compile(optimizer="adam", loss="mse", dtype_policy="mixed_float16", device="cpu")
    with pytest.raises(ValueError, match=re.escape("Invalid device. Expected a string such as 'cpu' or 'cuda:0'")):
        resolve_device("tpu:9")
    m = model()
    m.compile(optimizer="adam", loss=None)
    with pytest.raises(ValueError, match=re.escape("No loss to optimize")):
        m.fit(np.ones((4, 4)), np.ones((4, 3)), verbose=0)


def test_bad_callback_arguments():
    with pytest.raises(ValueError, match=re.escape("Unknown mode for EarlyStopping")):
        callbacks.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match=re.escape("ReduceLROnPlateau does not support a factor >= 1.0")):
        callbacks.ReduceLROnPlateau(factor=2)
    with pytest.raises(ValueError, match=re.escape("Unrecognized save_freq")):
        callbacks.ModelCheckpoint("x.cnnkit", save_freq="sometimes")
    m = compiled()
    with pytest.raises(ValueError, match=re.escape("cannot tell whether 'val_f2' should go up or down")):
        m.fit(
            np.ones((8, 4)),
            np.ones((8, 3)),
            validation_split=0.25,
            verbose=0,
            callbacks=[callbacks.EarlyStopping(monitor="val_f2")],
        )
    with pytest.raises(KeyError, match=re.escape("missing key 'val_acc'")):
        m.fit(
            np.ones((8, 4)), np.ones((8, 3)), verbose=0, callbacks=[callbacks.ModelCheckpoint("{val_acc:.2f}.cnnkit")]
        )
    with pytest.raises(ValueError, match=re.escape("The output of the schedule function must be a float")):
        m.fit(
            np.ones((8, 4)),
            np.ones((8, 3)),
            verbose=0,
            callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: "fast")],
        )
