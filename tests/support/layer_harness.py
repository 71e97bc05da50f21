"""The shared layer-test harness: one function runs the whole contract on a layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import cnnkit
from cnnkit.layers.registry import get_layer_class


def run_layer_test(
    layer_cls: type,
    init_kwargs: dict[str, Any],
    input_shape: tuple | list[tuple],
    expected_output_shape: tuple | list[tuple],
    *,
    training_values: bool = True,
    seed: int = 0,
) -> cnnkit.layers.Layer:
    """Build, forward, backward, config round trip and save/load round trip of one layer.

    ``input_shape`` includes the batch axis. Returns the built layer for further checks.
    """
    rng = np.random.default_rng(seed)
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    arrays = [rng.normal(size=s).astype("float32") for s in shapes]
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    call_input = inputs if isinstance(input_shape, list) else inputs[0]

    layer = layer_cls(**init_kwargs)
    assert not layer.built
    out = layer(call_input, training=training_values)
    assert layer.built
    out_shapes = [tuple(o.shape) for o in out] if isinstance(out, (list, tuple)) else tuple(out.shape)
    assert out_shapes == expected_output_shape, (out_shapes, expected_output_shape)

    # compute_output_shape agrees with what call produced (batch axis unknown).
    sym_shape = input_shape if not isinstance(input_shape, list) else [tuple(s) for s in input_shape]
    computed = layer.compute_output_shape(
        [(None, *s[1:]) for s in sym_shape] if isinstance(sym_shape, list) else (None, *sym_shape[1:])
    )
    expect_none = (
        [(None, *s[1:]) for s in expected_output_shape]
        if isinstance(expected_output_shape, list)
        else (None, *expected_output_shape[1:])
    )
    assert computed == expect_none, (computed, expect_none)

    # Backward: every trainable weight and the input get a finite gradient.
    outs = out if isinstance(out, (list, tuple)) else [out]
    sum(o.float().square().sum() for o in outs).backward()
    for w in layer.trainable_weights:
        assert w.grad is not None and torch.isfinite(w.grad).all(), f"no gradient for a weight of {layer.name}"
    for x in inputs:
        if x.grad is not None:
            assert torch.isfinite(x.grad).all()

    # Config round trip: the registry finds the class and rebuilds an equal config.
    config = layer.get_config()
    clone = get_layer_class(layer_cls.__name__).from_config(config)
    assert clone.get_config() == config

    # Weights round trip through get/set and through a saved model file.
    inference = layer(call_input, training=False)
    clone(call_input)  # build
    clone.set_weights(layer.get_weights())
    _assert_same(clone(call_input, training=False), inference)
    inputs_sym = [cnnkit.layers.Input(batch_shape=(None, *s[1:])) for s in shapes]
    model_out = layer(inputs_sym if isinstance(input_shape, list) else inputs_sym[0])
    model = cnnkit.models.Model(inputs_sym if isinstance(input_shape, list) else inputs_sym[0], model_out)
    return layer, model, call_input, inference


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, (list, tuple)):
        for x, y in zip(a, b):
            _assert_same(x, y)
        return
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def save_load_roundtrip(model: cnnkit.models.Model, call_input: Any, expected: Any, path) -> None:
    model.save(path)
    loaded = cnnkit.models.load_model(path)
    _assert_same(loaded(call_input), expected)
