"""Keras 3's own VGG16 and ResNet50 (weights=None, then randomised BatchNorm statistics and conv biases), saved in
both Keras file formats and loaded into cnnkit: predictions must agree.

Tolerance: the same float32 arithmetic in a different order (and, for ResNet50, the conv biases folded into the
BatchNorm means: one extra rounding of mean - b); measured differences are ~1e-6 of the logits' magnitude, so
1e-4 relative to the largest logit still catches any wrong layout, order or epsilon (O(1) changes).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import cnnkit.applications as applications

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def _randomize(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
            layer.beta.assign(rng.uniform(-0.5, 0.5, n).astype("float32"))
            layer.moving_mean.assign(rng.uniform(-0.5, 0.5, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            layer.bias.assign(rng.uniform(-0.5, 0.5, layer.bias.shape[0]).astype("float32"))


def _save_all_formats(model, folder):
    paths = {"keras3": folder / "m.weights.h5", "legacy_model": folder / "m.h5"}
    model.save_weights(paths["keras3"])
    model.save(paths["legacy_model"])  # legacy HDF5 (weights under model_weights/, layer_names in order)
    try:  # the layout of Keras' downloadable application files (layer_names at the root)
        import h5py
        from keras.src.legacy.saving import legacy_h5_format

        paths["legacy_weights"] = folder / "weights_only.h5"
        with h5py.File(paths["legacy_weights"], "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    except ImportError:  # private Keras API; the public formats above are still tested
        pass
    return paths


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("keras_name", "name", "size"),
    [("VGG16", "VGG16", 64), ("ResNet50", "KerasResNet50", 64)],
)
def test_predictions_match_keras(tmp_path, keras_name, name, size):
    rng = np.random.default_rng(0)
    reference = getattr(keras.applications, keras_name)(weights=None, input_shape=(size, size, 3),
                                                          classifier_activation=None)  # fmt: skip
    _randomize(reference, rng)
    x = rng.uniform(-1, 1, (2, size, size, 3)).astype("float32")
    expected = np.asarray(keras.ops.convert_to_numpy(reference(x, training=False)))
    scale = max(float(np.abs(expected).max()), 1.0)
    for kind, path in _save_all_formats(reference, tmp_path).items():
        model = applications.get_model(name, weights=str(path), input_shape=(size, size, 3),
                                       classifier_activation=None)  # fmt: skip
        with torch.no_grad():
            got = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * scale, err_msg=kind)


def test_keras_resnet50_legacy_file_matched_by_order(tmp_path):
    """A legacy .h5 whose layer names are not Keras' (e.g. renamed layers) loads by Keras' model order."""
    from collections import OrderedDict

    from cnnkit.applications.keras_resnet import from_keras, keras_layer_order
    from cnnkit.applications.weight_files import read_keras_h5

    reference = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3))
    assert [layer.name for layer in reference.layers if layer.weights] == keras_layer_order()
    _randomize(reference, np.random.default_rng(1))
    reference.save(tmp_path / "r.h5")
    by_name = from_keras(read_keras_h5(tmp_path / "r.h5"))
    renamed = OrderedDict((f"layer_{i}", v) for i, v in enumerate(read_keras_h5(tmp_path / "r.h5").values()))
    by_order = from_keras(renamed)
    assert by_order.keys() == by_name.keys() and all(torch.equal(by_order[k], by_name[k]) for k in by_name)
    with pytest.raises(ValueError, match="The Keras file does not hold a keras.applications.ResNet50"):
        from_keras(OrderedDict(list(renamed.items())[:5]))
