"""compile/fit/evaluate/predict on cnnkit models, checked against Keras 3 (torch backend) where Keras defines it."""

import numpy as np
import pytest
import torch

import cnnkit
import cnnkit.mixed_precision
import cnnkit.regularizers
from cnnkit import callbacks, layers, models
from cnnkit.utils import set_random_seed

keras = pytest.importorskip("keras")

# Float32 training of a small CNN for a few steps: both sides do the same math, in possibly different orders (oneDNN
# vs Keras' torch ops), so a few ulps per step; 1e-5 is far above that and far below a semantic difference (a
# wrong loss reduction, class weight or bias correction moves weights by 1e-3 or more).
ATOL = 1e-5


def tutorial(lib, size=16, units=16, regularizer=None):
    """The tutorial CNN (Conv-Pool-Conv-Pool-Flatten-Dense-Dense), narrowed to keep tests fast."""
    return lib.models.Sequential(
        [
            lib.layers.Input((size, size, 3)),
            lib.layers.Conv2D(8, (3, 3), activation="relu"),
            lib.layers.MaxPooling2D(pool_size=(2, 2)),
            lib.layers.Conv2D(8, (3, 3), activation="relu"),
            lib.layers.MaxPooling2D(pool_size=(2, 2)),
            lib.layers.Flatten(),
            lib.layers.Dense(units, activation="relu", kernel_regularizer=regularizer),
            lib.layers.Dense(1, activation="sigmoid"),
        ]
    )


def twin(regularizer=None):
    """The same model in Keras and cnnkit, with Keras' initial weights copied into cnnkit's."""
    reference = tutorial(keras, regularizer=regularizer and keras.regularizers.L2(regularizer))
    model = tutorial(cnnkit, regularizer=regularizer and cnnkit.regularizers.L2(regularizer))
    model.set_weights(reference.get_weights())
    return reference, model


def data(n=48, seed=0, size=16):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 3), dtype=np.float32)
    return x, (x[..., 0].mean(axis=(1, 2)) > 0.5).astype("float32").reshape(-1, 1)


def assert_same_training(reference, model, k_hist, c_hist):
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    assert list(c_hist) == list(k_hist)
    for key in k_hist:
        np.testing.assert_allclose(c_hist[key], k_hist[key], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_tutorial_model_trains_like_keras(optimizer):
    reference, model = twin()
    x, y = data()
    kwargs = dict(batch_size=8, epochs=2, shuffle=False, verbose=0, validation_split=0.25)
    for m in (reference, model):
        m.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    assert_same_training(reference, model, reference.fit(x, y, **kwargs).history, model.fit(x, y, **kwargs).history)


@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight", "regularizer"])
def test_weighting_and_regularization_match_keras(weighting):
    reference, model = twin(regularizer=0.01 if weighting == "regularizer" else None)
    x, y = data()
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    if weighting == "class_weight":
        kwargs["class_weight"] = {0: 0.3, 1: 2.0}
    elif weighting == "sample_weight":
        kwargs["sample_weight"] = np.linspace(0.1, 2.0, len(x)).astype("float32")
    for m in (reference, model):
        m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    assert_same_training(reference, model, reference.fit(x, y, **kwargs).history, model.fit(x, y, **kwargs).history)


def test_sparse_categorical_with_validation_data_matches_keras():
    def head(lib):
        return lib.models.Sequential([lib.layers.Input((6,)), lib.layers.Dense(3, activation="softmax")])

    reference, model = head(keras), head(cnnkit)
    model.set_weights(reference.get_weights())
    rng = np.random.default_rng(1)
    x, y = rng.random((40, 6), dtype=np.float32), rng.integers(0, 3, 40)
    kwargs = dict(batch_size=10, epochs=3, shuffle=False, verbose=0, validation_data=(x[:12], y[:12]))
    for m in (reference, model):
        m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert_same_training(reference, model, reference.fit(x, y, **kwargs).history, model.fit(x, y, **kwargs).history)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), reference.evaluate(x, y, verbose=0), rtol=1e-5)


def test_validation_split_takes_the_last_fraction_unshuffled():
    _, model = twin()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = data(40)
    history = model.fit(x, y, batch_size=8, epochs=1, validation_split=0.2, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[32:], y[32:], verbose=0), rel=1e-6)


def test_shuffle_is_reproducible_under_a_seed_and_changes_the_order():
    x, y = data()

    def train(seed, shuffle):
        set_random_seed(seed)
        model = tutorial(cnnkit)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=shuffle, verbose=0)
        return model.get_weights()

    first, again, unshuffled = train(3, True), train(3, True), train(3, False)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, unshuffled, strict=True))


def test_evaluate_returns_scalar_list_or_dict_like_keras():
    x, y = data(20)
    _, model = twin()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "mse"])
    loss, accuracy, mse = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"accuracy": accuracy, "loss": loss, "mse": mse}
    assert model.test_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(loss, rel=1e-6)


class Recorder(torch.nn.Module):
    """Records how the trainer calls a model."""

    def __init__(self):
        super().__init__()
        self.dense = torch.nn.Linear(4, 2)
        self.calls = []

    def forward(self, x, training=False):
        self.calls.append((x.shape[0], training, torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
        return torch.softmax(self.dense(x), -1)


def test_predict_batches_without_gradients_and_returns_numpy():
    from cnnkit.training.trainer import Trainer

    net = Recorder()
    out = Trainer(net).predict(np.ones((70, 4)), verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (70, 2) and out.dtype == np.float32
    # calls[0] is a one-sample pass sizing the CPU slices (see trainer.cpu_chunk_size); then batches of 32.
    assert net.calls == [(1, False, True, False)] + [(32, False, True, False)] * 2 + [(6, False, True, False)]
    assert Trainer(net).predict_on_batch(np.ones((5, 4))).shape == (5, 2)
    net.calls.clear()
    Trainer(net).predict(np.ones((40, 4)), verbose=0)  # the slice size of this input signature is known
    assert net.calls == [(32, False, True, False), (8, False, True, False)]
    net.calls.clear()
    with pytest.raises(RuntimeError):  # another signature (3 features) is sized again: the one-row pass comes first
        Trainer(net).predict(np.ones((40, 3)), verbose=0)
    assert net.calls == [(1, False, True, False)]


def test_large_cpu_predict_batches_run_in_slices_with_the_same_results():
    from cnnkit.training.predict_utils import cpu_chunk_size

    set_random_seed(0)
    model = tutorial(cnnkit, size=64)  # conv1 output: 62*62*8 floats = 123 KB per image
    x = np.random.default_rng(0).random((300, 64, 64, 3), dtype=np.float32)
    assert cpu_chunk_size(model, torch.from_numpy(x[:256])) == 136  # 16 MiB / 123 KB, rounded down to 8
    sliced = model.predict(x, batch_size=256, verbose=0)
    whole = torch.cat([model(torch.from_numpy(x[i : i + 100])) for i in range(0, 300, 100)]).detach().numpy()
    np.testing.assert_allclose(sliced, whole, atol=1e-6)  # same per-sample function, other batch blocking


def test_fit_on_a_dataset_object_uses_iterate_and_class_weight():
    calls = []

    class Dataset:
        def __len__(self):
            return 3

        def iterate(self, epoch, start_batch=0):
            calls.append((epoch, start_batch))
            rng = np.random.default_rng(epoch)
            for _ in range(start_batch, 3):
                yield torch.from_numpy(rng.random((4, 4), dtype=np.float32)), torch.tensor([0, 1, 1, 0])

        def __iter__(self):
            return self.iterate(0)

    from cnnkit.training.trainer import Trainer

    trainer = Trainer(Recorder(), optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = trainer.fit(Dataset(), epochs=2, verbose=0, class_weight={0: 1.0, 1: 3.0}, validation_data=Dataset())
    assert calls == [(0, 0), (0, 0), (1, 0), (0, 0)]  # train epoch 0, validation, train epoch 1, validation
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_multi_input_model_with_lists_and_dicts():
    a, b = layers.Input((4,), name="a"), layers.Input((3,), name="b")
    out = layers.Dense(1, activation="sigmoid")(layers.Concatenate()([a, b]))
    model = models.Model([a, b], out)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    xa, xb, y = rng.random((20, 4)), rng.random((20, 3)), rng.integers(0, 2, (20, 1)).astype("float32")
    history = model.fit([xa, xb], y, batch_size=8, epochs=2, verbose=0, validation_split=0.25)
    assert len(history.history["val_loss"]) == 2
    assert model.predict([xa, xb], verbose=0).shape == (20, 1)


def test_initial_epoch_steps_per_epoch_and_stop_training():
    x, y = data(64)
    _, model = twin()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    batches = []
    count = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    history = model.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, steps_per_epoch=3, verbose=0, callbacks=[count])
    assert history.epoch == [2, 3] and batches == [0, 1, 2, 0, 1, 2]
    assert model.optimizer.iterations == 6

    def stop(batch, logs):
        model.stop_training = batch == 1

    history = model.fit(
        x, y, batch_size=8, epochs=5, verbose=0, callbacks=[callbacks.LambdaCallback(on_train_batch_end=stop)]
    )
    assert len(history.history["loss"]) == 1 and model.optimizer.iterations == 8


def test_saved_model_keeps_compile_config_and_optimizer_state(tmp_path):
    x, y = data(32)
    _, model = twin()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.cnnkit")
    loaded = models.load_model(tmp_path / "m.cnnkit")
    assert loaded.optimizer.iterations == 4
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        assert torch.equal(a, b)
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)  # training continues where it was
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mixed_bfloat16_policy_trains_and_predicts_float32():
    x, y = data(64)
    set_random_seed(0)
    model = tutorial(cnnkit)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], dtype_policy="mixed_bfloat16")
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert model.layers[0].kernel.dtype == torch.float32  # variables stay float32
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x, verbose=0).dtype == np.float32
    cnnkit.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model.compile(optimizer="adam", loss="binary_crossentropy")
        assert model._trainer.policy.name == "mixed_bfloat16"
    finally:
        cnnkit.mixed_precision.set_global_policy("float32")


def test_verbose_auto_prints_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = data(16)
    _, model = twin()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, batch_size=8, epochs=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "2/2", "Epoch 2/2", "2/2"]


def test_malloc_thresholds_are_raised_on_glibc():
    import platform

    from cnnkit.common.malloc import tune_malloc

    assert tune_malloc() is (platform.libc_ver()[0] == "glibc")


@pytest.mark.slow
def test_jit_compile_trains_like_eager():
    x, y = data(32, size=8)

    def run(jit):
        set_random_seed(0)
        model = models.Sequential([layers.Input((8, 8, 3)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=jit)
        return model, model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history

    (eager, h_eager), (compiled, h_compiled) = run(False), run(True)
    assert compiled._trainer._step_fn is not None
    # Inductor may fuse and reorder float32 ops: a few ulps on 2 steps.
    for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(h_compiled["loss"], h_eager["loss"], rtol=1e-5)


def test_saved_model_restores_metric_objects_and_optimizer_config(tmp_path):
    import cnnkit.metrics
    import cnnkit.optimizers

    model = models.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(
        optimizer=cnnkit.optimizers.Adam(0.01),
        loss="binary_crossentropy",
        metrics=["accuracy", cnnkit.metrics.AUC(name="auc")],
    )
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 4)), rng.integers(0, 2, (32, 1)).astype("float32")
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.cnnkit")
    loaded = models.load_model(tmp_path / "m.cnnkit")
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)
