"""set_random_seed makes Python, NumPy and torch draws repeat."""

import random

import numpy as np
import pytest
import torch

from cnnkit.utils import set_random_seed


def _draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.nn.Linear(4, 2).weight.tolist()


def test_reproducible():
    set_random_seed(1337)
    first = _draws()
    set_random_seed(1337)
    assert _draws() == first
    set_random_seed(7)
    assert _draws() != first


def test_errors():
    with pytest.raises(TypeError) as err:
        set_random_seed(1.5)
    assert str(err.value) == (
        "Argument `seed` must be an integer. Expected a Python int such as 1337. Received: seed=1.5 of type "
        "float. Pass an int."
    )
    with pytest.raises(ValueError, match=r"^Argument `seed` is out of range\. Expected an integer in \[0, 2\*\*32\)"):
        set_random_seed(-1)
