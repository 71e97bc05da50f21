"""LayerScale and StochasticDepth (Keras' ConvNeXt layers): the layer contract, Keras 3's numbers with copied
weights, Keras' stochastic depth rule, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit.layers import LayerScale, StochasticDepth
from cnnkit.layers.registry import get_layer_class
from support.layer_harness import run_layer_test, save_load_roundtrip


@pytest.mark.parametrize(
    ("cls", "kwargs", "shape"),
    [
        (LayerScale, {"init_values": 0.1, "projection_dim": 3}, (2, 4, 4, 3)),
        (StochasticDepth, {"drop_path_rate": 0.5}, (4, 3, 3, 2)),
    ],  # fmt: skip
)
def test_layer_contract(cls, kwargs, shape, tmp_path):
    layer, model, call_input, inference = run_layer_test(cls, kwargs, shape, shape)
    save_load_roundtrip(model, call_input, inference, tmp_path / "model.cnnkit")
    assert get_layer_class(cls.__name__) is cls


def test_layer_scale_matches_keras():
    keras = pytest.importorskip("keras")
    from keras.src.applications.convnext import LayerScale as KerasLayerScale

    x = np.random.default_rng(0).normal(size=(2, 3, 3, 5)).astype("float32")
    reference = KerasLayerScale(1e-6, 5)
    expected = keras.ops.convert_to_numpy(reference(x))  # builds with Keras' initial value
    layer = LayerScale(1e-6, 5)
    np.testing.assert_array_equal(layer(torch.from_numpy(x)).detach().numpy(), expected)
    gamma = np.random.default_rng(1).uniform(0.5, 1.5, 5).astype("float32")
    reference.set_weights([gamma])
    layer.set_weights(reference.get_weights())
    np.testing.assert_array_equal(layer(torch.from_numpy(x)).detach().numpy(), keras.ops.convert_to_numpy(reference(x)))
    assert {k: v for k, v in reference.get_config().items() if k in ("init_values", "projection_dim")} == {
        k: v for k, v in layer.get_config().items() if k in ("init_values", "projection_dim")
    }


def test_stochastic_depth_drops_whole_samples_at_the_rate():
    layer = StochasticDepth(0.25)
    x = torch.rand(4000, 2, 2, 3) + 0.5
    torch.testing.assert_close(layer(x), x)  # inference: the identity
    out = layer(x, training=True)
    dropped = (out == 0).flatten(1).all(1)
    kept = ~dropped
    torch.testing.assert_close(out[kept], x[kept] / 0.75)  # Keras: x / keep * floor(keep + U[0, 1))
    assert (dropped | (out != 0).flatten(1).all(1)).all()  # per sample: all or nothing
    # 1000 expected drops, standard deviation sqrt(4000 * 0.25 * 0.75) ~ 27: five of them is a safe bound
    assert abs(int(dropped.sum()) - 1000) < 5 * 27


def test_errors():
    with pytest.raises(ValueError, match=r"Expected projection_dim >= 1. Received: projection_dim=0"):
        LayerScale(1e-6, 0)
    with pytest.raises(ValueError, match=r"Expected an input whose last axis is 4. Received: input_shape=\(None, 3\)"):
        LayerScale(1e-6, 4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"Expected 0 <= drop_path_rate < 1. Received: drop_path_rate=1.0"):
        StochasticDepth(1.0)
