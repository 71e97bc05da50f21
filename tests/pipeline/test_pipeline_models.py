"""The classifiers `cnnkit train` builds."""

import numpy as np
import pytest
import torch

from cnnkit import layers
from cnnkit.models import Model, load_model
from cnnkit.pipeline.models import _preprocess, build_classifier


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_pretrained_preprocessing_matches_keras(mode, tmp_path):
    from keras.applications import imagenet_utils

    inputs = layers.Input(shape=(5, 6, 3))
    model = Model(inputs, _preprocess(inputs, mode))
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 6, 3)).astype(np.float32)
    expected = np.asarray(imagenet_utils.preprocess_input(x.copy(), mode=mode))
    # float32 arithmetic in a different order (x * scale + offset vs (x / 255 - mean) / std): ~1e-5 relative.
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-5, atol=1e-4)
    model.save(str(tmp_path / "p.cnnkit"))  # core layers only: loads without cnnkit.pipeline
    np.testing.assert_allclose(load_model(str(tmp_path / "p.cnnkit"))(x).detach().numpy(), expected, atol=1e-4)


def test_tutorial_classifier_takes_0_255_images_and_gives_probabilities():
    model = build_classifier("tutorial", (28, 28, 1), 4)
    out = model(torch.rand(3, 28, 28, 1) * 255)
    assert out.shape == (3, 4) and torch.allclose(out.sum(1), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match=r"The tutorial CNN has no pretrained weights"):
        build_classifier("tutorial", (28, 28, 1), 4, pretrained=True)


def test_zoo_classifier_from_scratch():
    pytest.importorskip("cnnkit.applications", reason="the zoo (cnnkit.applications) is not in this checkout")
    model = build_classifier("ResNet20", (32, 32, 3), 5)
    out = model(torch.rand(2, 32, 32, 3) * 255)
    assert out.shape == (2, 5) and torch.allclose(out.sum(1), torch.ones(2), atol=1e-5)
    with pytest.raises(ValueError, match=r"Unknown model name.*Did you mean 'ResNet20'"):
        build_classifier("resnet20", (32, 32, 3), 5)


def test_tutorial_bn_is_the_tutorial_cnn_with_batchnorm_and_computes_like_torch_nn(tmp_path):
    """Same layers as this torch.nn network (the one the budget ladder was measured with), weights copied over:
    the same probabilities in inference mode, and the same parameter count."""
    import torch.nn as nn

    model = build_classifier("tutorial_bn", (28, 28, 1), 10, augment=True)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128, bias=False), nn.BatchNorm1d(128, eps=1e-5), nn.ReLU(),
        nn.Dropout(0.3), nn.Linear(128, 10),
    ).eval()  # fmt: skip
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in net.parameters()) == 421_866
    rng = np.random.default_rng(0)
    get = model.get_layer
    for keras_bn, torch_bn in (("batch_normalization", 1), ("batch_normalization_1", 5), ("batch_normalization_2", 10)):
        stats = [rng.uniform(0.5, 1.5, net[torch_bn].num_features).astype("float32") for _ in range(4)]
        get(keras_bn).set_weights(stats)  # gamma, beta, moving mean, moving variance
        for t, v in zip((net[torch_bn].weight, net[torch_bn].bias), stats[:2]):
            t.data = torch.from_numpy(v)
        net[torch_bn].running_mean, net[torch_bn].running_var = torch.from_numpy(stats[2]), torch.from_numpy(stats[3])
    for name, index in (("conv2d", 0), ("conv2d_1", 4)):
        net[index].weight.data = torch.from_numpy(get(name).get_weights()[0]).permute(3, 2, 0, 1).contiguous()
    # Keras flattens (h, w, c); torch (c, h, w): reorder the first dense kernel's rows to match.
    kernel = torch.from_numpy(get("dense").get_weights()[0]).reshape(7, 7, 64, 128).permute(2, 0, 1, 3)
    net[9].weight.data = kernel.reshape(-1, 128).T.contiguous()
    w, b = get("predictions").get_weights()
    net[13].weight.data, net[13].bias.data = torch.from_numpy(w).T.contiguous(), torch.from_numpy(b)
    x = rng.uniform(0, 255, (4, 28, 28, 1)).astype("float32")
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x).permute(0, 3, 1, 2) / 255), 1).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"tutorial_bn has no pretrained weights"):
        build_classifier("tutorial_bn", (28, 28, 1), 10, pretrained=True)
