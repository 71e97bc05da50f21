"""Weights alone: round trips, Keras files that do not fit, and the one match rule (by name; by position for a twin)."""

import numpy as np
import pytest
import torch

from cnnkit import layers as L
from cnnkit.models import Sequential
from cnnkit.saving.weights import match_weights
from cnnkit.training.trainer_state import load_model_state


def test_weights_round_trip_safetensors_and_keras_format(tmp_path, small_model):
    a, b = small_model(), small_model()
    for name in ("w.safetensors", "w.weights.h5"):
        a.save_weights(tmp_path / name)
        b.load_weights(tmp_path / name)
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(x, y)


def test_keras_weights_that_do_not_fit_say_what_differs(tmp_path):
    keras = pytest.importorskip("keras")
    reference = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    reference.save_weights(tmp_path / "k.weights.h5")
    ours = Sequential([L.Input((8,)), L.Dense(5), L.Dense(2)])
    with pytest.raises(ValueError) as e:
        ours.load_weights(tmp_path / "k.weights.h5")
    assert (
        "layer 'dense' (Dense) at 'layers/dense': the file has shapes [(8, 4), (4,)], the model expects "
        "[(8, 5), (5,)]" in str(e.value)
    )
    assert "layer 'dense_1' (Dense) at 'layers/dense_1': the file has shapes [(4, 2), (2,)]" in str(e.value)


def test_one_match_rule_by_name_then_by_position_for_a_twin():
    target = {"dense.kernel": torch.zeros(4, 2), "dense.bias": torch.zeros(2)}
    by_name = {"dense.bias": torch.ones(2), "dense.kernel": torch.ones(4, 2)}
    assert match_weights(target, by_name, order=list(by_name)) == by_name  # same names: order is not used
    twin = {"dense_3.kernel": torch.ones(4, 2), "dense_3.bias": torch.ones(2)}
    assert list(match_weights(target, twin, order=list(twin))) == ["dense.kernel", "dense.bias"]
    assert match_weights(target, twin, order=None) == twin  # no saved order: by name only
    swapped = ["dense_3.bias", "dense_3.kernel"]  # shapes do not line up in this order
    assert match_weights(target, twin, order=swapped) == twin
    assert match_weights(target, {"dense_3.kernel": torch.ones(4, 2)}, order=["dense_3.kernel"]).keys() == {
        "dense_3.kernel"
    }


def test_a_twin_model_loads_by_position_from_files_and_checkpoints(tmp_path):
    def twin():
        return Sequential([L.Input((4,)), L.Dense(3), L.Dense(1)])

    saved, other = twin(), twin()  # the second one's automatic names are dense_2 and dense_3
    assert [layer.name for layer in other.layers] == ["dense_2", "dense_3"]
    saved.save_weights(tmp_path / "w.safetensors")
    other.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(saved.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    resumed = twin()
    load_model_state(resumed, saved.state_dict())  # exact resume goes through the same rule
    for a, b in zip(saved.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"The weights do not fit the model.*Resume with the same model architecture"):
        load_model_state(Sequential([L.Input((4,)), L.Dense(2), L.Dense(1)]), saved.state_dict())
