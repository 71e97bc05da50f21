from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit.applications.imagenet_utils import decode_predictions, imagenet_classes, preprocess_input


def test_classes_shipped():
    classes = imagenet_classes()
    assert len(classes) == 1000 and len({w for w, _ in classes}) == 1000
    assert classes[0] == ("n01440764", "tench")
    assert classes[281] == ("n02123045", "tabby")  # the classic cat, as in Keras' class index
    assert classes[999] == ("n15075141", "toilet tissue")
    assert [w for w, _ in classes] == sorted(w for w, _ in classes)  # ImageNet order is sorted wnids


def test_decode_predictions_as_keras():
    preds = np.zeros((2, 1000), dtype=np.float32)
    preds[0, [281, 0, 999]] = [0.7, 0.2, 0.1]
    preds[1, 207] = 1.0
    out = decode_predictions(torch.from_numpy(preds), top=3)
    assert out[0] == [
        ("n02123045", "tabby", pytest.approx(0.7)),
        ("n01440764", "tench", pytest.approx(0.2)),
        ("n15075141", "toilet tissue", pytest.approx(0.1)),
    ]
    assert out[1][0][:2] == ("n02099601", "golden retriever") and len(out[1]) == 3
    with pytest.raises(ValueError, match=r"expects a batch of predictions .* Received: preds with shape \(1000,\)"):
        decode_predictions(preds[0])


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_preprocess_matches_keras(mode):
    keras_utils = pytest.importorskip("keras.src.applications.imagenet_utils")
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 5, 4, 3)).astype(np.float32)
    expected = keras_utils.preprocess_input(x.copy(), data_format="channels_last", mode=mode)
    got = preprocess_input(x, mode=mode)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-6, atol=1e-5)  # float32 rounding only
    got_t = preprocess_input(torch.from_numpy(x), mode=mode)
    np.testing.assert_allclose(got_t.numpy(), np.asarray(expected), rtol=1e-6, atol=1e-5)
    cf = preprocess_input(x.transpose(0, 3, 1, 2), data_format="channels_first", mode=mode)
    np.testing.assert_allclose(cf.transpose(0, 2, 3, 1), np.asarray(expected), rtol=1e-6, atol=1e-5)


def test_preprocess_errors():
    with pytest.raises(ValueError, match=r"Unknown preprocessing mode. .* Received: mode='bgr'"):
        preprocess_input(np.zeros((1, 2, 2, 3)), mode="bgr")
    with pytest.raises(ValueError, match=r"3 channels .* Received: x with shape \(1, 2, 2, 1\)"):
        preprocess_input(np.zeros((1, 2, 2, 1)))
