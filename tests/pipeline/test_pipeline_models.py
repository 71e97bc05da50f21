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
