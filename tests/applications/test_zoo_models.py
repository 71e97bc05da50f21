"""Every registered zoo model: parameter count against the published figure, forward and backward, and for Keras'
models the count, layer names and layer order of Keras 3's own ``keras.applications`` model.

The published counts (registry ``num_params``) come from torchvision's weights tables (``meta["num_params"]``) for
AlexNet, VGG and ResNet18-152; LeCun et al. 1998 as commonly implemented for LeNet5; He et al. 2015 Table 6 for the
CIFAR ResNets (exact values derived in resnet_cifar.py). torchvision counts ``nn.Parameter`` elements, so BatchNorm
moving statistics (buffers) are not included; Keras' ``count_params`` adds them, which is checked separately.
"""

from __future__ import annotations

import math
import os
import re

import pytest
import torch

import cnnkit.applications as applications
from cnnkit.activations import hard_sigmoid
from cnnkit.common.naming import to_snake_case
from cnnkit.layers import BatchNormalization, Normalization
from support.keras_apps import keras_application

ALL = applications.list_models()
KERAS = [n for n in ALL if applications.get_model_entry(n).keras_params is not None]
SLOW = {"ResNet101", "ResNet152", "ResNet110", "ResNet101_TV", "ResNet152_TV", "ResNet101V2", "ResNet152V2",
        "DenseNet169", "DenseNet201", "InceptionResNetV2", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
        "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7", "ConvNeXtSmall", "ConvNeXtBase",
        "ConvNeXtLarge", "ConvNeXtXLarge", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
        "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L", "NASNetMobile", "NASNetLarge"}  # fmt: skip
# Keras models cheap enough to build in Keras 3 in the default run (Keras' torch backend builds ~50 layers/s).
KERAS_FAST = {"VGG16", "ResNet50", "MobileNetV3Small", "ConvNeXtTiny"}
# Smallest input each family's include_top=False body accepts cheaply (the top is built only for the count).
SMALL_INPUT = {"LeNet5": (32, 32, 1), "AlexNet": (64, 64, 3), "InceptionV3": (75, 75, 3),
               "InceptionResNetV2": (75, 75, 3), "Xception": (71, 71, 3)}  # fmt: skip


def test_every_family_is_registered():
    expected = {"LeNet5", "AlexNet", "InceptionV3", "InceptionResNetV2", "ResNetXS", "ResNetS", "ResNetM"}
    expected |= {f"VGG{d}{s}" for d in (11, 13) for s in ("", "_BN")}
    expected |= {f"VGG{d}{s}" for d in (16, 19) for s in ("", "_BN", "_TV")}
    expected |= {f"ResNet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)}
    expected |= {f"ResNet{d}{s}" for d in (50, 101, 152) for s in ("_TV", "V2")}
    expected |= {f"DenseNet{d}" for d in (121, 169, 201)}
    expected |= {"Xception", "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large"}
    expected |= {f"EfficientNetB{i}" for i in range(8)}
    expected |= {f"ConvNeXt{v}" for v in ("Tiny", "Small", "Base", "Large", "XLarge")}
    expected |= {f"EfficientNetV2{v}" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")}
    expected |= {"NASNetMobile", "NASNetLarge"}
    assert set(ALL) == expected
    assert applications.KerasResNet50 is applications.ResNet50  # the former name of Keras' ResNet50


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
    # EfficientNet's preprocessing Normalization holds its mean, variance and count as non-trainable weights;
    # ConvNeXt's and EfficientNetV2's are built with constant statistics (Keras' mean=, variance=), which are not
    # weights, as in Keras.
    bn_stats += sum(w.numel() for layer in model.layers if isinstance(layer, Normalization) for w in layer.weights)
    assert model.count_params() == entry.num_params + bn_stats  # Keras' convention counts the moving statistics
    for table_entry in entry.weights.values():
        assert table_entry.num_params == entry.num_params
    if entry.keras_params is not None:  # the figures Keras 3 reports (checked against Keras itself below)
        assert model.count_params() == entry.keras_params
    if entry.torchvision_params is not None:
        assert entry.num_params == entry.torchvision_params


def _canonical(layers) -> list[str]:
    """Layer names with Keras' per-session auto-name counters removed (``conv2d_17`` -> ``conv2d``): Keras and
    cnnkit both number unnamed layers from a session counter, so only the base name is the architecture's."""
    out = []
    for layer in layers:
        if getattr(layer, "activation", None) is hard_sigmoid:
            # MobileNetV3's squeeze-excite gate: Keras writes ReLU(6.)(x + 3.) / 6., a ReLU layer between two tensor
            # operations, which cnnkit's graph records as one Activation('hard_sigmoid') (mobilenet_v3.py).
            out.append("re_lu")
            continue
        base = to_snake_case(type(layer).__name__)
        out.append(base if re.fullmatch(rf"{base}(_\d+)?", layer.name) else layer.name)
    return out


def _keras_layers(reference) -> list:
    """Keras' layers plus the sums of two tensors (``a + b``) in its graph, in Keras' order.

    ConvNeXt closes each block with ``inputs + x``, an operation that Keras records in the graph (``_operations``)
    but does not list in ``model.layers``; cnnkit's graph holds layers only, so it is an ``Add`` layer there. A sum
    with a constant (MobileNetV3's ``x + 3``) is part of another cnnkit layer, so only two-tensor sums count.
    """
    keras = _keras()
    return [op for op in reference._operations if isinstance(op, keras.layers.Layer)
            or (type(op).__name__ == "Add" and len(op._inbound_nodes[0].input_tensors) == 2)]  # fmt: skip


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _check_against_keras(name: str, kwargs: dict) -> None:
    _keras()
    reference = keras_application(name)(weights=None, **kwargs)
    with torch.device("meta"):
        model = applications.get_model(name, **kwargs)
    assert model.count_params() == reference.count_params()
    assert sum(p.numel() for p in model.parameters()) == sum(math.prod(w.shape) for w in reference.trainable_weights)
    # Same names in the same order: the order is what Keras matches a legacy .h5 (and .weights.h5 paths) by.
    assert _canonical(model.layers) == _canonical(_keras_layers(reference))


def _keras_kwargs(name: str) -> dict:
    return {"include_top": False, "input_shape": SMALL_INPUT.get(name, (32, 32, 3)), "pooling": "avg"}


@pytest.mark.parametrize("name", [n for n in KERAS if n in KERAS_FAST])
def test_count_and_layer_names_equal_keras(name):
    _check_against_keras(name, _keras_kwargs(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in KERAS if n not in KERAS_FAST])
def test_count_and_layer_names_equal_keras_slow(name):
    _check_against_keras(name, _keras_kwargs(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", KERAS)
def test_count_with_top_equals_keras(name):
    _check_against_keras(name, {"classes": 1000})


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
    fixed = {"LeNet5": 16, "AlexNet": 256, "ResNet18": 512, "ResNet34": 512, "DenseNet121": 1024,
             "DenseNet169": 1664, "DenseNet201": 1920, "InceptionResNetV2": 1536, "ResNetXS": 64, "ResNetS": 64,
             "ResNetM": 128, "Xception": 2048, "MobileNet": 1024, "MobileNetV2": 1280, "MobileNetV3Small": 576,
             "MobileNetV3Large": 960, "EfficientNetB0": 1280, "EfficientNetB1": 1280, "EfficientNetB2": 1408,
             "EfficientNetB3": 1536, "EfficientNetB4": 1792, "EfficientNetB5": 2048, "EfficientNetB6": 2304,
             "EfficientNetB7": 2560, "ConvNeXtTiny": 768, "ConvNeXtSmall": 768, "ConvNeXtBase": 1024,
             "ConvNeXtLarge": 1536, "ConvNeXtXLarge": 2048, "EfficientNetV2B2": 1408, "EfficientNetV2B3": 1536,
             "NASNetMobile": 1056, "NASNetLarge": 4032}  # fmt: skip
    if name.startswith("EfficientNetV2"):
        return fixed.get(name, 1280)
    if name in fixed:
        return fixed[name]
    if name.startswith("VGG"):
        return 512
    return 2048 if name.startswith(("ResNet50", "ResNet101", "ResNet152", "Inception")) else 64  # CIFAR: 64


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
    checked by the sha256 prefix embedded in their names (the full digest is not published), Keras' by the digest
    Keras' source gives: md5 for most families, the full sha256 for ConvNeXt."""
    from cnnkit.applications.weights import torchvision_hash_prefix

    seen = 0
    for name in ALL:
        for key, entry in applications.get_model_entry(name).weights.items():
            seen += 1
            assert entry.url.startswith("https://") and entry.source and entry.licence, (name, key)
            # "none": the model preprocesses itself (EfficientNet's Rescaling + Normalization take 0..255 pixels)
            assert entry.preprocessing in ("torch", "caffe", "tf", "none") and entry.classes == "imagenet"
            if entry.layout == "torchvision":
                assert entry.url.startswith("https://download.pytorch.org/models/")
                assert entry.sha256 == torchvision_hash_prefix(entry.url) and entry.sha256_is_prefix
                # EfficientNet V1's and ConvNeXt's converters write the normalisation into the model; V2-L's file
                # was trained on (x - 0.5) / 0.5, i.e. 'tf' (torchvision's transforms for efficientnet_v2_l).
                tv_prep = {"efficientnet_b": "none", "convnext": "none", "efficientnet_v2_l": "tf"}
                prep = next((v for k, v in tv_prep.items() if k in entry.url), "torch")
                assert entry.md5 is None and entry.preprocessing == prep
            else:
                assert entry.layout == "keras_h5"
                if "/convnext/" in entry.url:  # Keras lists sha256 digests for ConvNeXt's files
                    assert entry.md5 is None and len(entry.sha256) == 64 and not entry.sha256_is_prefix
                else:
                    assert entry.sha256 is None and len(entry.md5) == 32
                assert entry.url.startswith(
                    (
                        "https://storage.googleapis.com/tensorflow/keras-applications/",
                        "https://storage.googleapis.com/keras-applications/",
                    )
                )  # EfficientNet
                assert entry.include_top == (not key.endswith("_notop")) and "acc@1" in entry.metrics
    # torchvision: 17 sets of the 14 torchvision-named models (imagenet_v2 for ResNet50/101/152_TV) + VGG16/19 and
    # DenseNet121/169/201 converted; Keras: a file with and one without the top for each of the 13 Keras models.
    # Then torchvision: MobileNetV2/V3 (3), EfficientNet (8); Keras: 11 more models; ConvNeXt: torchvision's Tiny to
    # Large (4), Keras' five variants with and without the top; EfficientNetV2S/M/L (3) from torchvision, 7
    # EfficientNetV2 and 2 NASNet from Keras.
    assert seen == 17 + 5 + 2 * 13 + 11 + 2 * 11 + 4 + 2 * 5 + 3 + 2 * 7 + 2 * 2
    keras_prep = {"VGG16": "caffe", "ResNet50": "caffe", "ResNet50V2": "tf", "DenseNet121": "torch",
                  "InceptionV3": "tf", "InceptionResNetV2": "tf", "Xception": "tf", "MobileNetV3Large": "tf",
                  "EfficientNetB0": "none", "ConvNeXtTiny": "none", "EfficientNetV2S": "none",
                  "NASNetMobile": "tf"}  # Keras' preprocess_input modes  # fmt: skip
    for name, mode in keras_prep.items():
        assert applications.get_model_entry(name).weights["imagenet"].preprocessing == mode
    v2 = applications.get_model_entry("ResNet50_TV").weights["imagenet_v2"]
    assert v2.metrics["acc@1"] == 80.858 and v2.url.endswith("resnet50-11ad3fa6.pth")
