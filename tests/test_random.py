"""cnnkit.random against keras.random (KERAS_BACKEND=torch, CPU): the same seeds draw the same numbers."""

import numpy as np
import pytest
import torch

from cnnkit import random

keras = pytest.importorskip("keras")

X = np.arange(24, dtype="float32").reshape(4, 6)
XT = torch.from_numpy(X)  # keras.random.dropout wants a tensor on the torch backend
DRAWS = {
    "normal": lambda r, s: r.normal((3, 4), mean=1.0, stddev=2.0, seed=s),
    "uniform": lambda r, s: r.uniform((5,), minval=-1.0, maxval=3.0, seed=s),
    "uniform_scalar": lambda r, s: r.uniform((), seed=s),
    "randint": lambda r, s: r.randint((6,), 0, 10, seed=s),
    "truncated_normal": lambda r, s: r.truncated_normal((4, 3), stddev=0.5, seed=s),
    "dropout": lambda r, s: r.dropout(XT, 0.5, seed=s),
    "dropout_noise_shape": lambda r, s: r.dropout(XT, 0.3, noise_shape=(1, 6), seed=s),
    "shuffle": lambda r, s: r.shuffle(X, seed=s),
    "shuffle_axis1": lambda r, s: r.shuffle(X, axis=1, seed=s),
    "categorical": lambda r, s: r.categorical(np.log([[0.2, 0.3, 0.5]]), 6, seed=s),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_integer_seed_draws_what_keras_draws(name):
    ours, ref = DRAWS[name](random, 42), DRAWS[name](keras.random, 42)
    assert isinstance(ours, torch.Tensor) and ours.dtype == ref.dtype and tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(ours.numpy(), keras.ops.convert_to_numpy(ref))
    # An integer seed is stateless: the same seed, the same draw.
    np.testing.assert_array_equal(DRAWS[name](random, 42).numpy(), ours.numpy())


def test_seed_generator_advances_like_keras():
    ours, ref = random.SeedGenerator(1337), keras.random.SeedGenerator(1337)
    first = [random.normal((3,), seed=ours).numpy() for _ in range(3)]
    expected = [keras.ops.convert_to_numpy(keras.random.normal((3,), seed=ref)) for _ in range(3)]
    for a, b in zip(first, expected):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])
    assert ours.get_config()["seed"] == ref.get_config()["seed"] == 1337
    # A fresh generator with the same seed replays the sequence.
    again = random.SeedGenerator(1337)
    np.testing.assert_array_equal(random.normal((3,), seed=again).numpy(), first[0])


def test_unseeded_draws_differ_and_bad_seeds_raise_like_keras():
    assert not torch.equal(random.normal((4,)), random.normal((4,)))
    for module in (random, keras.random):
        with pytest.raises(ValueError, match="Argument `seed` must be either an integer"):
            module.normal((2,), seed="x")
        with pytest.raises(ValueError, match="Argument `seed` must be an integer"):
            module.SeedGenerator(seed=1.5)


def test_dropout_scales_kept_values():
    out = random.dropout(np.ones((100, 100), "float32"), 0.25, seed=3)
    assert set(np.unique(out.numpy()).tolist()) <= {0.0, float(np.float32(1) / np.float32(0.75))}
    assert abs(float((out == 0).float().mean()) - 0.25) < 0.02
