"""Builder arguments (Keras' rules and wording), weight files, saving, and freezing a zoo base."""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

import cnnkit.applications as applications
from cnnkit.layers import BatchNormalization, Dense, GlobalAveragePooling2D, Input
from cnnkit.models import Model, Sequential, load_model


def test_bad_weights_argument():
    with pytest.raises(ValueError, match=r"The `weights` argument should be either `None` \(random initialization\), "
                       r"the name of a published set \('imagenet', 'imagenet_v2'\), or the path .* "
                       r"Received: weights='imagenet_v3'"):  # fmt: skip
        applications.ResNet50_TV(weights="imagenet_v3")
    with pytest.raises(ValueError, match=r"none for this model\), .* Received: weights='imagenet'"):
        applications.ResNet20(weights="imagenet")


def test_imagenet_top_needs_1000_classes_and_224():
    with pytest.raises(ValueError, match=r"If using `weights='imagenet'` with `include_top=True`, `classes` should be "
                       r"1000. Received: classes=10"):  # fmt: skip
        applications.VGG16_TV(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match=r"should be \(224, 224, 3\). Received: input_shape=\(64, 64, 3\)"):
        applications.AlexNet(weights="imagenet", input_shape=(64, 64, 3))


def test_efficientnet_v2_torchvision_weights_need_outside_preprocessing():
    """torchvision's files were trained on normalised input: with Keras' in-model rescaling they would predict
    garbage silently, so the builder refuses the combination before downloading anything."""
    with pytest.raises(ValueError, match=r"torchvision's EfficientNetV2L weights take input normalised outside the "
                       r"model \('tf' preprocessing\).*Expected include_preprocessing=False with "
                       r"weights='torchvision'\. Received: include_preprocessing=True\. "
                       r".*preprocess_input\(x, mode='tf'\)"):  # fmt: skip
        applications.EfficientNetV2L(weights="torchvision")
    with pytest.raises(ValueError, match=r"\('imagenet', 'imagenet_notop'\), or the path .* "
                       r"Received: weights='torchvision'"):  # fmt: skip
        applications.EfficientNetV2B0(weights="torchvision")  # torchvision has no V2 B0-B3
    with pytest.raises(ValueError, match=r"should be \(384, 384, 3\). Received: input_shape=\(224, 224, 3\)"):
        applications.EfficientNetV2S(weights="imagenet", input_shape=(224, 224, 3))


def test_pooling_and_input_checks():
    with pytest.raises(ValueError, match=r"`pooling` must be one of None, 'avg' or 'max'. Received: pooling='sum'"):
        applications.ResNet18(include_top=False, pooling="sum")
    with pytest.raises(ValueError, match=r"Input size must be at least 32x32. Received: input_shape=\(16, 16, 3\)"):
        applications.VGG11(include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match=r"`input_shape` must be \(height, width, channels\)"):
        applications.ResNet20(input_shape=(32, 32))


@pytest.mark.parametrize(("pooling", "shape"), [(None, (2, 8, 8, 64)), ("avg", (2, 64)), ("max", (2, 64))])
def test_include_top_false_pooling(pooling, shape):
    model = applications.ResNet20(include_top=False, pooling=pooling, input_shape=(32, 32, 3))
    assert tuple(model(torch.rand(2, 32, 32, 3)).shape) == shape


def test_input_tensor_and_lenet_variants():
    inputs = Input(shape=(32, 32, 1))
    model = applications.LeNet5(input_tensor=inputs, classifier_activation=None)
    assert model.inputs[0] is inputs
    assert [layer.name for layer in model.layers][1:4] == ["conv1", "pool1", "conv2"]
    assert tuple(applications.LeNet5(include_top=False)(torch.rand(1, 32, 32, 1)).shape) == (1, 5, 5, 16)


def test_offline_imagenet_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(ConnectionError, match=r"Could not download the weights file 'resnet18-f37072fd.pth' \(network "
                       r"is unreachable\)"):  # fmt: skip
        applications.ResNet18(weights="imagenet")
    assert list((tmp_path / "weights").iterdir()) == []


def test_cnnkit_weights_file_and_save_round_trip(tmp_path):
    torch.manual_seed(0)
    model = applications.ResNet20(input_shape=(32, 32, 1), classes=3)
    x = torch.rand(2, 32, 32, 1)
    expected = model(x)
    model.save_weights(tmp_path / "r20.safetensors")
    again = applications.ResNet20(weights=str(tmp_path / "r20.safetensors"), input_shape=(32, 32, 1), classes=3)
    torch.testing.assert_close(again(x), expected, rtol=0, atol=0)  # same weights, same kernels: bit-identical
    base = applications.ResNet20(weights=str(tmp_path / "r20.safetensors"), include_top=False, input_shape=(32, 32, 1))
    assert "fc.kernel" not in base.state_dict()
    model.save(tmp_path / "r20.cnnkit")  # ShortcutA is a registered layer, so the whole model saves and loads
    torch.testing.assert_close(load_model(tmp_path / "r20.cnnkit")(x), expected, rtol=0, atol=0)
    from_archive = applications.ResNet20(weights=str(tmp_path / "r20.cnnkit"), input_shape=(32, 32, 1), classes=3)
    torch.testing.assert_close(from_archive(x), expected, rtol=0, atol=0)


def test_shortcut_a_pads_channels_with_zeros():
    from cnnkit.applications.resnet_cifar import ShortcutA

    x = torch.arange(2 * 4 * 4 * 2, dtype=torch.float32).reshape(2, 4, 4, 2)
    y = ShortcutA(6, strides=2)(x)
    assert tuple(y.shape) == (2, 2, 2, 6)
    torch.testing.assert_close(y[..., 2:4], x[:, ::2, ::2, :])
    assert y[..., :2].abs().sum() == 0 and y[..., 4:].abs().sum() == 0
    assert ShortcutA.from_config(ShortcutA(6, 2).get_config()).filters == 6
    with pytest.raises(ValueError, match="ShortcutA cannot reduce channels"):
        ShortcutA(1, 1)(x)


def _bn_stats(model):
    return {n: b.clone() for n, b in model.named_buffers() if n.endswith(("moving_mean", "moving_variance"))}


@pytest.mark.parametrize("style", ["sequential", "functional"])
def test_frozen_base_keeps_batchnorm_in_inference_mode(style):
    torch.manual_seed(0)
    base = applications.ResNet20(include_top=False, input_shape=(32, 32, 1))
    base.trainable = False
    if style == "sequential":
        model = Sequential([base, GlobalAveragePooling2D(), Dense(2)])
    else:
        inputs = Input(shape=(32, 32, 1))
        outputs = Dense(2)(GlobalAveragePooling2D()(base(inputs, training=False)))
        model = Model(inputs, outputs)
    before = _bn_stats(base)
    x = torch.rand(4, 32, 32, 1)
    y_train = model(x, training=True)
    assert all(torch.equal(before[k], v) for k, v in _bn_stats(base).items())  # moving stats untouched
    torch.testing.assert_close(y_train, model(x, training=False))  # frozen BN normalises with moving stats
    assert [w for w in model.trainable_weights] == [model.layers[-1].kernel, model.layers[-1].bias]
    base.trainable = True
    model(x, training=True)
    changed = [k for k, v in _bn_stats(base).items() if not torch.equal(before[k], v)]
    if style == "sequential":
        assert len(changed) == 2 * sum(isinstance(layer, BatchNormalization) for layer in base.layers)
    else:  # base(inputs, training=False), Keras' fine-tuning pattern: BN stays in inference mode even unfrozen
        assert changed == []


def test_family_preprocessing_follows_the_weights():
    x = np.full((1, 2, 2, 3), 255.0, dtype=np.float32)
    torch_mode = applications.resnet_torchvision.preprocess_input(x)
    np.testing.assert_allclose(torch_mode[0, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(applications.vgg.preprocess_input(x), torch_mode)
    np.testing.assert_allclose(applications.vgg16.preprocess_input(x, mode="torch"), torch_mode)
    np.testing.assert_allclose(applications.densenet.preprocess_input(x), torch_mode)  # Keras' densenet: 'torch'
    caffe = applications.resnet.preprocess_input(x)  # Keras' resnet, vgg16, vgg19: 'caffe'
    np.testing.assert_allclose(caffe[0, 0, 0], 255.0 - np.array([103.939, 116.779, 123.68]), rtol=1e-6)
    for module in (applications.vgg16, applications.vgg19, applications.resnet50, applications.keras_resnet):
        np.testing.assert_allclose(module.preprocess_input(x), caffe)
    for module in (applications.resnet_v2, applications.inception_v3, applications.inception_resnet_v2,
                   applications.nasnet):  # fmt: skip
        np.testing.assert_allclose(module.preprocess_input(x), np.ones_like(x))  # 'tf': 255 -> 1
    assert applications.efficientnet_v2.preprocess_input(x) is x  # Keras': the model rescales itself
    assert applications.resnet50.ResNet50 is applications.ResNet50
    assert applications.vgg19.decode_predictions is applications.decode_predictions


class _Payload:
    """Any class outside torch's weights-only allow-list stands in for a malicious pickle."""


def test_pth_with_objects_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "extra": _Payload()}, path)
    with pytest.raises(ValueError, match=r"holds objects other than tensors, which cnnkit refuses to unpickle"):
        applications.ResNet18(weights=str(path))
    not_state = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_state)
    with pytest.raises(ValueError, match=r"The .pth file does not hold a state dict"):
        applications.ResNet18(weights=str(not_state))
