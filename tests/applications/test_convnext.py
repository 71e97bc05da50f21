"""ConvNeXt beyond the registered variants: Keras' generic builder (stochastic depth schedule, LayerScale off),
Keras' argument rules, ``model_name``, and a saved model that rebuilds its nested models and ConvNeXt layers."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit.applications import convnext
from cnnkit.applications.convnext import ConvNeXt, ConvNeXtTiny

SMALL = {"depths": [1, 2, 1, 1], "projection_dims": [8, 16, 32, 64], "input_shape": (32, 32, 3), "classes": 5}


def _keras_convnext():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src.applications.convnext import ConvNeXt as KerasConvNeXt

    return KerasConvNeXt


@pytest.mark.parametrize(("drop_path_rate", "layer_scale_init_value"), [(0.3, 1e-6), (0.0, None)])
def test_generic_builder_equals_keras(drop_path_rate, layer_scale_init_value):
    reference = _keras_convnext()(
        drop_path_rate=drop_path_rate, layer_scale_init_value=layer_scale_init_value, weights=None, **SMALL
    )
    model = ConvNeXt(drop_path_rate=drop_path_rate, layer_scale_init_value=layer_scale_init_value, **SMALL)
    ours = [layer.name for layer in model.layers if not isinstance(layer, cnnkit.layers.Add)]
    theirs = [layer.name for layer in reference.layers]
    assert len(ours) == len(theirs) and ours[1:] == theirs[1:]  # the input layer's name carries a session counter
    assert model.count_params() == reference.count_params()

    def rates(layers):
        return [round(float(layer.drop_path_rate), 6) for layer in layers if hasattr(layer, "drop_path_rate")]

    assert rates(model.layers) == rates(reference.layers)  # Keras' linear schedule over the five blocks
    assert (len(rates(model.layers)) == 4) == (drop_path_rate > 0)  # the first block's rate is 0: identity
    assert any("layer_scale" in n for n in ours) == (layer_scale_init_value is not None)


def test_saved_model_rebuilds_nested_models_and_convnext_layers(tmp_path):
    torch.manual_seed(0)
    model = ConvNeXt(drop_path_rate=0.2, name="convnext_mini", **SMALL)
    for layer in model.layers:
        if isinstance(layer, cnnkit.layers.LayerScale):
            layer.gamma.data.uniform_(0.5, 1.5)  # away from 1e-6, so the blocks count
    x = torch.rand(2, 32, 32, 3) * 255
    expected = model(x)
    model.save(tmp_path / "m.cnnkit")
    loaded = cnnkit.models.load_model(tmp_path / "m.cnnkit")
    torch.testing.assert_close(loaded(x), expected, rtol=0, atol=0)
    assert isinstance(loaded.get_layer("convnext_mini_stem"), cnnkit.models.Sequential)
    assert loaded.get_layer("convnext_mini_stage_3_block_0_stochastic_depth").drop_path_rate == 0.2


def test_model_name_and_include_preprocessing():
    model = ConvNeXtTiny(include_top=False, input_shape=(32, 32, 3), model_name="backbone")
    assert model.name == "backbone" and model.layers[1].name == "backbone_prestem_normalization"
    plain = ConvNeXtTiny(include_top=False, include_preprocessing=False, input_shape=(32, 32, 3))
    assert plain.layers[1].name == "convnext_tiny_stem"
    assert convnext.preprocess_input(np.ones(3)) is not None and (convnext.preprocess_input(np.ones(3)) == 1).all()


def test_keras_argument_rules():
    with pytest.raises(ValueError, match=r"Expected a name containing 'convnext_tiny' with weights='imagenet'"):
        ConvNeXtTiny(weights="imagenet", name="mine")
    with pytest.raises(ValueError, match=r"The architecture does not match the convnext_small weights"):
        ConvNeXt([3, 3, 9, 3], [96, 192, 384, 768], weights="imagenet", weights_name="convnext_small")
    with pytest.raises(ValueError, match=r"ConvNeXt has four stages. Expected four depths"):
        ConvNeXt([3, 3, 9], [96, 192, 384])
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        ConvNeXtTiny(weights="imagenet", input_shape=(32, 32, 3))
