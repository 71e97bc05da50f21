"""Precision policies and the float16 loss scaler (the scaler's logic is device-independent, tested on CPU)."""

import numpy as np
import pytest
import torch

from cnnkit import layers, models
from cnnkit.mixed_precision import LossScaler, Policy, global_policy, set_global_policy
from cnnkit.utils import set_random_seed


def test_policies():
    assert Policy("mixed_bfloat16").compute_dtype == "bfloat16" and Policy("float32").compute_dtype == "float32"
    assert Policy("mixed_float16").variable_dtype == "float32"
    set_global_policy("mixed_bfloat16")
    try:
        assert global_policy() == Policy("mixed_bfloat16")
    finally:
        set_global_policy("float32")
    with pytest.raises(ValueError, match="Unknown dtype policy"):
        Policy("float8")


def _train(scaler):
    set_random_seed(0)
    model = models.Sequential([layers.Input((6,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 6), dtype=np.float32), rng.random((32, 1), dtype=np.float32)
    model.fit(x[:8], y[:8], verbose=0, shuffle=False)  # builds; then swap in the scaler
    model._trainer._scaler = scaler
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    return model


def test_power_of_two_loss_scaling_leaves_training_bit_identical():
    plain, scaled = _train(None), _train(LossScaler(2.0**10))
    for a, b in zip(plain.get_weights(), scaled.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # scaling by 2**k and back is exact in floating point


def test_non_finite_gradients_skip_the_step_and_halve_the_scale():
    scaler = LossScaler(8.0, growth_interval=2)
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.tensor([8.0, float("inf"), 0.0])
    assert not scaler.unscale_and_check([p]) and scaler.scale == 4.0
    p.grad = torch.tensor([4.0, 8.0, 0.0])
    assert scaler.unscale_and_check([p]) and torch.equal(p.grad, torch.tensor([1.0, 2.0, 0.0]))
    p.grad = torch.tensor([4.0, 8.0, 0.0])
    assert scaler.unscale_and_check([p]) and scaler.scale == 8.0  # two good steps: the scale grows back
