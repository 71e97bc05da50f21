"""Parity of the mobile and modern families (Xception, MobileNet V1-V3, EfficientNet V1/V2, ConvNeXt) with their
references: Keras 3's own ``keras.applications`` model (random weights, perturbed BatchNorm statistics and
normalisation constants) saved in both Keras file formats and loaded by name, and torchvision's definitions (random
weights, perturbed BatchNorm statistics) converted by the family's ``from_torchvision``.

Tolerance: the same float32 arithmetic in another order (oneDNN channels-last kernels vs Keras' or torch's NCHW
ones, depthwise convs done as grouped convs); measured differences are ~1e-6 of the largest logit, so 1e-4 of it
still catches any wrong layout, name, padding or epsilon (each changes the logits by O(1)). Inputs are odd-sized
where torchvision is compared: its stride-2 convs pad symmetrically, Keras' the TensorFlow way, which coincide on
odd sides only (see ``_mobile.correct_pad``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import cnnkit.applications as applications
from cnnkit.applications.convert import assign_weights
from support.keras_apps import keras_application
from support.tv_shim import import_torchvision

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
tv = import_torchvision()


def _leaf_layers(model) -> list:
    """The layers of `model`, with nested models (ConvNeXt's stem and downsampling blocks) opened up."""
    out = []
    for layer in model.layers:
        out.extend(_leaf_layers(layer) if hasattr(layer, "layers") else [layer])
    return out


def _randomize_keras(model, rng) -> None:
    """Non-trivial statistics and affine terms everywhere Keras' initial values would hide a mapping mistake."""

    def uniform(var, low, high):
        var.assign(rng.uniform(low, high, tuple(var.shape)).astype("float32"))

    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            for var, (low, high) in zip(layer.weights, ((0.5, 1.5), (-0.5, 0.5), (-0.5, 0.5), (0.5, 2.0))):
                uniform(var, low, high)  # gamma, beta, moving mean, moving variance (scale=False: no gamma)
        elif isinstance(layer, keras.layers.LayerNormalization):
            uniform(layer.gamma, 0.5, 1.5)
            uniform(layer.beta, -0.5, 0.5)
        elif isinstance(layer, keras.layers.Normalization) and layer.weights and layer.input_mean is None:
            uniform(layer.adapt_mean, -0.5, 0.5)  # the variables behind Keras' mean/variance properties
            uniform(layer.adapt_variance, 0.5, 2.0)
            layer.finalize_state()
        elif type(layer).__name__ == "LayerScale":  # Keras starts it at 1e-6, which would hide the blocks
            uniform(layer.gamma, 0.5, 1.5)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)) and (
            layer.use_bias
        ):
            uniform(layer.bias, -0.5, 0.5)


def _keras_files(model, folder):
    """The Keras 3 ``.weights.h5``, the legacy whole-model ``.h5`` and the layout of Keras' downloadable files."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    paths = {"keras3": folder / "m.weights.h5", "legacy_model": folder / "m.h5", "legacy_weights": folder / "w.h5"}
    model.save_weights(paths["keras3"])
    model.save(paths["legacy_model"])
    with h5py.File(paths["legacy_weights"], "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return paths


def check_keras_parity(tmp_path, name: str, size: int, **kwargs) -> None:
    rng = np.random.default_rng(0)
    kwargs = {"input_shape": (size, size, 3), "classifier_activation": None, **kwargs}
    reference = keras_application(name)(weights=None, **kwargs)
    _randomize_keras(reference, rng)
    x = rng.uniform(0, 255, (2, *kwargs["input_shape"])).astype("float32")
    expected = np.asarray(keras.ops.convert_to_numpy(reference(x, training=False)))
    scale = max(float(np.abs(expected).max()), 1.0)
    for kind, path in _keras_files(reference, tmp_path).items():
        model = applications.get_model(name, weights=str(path), **kwargs)
        with torch.no_grad():
            got = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * scale, err_msg=kind)


def randomize_batchnorm(model: torch.nn.Module) -> None:
    """BatchNorm statistics and affine terms, LayerNorm affine terms (ConvNeXt's LayerNorm2d is a LayerNorm),
    ConvNeXt's layer scales (1e-6 at init, which would hide every block) and biases (zeros at init)."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
        elif isinstance(module, torch.nn.LayerNorm):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
        elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and module.bias is not None:
            module.bias.data.uniform_(-0.5, 0.5)
        if isinstance(getattr(module, "layer_scale", None), torch.nn.Parameter):
            module.layer_scale.data.uniform_(0.5, 1.5)


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def check_torchvision_parity(tv_name: str, name: str, size: int, **kwargs) -> None:
    torch.manual_seed(0)
    reference = getattr(tv.models, tv_name)().eval()
    randomize_batchnorm(reference)
    if name.startswith(("MobileNetV3", "EfficientNetV2")):  # torchvision's take normalised input: no rescaling
        kwargs = {"include_preprocessing": False, **kwargs}
    model = applications.get_model(name, input_shape=(size, size, 3), classifier_activation=None, **kwargs)
    family = getattr(applications, applications.get_model_entry(name).family)
    convert = getattr(family, "FROM_TORCHVISION", {}).get(name, family.from_torchvision)
    assign_weights(model, convert(reference.state_dict()), "torchvision")
    pixels = torch.rand(2, 3, size, size) * 255
    x = (pixels / 255 - IMAGENET_MEAN) / IMAGENET_STD  # torchvision's preprocessing
    # EfficientNet (V1) and ConvNeXt normalise inside the model (Keras' layers: EfficientNet's statistics are written
    # by the converter, ConvNeXt's prestem constants are torchvision's preprocessing in 0..255 units).
    ours = pixels if name.startswith(("EfficientNetB", "ConvNeXt")) else x
    with torch.no_grad():
        expected = reference(x)
        got = model(ours.permute(0, 2, 3, 1).contiguous())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4 * max(expected.abs().max().item(), 1.0))


SLOW = pytest.mark.slow  # Keras 3 builds ~50 layers/s on torch: the deep models' reference takes ~20-100 s
KERAS_CASES = [  # keras.applications name, input size, extra builder arguments
    pytest.param("Xception", 71, {}, marks=SLOW),
    ("MobileNet", 32, {"alpha": 0.25, "depth_multiplier": 2}),
    pytest.param("MobileNetV2", 33, {}, marks=SLOW),
    pytest.param("MobileNetV2", 32, {"alpha": 0.35}, marks=SLOW),
    ("MobileNetV3Small", 32, {}),
    pytest.param("MobileNetV3Small", 32, {"minimalistic": True, "alpha": 0.75}, marks=SLOW),
    pytest.param("MobileNetV3Large", 33, {"include_preprocessing": False}, marks=SLOW),
    pytest.param("EfficientNetB0", 33, {}, marks=SLOW),
    pytest.param("ConvNeXtTiny", 32, {}, marks=SLOW),  # nested stem/downsampling models, LayerScale
    pytest.param("ConvNeXtTiny", 32, {"include_top": False, "pooling": "avg"}, marks=SLOW),  # auto-named last norm
    # Even: every stride-2 'same' conv pads TensorFlow's way (one more row/column at the bottom/right).
    pytest.param("EfficientNetV2B0", 32, {}, marks=SLOW),
    # Not EfficientNetV2S: with random weights its 40 blocks amplify float32 rounding chaotically (compared layer by
    # layer, the relative difference grows smoothly from 1e-7 at stem_conv to 4e-2 at block6o_add, with no step at
    # any layer), so no tolerance separates a mapping mistake from rounding. Its names, order and counts are checked
    # against Keras in test_zoo_models.py and its numerics against torchvision below. Its preprocessing,
    # Rescaling(1/128, offset=-1), is what Keras' B0 builds for an input without three channels:
    pytest.param(
        "EfficientNetV2B0", 33, {"input_shape": (33, 33, 1), "include_top": False, "pooling": "avg"}, marks=SLOW
    ),  # fmt: skip
    pytest.param("NASNetMobile", 67, {}, marks=SLOW),  # Keras' nasnet.NASNet with NASNetMobile's arguments
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "size", "kwargs"), KERAS_CASES, ids=lambda v: str(v) if v != {} else "")
def test_keras_files_load_by_name(tmp_path, name, size, kwargs):
    check_keras_parity(tmp_path, name, size, **kwargs)


TORCHVISION_CASES = [  # torchvision builder, cnnkit name, (odd) input size
    ("mobilenet_v2", "MobileNetV2", 33),
    ("mobilenet_v3_small", "MobileNetV3Small", 33),
    pytest.param("mobilenet_v3_large", "MobileNetV3Large", 33, marks=SLOW),
    pytest.param("efficientnet_b0", "EfficientNetB0", 33, marks=SLOW),
    pytest.param("efficientnet_b5", "EfficientNetB5", 33, marks=SLOW),  # torchvision's epsilon 1e-3
    pytest.param("convnext_tiny", "ConvNeXtTiny", 32, marks=SLOW),  # no padding: any size
    # 33 -> 17 -> 9 -> 5 -> 3: every stride-2 conv sees an odd side, where torchvision's symmetric padding and
    # Keras' 'same' agree.
    pytest.param("efficientnet_v2_s", "EfficientNetV2S", 33, marks=SLOW),
    pytest.param("efficientnet_v2_l", "EfficientNetV2L", 33, marks=SLOW),  # seven stages, as M
]


@pytest.mark.parametrize(("tv_name", "name", "size"), TORCHVISION_CASES)
def test_torchvision_state_dict_converts(tv_name, name, size):
    check_torchvision_parity(tv_name, name, size)


@SLOW
def test_torchvision_convnext_file_without_the_top(tmp_path):
    """A torchvision ``.pth`` loaded by path into ``include_top=False``: the classifier's LayerNorm2d becomes Keras'
    auto-named final LayerNormalization and its Linear is left out, so the features equal torchvision's pooled and
    normalised ones."""
    torch.manual_seed(0)
    reference = tv.models.convnext_tiny().eval()
    randomize_batchnorm(reference)
    torch.save(reference.state_dict(), tmp_path / "convnext_tiny.pth")
    model = applications.ConvNeXtTiny(include_top=False, pooling="avg", input_shape=(32, 32, 3),
                                      weights=str(tmp_path / "convnext_tiny.pth"))  # fmt: skip
    pixels = torch.rand(2, 3, 32, 32) * 255
    with torch.no_grad():
        x = (pixels / 255 - IMAGENET_MEAN) / IMAGENET_STD
        expected = reference.classifier[0](reference.avgpool(reference.features(x))).flatten(1)
        got = model(pixels.permute(0, 2, 3, 1).contiguous())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4 * expected.abs().max().item())
