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
    expected |= {f"ResNet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)} | {"ResNetS", "ResNetM"}
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
    if name in ("ResNetS", "ResNetM"):
        return {"ResNetS": 64, "ResNetM": 128}[name]
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


def test_weights_tables():
    """Every published set names its source and licence and carries a verifiable hash: torchvision's files are
    checked by the sha256 prefix embedded in their names (the full digest is not published), Keras' by md5."""
    from cnnkit.applications.weights import torchvision_hash_prefix

    seen = 0
    for name in ALL:
        for key, entry in applications.get_model_entry(name).weights.items():
            seen += 1
            assert entry.url.startswith("https://") and entry.source and entry.licence, (name, key)
            assert entry.preprocessing in ("torch", "caffe") and entry.classes == "imagenet"
            if entry.layout == "torchvision":
                assert entry.url.startswith("https://download.pytorch.org/models/")
                assert entry.sha256 == torchvision_hash_prefix(entry.url) and entry.sha256_is_prefix
                assert entry.md5 is None and entry.preprocessing == "torch"
            else:
                assert entry.layout == "keras_h5" and entry.sha256 is None and len(entry.md5) == 32
                assert entry.preprocessing == "caffe"
    assert seen == 20  # 17 torchvision sets (14 models; imagenet_v2 for ResNet50/101/152) + 3 Keras files
    v2 = applications.get_model_entry("ResNet50").weights["imagenet_v2"]
    assert v2.metrics["acc@1"] == 80.858 and v2.url.endswith("resnet50-11ad3fa6.pth")
