"""The same model trained a few steps in cnnkit and in Keras 3 (torch backend) ends with the same weights."""

import numpy as np
import pytest
import torch

from support.tiny import TinyCNN, keras_tiny_cnn, trainer_for

keras = pytest.importorskip("keras")


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 3), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)
    return x, y


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("validation", [False, True])
def test_weights_match_keras_after_training(optimizer, validation):
    x, y = _data()
    reference = keras_tiny_cnn()
    torch.manual_seed(1)
    model = TinyCNN()
    model.set_weights(reference.get_weights())
    reference.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    trainer = trainer_for(model, optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"], device="cpu")
    kwargs = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    if validation:
        kwargs["validation_split"] = 0.25
    k_hist = reference.fit(x, y, **kwargs).history
    c_hist = trainer.fit(x, y, **kwargs).history

    # 12 float32 steps of a tiny model: both sides do the same math in a possibly different order (oneDNN conv vs
    # Keras' conv), so differences of a few ulps per step are expected; 1e-5 absolute is far above that and far
    # below any real semantic difference (a wrong learning rate or bias correction moves weights by ~1e-3).
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert list(c_hist) == list(k_hist)  # same keys, same (sorted) order
    for key in k_hist:
        np.testing.assert_allclose(c_hist[key], k_hist[key], rtol=1e-5, atol=1e-6)


def test_evaluate_and_predict_match_keras():
    x, y = _data(40, seed=3)
    reference = keras_tiny_cnn()
    model = TinyCNN()
    model.set_weights(reference.get_weights())
    reference.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    trainer = trainer_for(model, optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], device="cpu")
    want = reference.evaluate(x, y, batch_size=16, verbose=0)
    got = trainer.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert trainer.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        reference.evaluate(x, y, verbose=0, return_dict=True), rel=1e-6
    )
    np.testing.assert_allclose(trainer.predict(x, verbose=0), reference.predict(x, verbose=0), atol=1e-6)
