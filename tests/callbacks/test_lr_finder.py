"""The learning-rate range test: fastai's sweep, smoothing and stop rule, and an exact restore afterwards."""

import math

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import callbacks, layers, optimizers
from cnnkit.callbacks.lr_finder import suggest_valley


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int64")
    return x, y


def _model(optimizer):
    cnnkit.utils.set_random_seed(0)
    model = cnnkit.models.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(4, 3, padding="same"),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", device="cpu")
    return model


def _snapshot(model):
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    opt = model.optimizer.state_dict()
    return weights, opt, model.trainer.global_step, model.trainer.position


def _assert_same(model, snap):
    weights, opt, step, position = snap
    now = model.state_dict()
    assert list(now) == list(weights)
    for k, v in weights.items():
        assert torch.equal(now[k], v), k  # bit for bit: BN running statistics included
    after = model.optimizer.state_dict()
    assert sorted(after) == sorted(opt)
    for k, v in opt.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(after[k], v), k
        else:
            assert after[k] == v, k
    assert (model.trainer.global_step, model.trainer.position) == (step, position)


def test_restores_weights_and_optimizer_state_exactly():
    x, y = _data()
    model = _model(optimizers.Adam(1e-3))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # non-zero Adam slots, iterations 8
    snap = _snapshot(model)
    assert model.optimizer.iterations == 8
    result = model.lr_find(x, y, batch_size=32, num_iter=20, end_lr=1.0)
    assert len(result.lrs) == 20  # 8 batches an epoch: the sweep ran over three epochs
    _assert_same(model, snap)
    assert float(model.optimizer.learning_rate) == 1e-3
    # Training after the test is training as if it never happened: the same step from the same state.
    twin = _model(optimizers.Adam(1e-3))
    twin.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    twin.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.state_dict().values(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_restores_a_schedule_driven_rate():
    x, y = _data(64)
    schedule = optimizers.schedules.OneCycle(0.1, total_steps=100)
    model = _model(optimizers.SGD(schedule, momentum=0.9))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    snap = _snapshot(model)
    model.lr_find(x, y, batch_size=16, num_iter=10)
    _assert_same(model, snap)
    assert model.optimizer._learning_rate is schedule
    assert model.optimizer.learning_rate == schedule(4)


def test_sweep_is_fastai_exponential_schedule_with_debiased_smoothing():
    x, y = _data()
    model = _model(optimizers.SGD(0.01))
    result = model.lr_find(x, y, batch_size=32, start_lr=1e-5, end_lr=1e-1, num_iter=30, stop_div=False)
    assert len(result.lrs) == 30 and not result.diverged
    # fastai's SchedExp at pos = i / num_iter, so the last rate is just below end_lr.
    np.testing.assert_allclose(result.lrs, [1e-5 * (1e4) ** (i / 30) for i in range(30)], rtol=1e-12)
    avg, expected = 0.0, []
    for i, loss in enumerate(result.raw_losses, start=1):  # fastai's AvgSmoothLoss: lerp, then debias
        avg = 0.98 * avg + 0.02 * loss
        expected.append(avg / (1 - 0.98**i))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-12)


def test_raw_losses_are_each_batch_loss():
    # With a negligible rate the weights do not move, so each recorded loss is that batch's cross-entropy under the
    # initial weights in training mode (BN on batch statistics), computed here with torch.nn.
    x, y = _data(64)
    model = _model(optimizers.SGD(0.01))
    finder = callbacks.LRFinder(start_lr=1e-30, end_lr=1e-29, num_iter=2, stop_div=False)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, callbacks=[finder], verbose=0)
    assert len(finder.result.raw_losses) == 2
    model.train()
    with torch.no_grad():
        for i, raw in zip((0, 32), finder.result.raw_losses, strict=True):
            probs = model(torch.from_numpy(x[i : i + 32]), training=True)
            ref = torch.nn.functional.nll_loss(torch.log(probs), torch.from_numpy(y[i : i + 32]))
            assert raw == pytest.approx(float(ref), rel=1e-5)


def test_stops_on_divergence():
    x, y = _data()
    model = _model(optimizers.SGD(0.01))
    result = model.lr_find(x, y, batch_size=32, start_lr=1e-4, end_lr=1e6, num_iter=60)
    assert result.diverged
    assert len(result.lrs) < 60
    last = result.losses[-1]
    assert not math.isfinite(last) or last > 4 * min(result.losses[:-1])
    # Without stop_div the sweep runs to the end, whatever the loss does.
    model = _model(optimizers.SGD(0.01))
    result = model.lr_find(x, y, batch_size=32, start_lr=1e-4, end_lr=1e6, num_iter=20, stop_div=False)
    assert len(result.lrs) == 20 and not result.diverged


def test_suggests_a_rate_within_the_sweep_before_the_blow_up():
    x, y = _data()
    model = _model(optimizers.SGD(0.01))
    result = model.lr_find(x, y, batch_size=32, start_lr=1e-5, end_lr=1e3, num_iter=60)
    assert 1e-5 <= result.suggestion <= 1e3
    assert result.suggestion in result.lrs
    assert result.suggestion == result.suggestions["valley"]
    assert set(result.suggestions) == {"valley", "minimum", "steep"}
    best = result.lrs[int(np.argmin(result.losses))]
    assert result.suggestion < best  # on the way down, not at or past the minimum


def test_valley_matches_fastai():
    # fastai's valley on a curve that falls from index 0 to 7, then rises: the longest fall is 8 long,
    # so the pick is start + int(8/3) + int(8/6) with start = 7 - 8 = -1.
    losses = [3, 2.9, 2.7, 2.3, 1.8, 1.4, 1.2, 1.1, 1.3, 2, 5]
    assert suggest_valley(list(range(11)), losses) == -1 + 2 + 1


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"^Argument `end_lr` must be greater than `start_lr`. Expected an increasing "
        r"sweep. Received: start_lr=1.0, end_lr=0.1. Swap them or widen the range.$",
    ):
        callbacks.LRFinder(start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match=r"^Argument `num_iter` must be an integer of at least 2"):
        callbacks.LRFinder(num_iter=1)
    model = cnnkit.models.Sequential([layers.Input((4,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=r"^The model must be compiled before calling lr_find\(\)\."):
        model.lr_find(np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32"))
