"""Learning-rate schedules against keras.optimizers.schedules, and OneCycle against fastai's formula."""

import json
import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from cnnkit.optimizers import schedules as cs

keras = pytest.importorskip("keras")

# Tolerance: both evaluate in float32 with the same op order; only cos/pow may round differently (1 ulp),
# so 1e-6 relative is ample.
RTOL = 1e-6
STEPS = list(range(0, 130)) + [499, 500, 501, 10_000]

CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [10, 50, 100], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 100}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 100, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 80, "warmup_target": 0.2, "warmup_steps": 20}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_keras(name, kwargs):
    theirs, ours = getattr(keras.optimizers.schedules, name)(**kwargs), getattr(cs, name)(**kwargs)
    expected = np.array([float(theirs(step)) for step in STEPS])
    got = np.array([ours(step) for step in STEPS])
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_config_round_trip(name, kwargs):
    schedule = getattr(cs, name)(**kwargs)
    config = json.loads(json.dumps(cs.serialize(schedule)))
    again = cs.deserialize(config)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    # Keras' own serialized form loads too.
    keras_config = keras.optimizers.schedules.serialize(getattr(keras.optimizers.schedules, name)(**kwargs))
    assert cs.deserialize(keras_config).get_config() == schedule.get_config()


def _fastai_one_cycle(pos, lr_max, pct, div, div_final):
    # fastai callback/schedule.py: combined_cos(pct, lr_max/div, lr_max, lr_max/div_final) evaluated at pos,
    # with sched_cos(start, end, p) = start + (1 + cos(pi * (1 - p))) * (end - start) / 2.
    def sched_cos(start, end, p):
        return start + (1 + math.cos(math.pi * (1 - p))) * (end - start) / 2

    if pos < pct:
        return sched_cos(lr_max / div, lr_max, pos / pct)
    return sched_cos(lr_max, lr_max / div_final, (pos - pct) / (1 - pct))


@pytest.mark.parametrize(("pct", "div", "div_final"), [(0.25, 25.0, 1e5), (0.3, 10.0, 1e4)])
def test_one_cycle_follows_fastai(pct, div, div_final):
    total = 200
    schedule = cs.OneCycle(0.01, total, pct_start=pct, div_factor=div, final_div_factor=div_final)
    for step in range(total + 1):
        assert schedule(step) == pytest.approx(_fastai_one_cycle(step / total, 0.01, pct, div, div_final), rel=1e-12)
    assert schedule(0) == pytest.approx(0.01 / div)
    assert schedule(int(total * pct)) == pytest.approx(0.01)
    assert schedule(total) == pytest.approx(0.01 / div_final)
    assert schedule(total + 50) == schedule(total)  # past the end it stays at the final rate
    warm = [schedule(s) for s in range(int(total * pct) + 1)]
    assert all(a < b for a, b in zip(warm, warm[1:], strict=False))


def test_errors():
    with pytest.raises(ValueError) as err:
        cs.PiecewiseConstantDecay([10, 20], [1.0, 0.5])
    assert str(err.value) == (
        "The length of boundaries should be 1 less than the length of values. Expected len(values) == "
        "len(boundaries) + 1. Received: boundaries=[10, 20] of length 2, and values=[1.0, 0.5] of length 2. "
        "Give one more value than boundaries."
    )
    with pytest.raises(ValueError) as err:
        cs.ExponentialDecay(0.1, 0, 0.5)
    assert str(err.value) == (
        "Argument `decay_steps` must be > 0. Expected a positive number of steps. Received: decay_steps=0. "
        "Pass a positive number."
    )
    with pytest.raises(ValueError, match=r"^Argument `pct_start` is out of range\."):
        cs.OneCycle(0.1, 100, pct_start=1.5)
    with pytest.raises(ValueError, match=r"^Unknown learning rate schedule: 'Nope'\."):
        cs.deserialize({"class_name": "Nope", "config": {}})
