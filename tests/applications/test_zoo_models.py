"""Every registered zoo model: parameter count against the published figure, forward and backward.

The published counts (registry ``num_params``) come from torchvision's weights tables (``meta["num_params"]``) for
AlexNet, VGG and ResNet18-152; LeCun et al. 1998 as commonly implemented for LeNet5; He et al. 2015 Table 6 for the
CIFAR ResNets (exact values derived in resnet_cifar.py). torchvision counts ``nn.Parameter`` elements, so BatchNorm
moving statistics (buffers) are not included; Keras' ``count_params`` adds them, which is checked separately.
"""

from __future__ import annotations

import pytest
import torch

import cnnkit.applications as applications
from cnnkit.layers import BatchNormalization

ALL = applications.list_models()
SLOW = {"ResNet101", "ResNet152", "ResNet110"}
# Smallest input each family's include_top=False body accepts cheaply (the top is built only for the count).
SMALL_INPUT = {"LeNet5": (32, 32, 1), "AlexNet": (64, 64, 3)}


def test_every_family_is_registered():
    expected = {"LeNet5", "AlexNet", "KerasResNet50"}
    expected |= {f"VGG{d}{s}" for d in (11, 13, 16, 19) for s in ("", "_BN")}
    expected |= {f"ResNet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)}
    assert set(ALL) == expected


@pytest.mark.parametrize("name", ALL)
def test_parameter_count_matches_published(name):
    entry = applications.get_model_entry(name)
    with torch.device("meta"):  # shapes only: no memory, no initialisation (VGG19 would take seconds)
        model = applications.get_model(name)
    assert sum(p.numel() for p in model.parameters()) == entry.num_params, entry.num_params_source
    bn_stats = sum(
        layer.moving_mean.numel() + layer.moving_variance.numel()
        for layer in model.layers
        if isinstance(layer, BatchNormalization)
    )
    assert model.count_params() == entry.num_params + bn_stats  # Keras' convention counts the moving statistics
    for table_entry in entry.weights.values():
        assert table_entry.num_params == entry.num_params


def _forward_backward(name):
    torch.manual_seed(0)
    shape = SMALL_INPUT.get(name, (32, 32, 3))
    model = applications.get_model(name, include_top=False, pooling="avg", input_shape=shape)
    x = torch.rand(2, *shape)
    y = model(x, training=True)
    assert y.shape[0] == 2 and y.dim() == 2
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing[:5]}"
    return model, y


def _feature_channels(name: str) -> int:
    if name in ("LeNet5", "AlexNet"):
        return {"LeNet5": 16, "AlexNet": 256}[name]
    if name.startswith("VGG") or name in ("ResNet18", "ResNet34"):
        return 512
    return 2048 if name in ("ResNet50", "KerasResNet50", "ResNet101", "ResNet152") else 64  # CIFAR ResNets: 64


@pytest.mark.parametrize("name", [n for n in ALL if n not in SLOW])
def test_forward_backward(name):
    _, y = _forward_backward(name)
    assert tuple(y.shape) == (2, _feature_channels(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_forward_backward_deep(name):
    _, y = _forward_backward(name)
    assert tuple(y.shape) == (2, _feature_channels(name))


@pytest.mark.parametrize("name", ["LeNet5", "ResNet20", "ResNet18"])
def test_top_output_shape_and_softmax(name):
    shape = SMALL_INPUT.get(name, (32, 32, 3))
    model = applications.get_model(name, input_shape=shape, classes=7)
    y = model(torch.rand(3, *shape))
    assert tuple(y.shape) == (3, 7)
    torch.testing.assert_close(y.sum(-1), torch.ones(3))  # default classifier_activation='softmax', as Keras
