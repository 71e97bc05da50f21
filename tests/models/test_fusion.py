"""The inference fast path (models/fusion.py): Conv + BatchNormalization (+ activation / residual Add) folded.

The reference is the same model run layer by layer (gradients on, which the fast path never takes); the layers one
by one are what the Keras conformance tests check. Tolerance: the fold reorders float32 arithmetic (the kernel is
scaled before the sums instead of the sums after), so outputs agree to ~1e-6 of their scale; 1e-5 leaves room.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit.applications as applications
from cnnkit import layers as L
from cnnkit.models import Model, fusion


def _perturb_batchnorms(model: Model, seed: int = 0, spread: float = 1.0) -> None:
    """Non-trivial BatchNorm statistics and affine weights, so that a wrong fold cannot pass."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            if type(layer) is L.BatchNormalization:
                n = layer.moving_mean.shape[0]
                layer.moving_mean.copy_(torch.randn(n, generator=g) * 0.5 * spread)
                layer.moving_variance.copy_(1 + (torch.rand(n, generator=g) * 2 - 1) * 0.9 * spread)
                if layer.scale:
                    layer.gamma.copy_(1 + (torch.rand(n, generator=g) - 0.5) * spread)
                if layer.center:
                    layer.beta.copy_(torch.randn(n, generator=g) * 0.5 * spread)


def _blocks_model() -> Model:
    """Every chain the fast path folds, and some it must not."""
    inputs = L.Input((15, 16, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)  # asymmetric 'same'
    x = L.ReLU(6.0, name="stem_relu")(L.BatchNormalization(name="stem_bn")(x))
    y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)  # with bias, dm 2
    y = L.Activation("hard_swish", name="dw_act")(L.BatchNormalization(epsilon=1e-5, name="dw_bn")(y))
    y = L.Conv2D(8, 1, name="project")(y)
    y = L.BatchNormalization(center=False, scale=False, name="project_bn")(y)
    y = L.Dropout(0.5, name="drop")(y)
    x = L.Add(name="add")([x, y])  # conv -> BN -> Dropout -> Add
    z = L.Conv2D(8, 3, padding="same", name="res")(x)
    z = L.BatchNormalization(name="res_bn")(z)
    z = L.Activation("relu", name="res_out")(L.Add(name="add2")([z, x]))  # conv -> BN -> Add -> relu
    s = L.Conv2D(8, 1, name="swish_conv")(z)
    s = L.Activation("swish", name="swish")(L.BatchNormalization(name="swish_bn")(s))
    t = L.Conv2D(4, 1, name="kept")(s)  # its BN's input is also a model output: must not fold
    u = L.BatchNormalization(name="kept_bn")(t)
    outputs = L.GlobalAveragePooling2D()(L.Conv2D(4, 1, activation="relu", name="head")(u))
    return Model(inputs, [outputs, t])


def _compare(model: Model, x: np.ndarray) -> None:
    with torch.inference_mode():
        fast = model(torch.from_numpy(x), training=False)
    slow = model(torch.from_numpy(x), training=False)  # gradients on: layer by layer
    for f, s in zip(fast if isinstance(fast, list) else [fast], slow if isinstance(slow, list) else [slow]):
        s = s.detach()
        torch.testing.assert_close(f, s, rtol=1e-5, atol=1e-5 * s.abs().max().item())


@pytest.fixture
def fast_path_spy(monkeypatch):
    """Counts FoldedConv steps that ran folded (not falling back to the layers)."""
    ran = []
    call = fusion.FoldedConv.__call__

    def spy(self, values):
        out = call(self, values)
        ran.append(out is not None)
        return out

    monkeypatch.setattr(fusion.FoldedConv, "__call__", spy)
    return ran


def test_plan_folds_each_chain_and_keeps_the_rest():
    model = _blocks_model()
    steps = model._inference_steps()
    folded = [[n.layer.name for n in s.nodes] for s in steps if type(s) is fusion.FoldedConv]
    assert folded == [
        ["stem", "stem_bn", "stem_relu"],
        ["dw", "dw_bn", "dw_act"],
        ["project", "project_bn", "drop", "add"],
        ["res", "res_bn", "add2", "res_out"],
        ["swish_conv", "swish_bn", "swish"],
    ]
    names = [s.layer.name for s in steps if type(s) is not fusion.FoldedConv]
    assert "kept" in names and "kept_bn" in names and "head" in names


def test_folded_predict_equals_layer_by_layer(fast_path_spy):
    model = _blocks_model()
    _perturb_batchnorms(model)
    x = np.random.default_rng(0).normal(size=(5, 15, 16, 3)).astype("float32")
    _compare(model, x)
    assert fast_path_spy == [True] * 5
    fast_path_spy.clear()
    predicted = model.predict(x, verbose=0)
    assert fast_path_spy == [True] * 5  # predict takes the fast path
    reference = [t.detach().numpy() for t in model(torch.from_numpy(x))]
    for p, r in zip(predicted, reference):
        np.testing.assert_allclose(p, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


@pytest.mark.parametrize("change", ["set_weights", "assign", "load_weights", "in_place"])
def test_fold_follows_weight_changes(change, tmp_path):
    model = _blocks_model()
    x = np.random.default_rng(1).normal(size=(3, 15, 16, 3)).astype("float32")
    before = model.predict(x, verbose=0)  # folds and caches with the initial weights
    other = _blocks_model()
    _perturb_batchnorms(other, seed=3)
    bn, kernel = model.get_layer("dw_bn"), model.get_layer("res").kernel
    if change == "set_weights":
        model.set_weights(other.get_weights())
    elif change == "assign":
        bn.moving_variance.assign(np.full(bn.moving_variance.shape, 4.0, dtype="float32"))
        bn.gamma.assign(np.full(bn.gamma.shape, 3.0, dtype="float32"))
    elif change == "load_weights":
        other.save_weights(str(tmp_path / "w.weights.h5"))
        model.load_weights(str(tmp_path / "w.weights.h5"))
    else:
        with torch.no_grad():
            kernel.mul_(-2.0)
    after = model.predict(x, verbose=0)
    assert not np.allclose(before[0], after[0])
    _compare(model, x)


def test_fold_follows_fit():
    model = _blocks_model()
    model.compile(optimizer="sgd", loss=["mse", None])
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(16, 15, 16, 3)).astype("float32"), rng.normal(size=(16, 4)).astype("float32")
    before = model.predict(x, verbose=0)[0]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # weights and BatchNorm statistics move in place
    after = model.predict(x, verbose=0)[0]
    assert not np.allclose(before, after)
    _compare(model, x)


def test_hooked_layers_run_one_by_one(fast_path_spy):
    model = _blocks_model()
    _perturb_batchnorms(model)
    seen = []
    handle = model.get_layer("res").register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
    x = np.random.default_rng(0).normal(size=(2, 15, 16, 3)).astype("float32")
    with torch.inference_mode():
        model(x)
    handle.remove()
    assert len(seen) == 1 and seen[0].shape == (2, 8, 8, 8)  # the conv's own (pre-BatchNorm) output
    assert fast_path_spy == [True] * 4  # the other four chains stay folded


def test_training_and_gradients_take_the_layers(fast_path_spy):
    model = _blocks_model()
    _perturb_batchnorms(model)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(4, 15, 16, 3)).astype("float32"))
    with torch.no_grad():
        model(x, training=True)  # batch statistics: nothing may fold
    out = model(x, training=False)  # gradients on
    assert fast_path_spy == []
    out[0].sum().backward()
    assert model.get_layer("stem").kernel.grad is not None  # gradients reach the unfolded kernel
    assert model.get_layer("stem_bn").gamma.grad is not None


def test_mixed_bfloat16_predict_stays_close():
    from cnnkit import mixed_precision

    x = np.random.default_rng(0).normal(size=(2, 15, 16, 3)).astype("float32")
    model = _blocks_model()
    _perturb_batchnorms(model)
    reference = model.predict(x, verbose=0)[0]
    mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = model.predict(x, verbose=0)[0]
    finally:
        mixed_precision.set_global_policy("float32")
    # bfloat16 keeps 8 bits of mantissa: a few 1e-2 of the output's scale after several layers
    np.testing.assert_allclose(mixed, reference, atol=5e-2 * np.abs(reference).max())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MobileNetV2", "MobileNetV3Large", "EfficientNetB0", "ResNet50"])
def test_zoo_models_fold_exactly(name, monkeypatch):
    model = applications.get_model(name, weights=None, input_shape=(64, 64, 3), classifier_activation=None)
    # Milder statistics than above: 50 random BatchNorms in a row with variances near 0.1 grow the activations to
    # ~1e4 and the float32 rounding with them; each step is checked on its own inputs below at full strength.
    _perturb_batchnorms(model, spread=0.2)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    errors = []
    call = fusion.FoldedConv.__call__

    def check_step(self, values):  # each folded step against its own layers on the same inputs
        out = call(self, values)
        layer_by_layer = dict(values)
        for node in self.nodes:
            model._run_node(node, layer_by_layer, False)
        reference = layer_by_layer[self.output_id]
        errors.append(((out - reference).abs().max() / reference.abs().max()).item())
        return out

    monkeypatch.setattr(fusion.FoldedConv, "__call__", check_step)
    _compare(model, x)
    batchnorms = sum(type(layer) is L.BatchNormalization for layer in model.layers)
    assert len(errors) == batchnorms  # every BatchNorm of these models follows a conv and folds
    assert max(errors) < 1e-5
