"""Keras 3's own models (weights=None, then randomised BatchNorm statistics and conv biases), saved in both Keras
file formats and loaded into cnnkit's Keras-named models: predictions must agree. One case per Keras family; the
deep ones are marked slow (Keras' torch backend builds a few hundred layers in ~10 s).

Tolerance: the same float32 arithmetic in a different order; measured differences are ~1e-6 of the logits' magnitude, so
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
            n = layer.moving_mean.shape[0]
            if layer.scale:
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


CASES = [  # Keras name, input size: the smallest each accepts keeps Keras' side fast
    ("VGG16", 32),
    ("ResNet50", 32),
    pytest.param("ResNet50V2", 32, marks=pytest.mark.slow),
    pytest.param("DenseNet121", 32, marks=pytest.mark.slow),
    pytest.param("InceptionV3", 75, marks=pytest.mark.slow),
    pytest.param("InceptionResNetV2", 75, marks=pytest.mark.slow),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "size"), CASES)
def test_predictions_match_keras(tmp_path, name, size):
    rng = np.random.default_rng(0)
    reference = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3),
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
    # A file with the classifier loads into the model without it (Keras' "notop" files are that file minus the top).
    base = applications.get_model(name, weights=str(tmp_path / "m.weights.h5"), include_top=False,
                                  input_shape=(size, size, 3))  # fmt: skip
    assert base.layers[-1].name != "predictions"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_legacy_file_with_other_names_loads_in_keras_order(tmp_path):
    """Keras' auto names depend on the session (Keras' own InceptionV3 file says conv2d_1...): a legacy .h5 whose
    names are not the model's loads in Keras' model order, as keras.Model.load_weights does; a file of another
    model is refused with the counts."""
    import h5py

    reference = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classifier_activation=None)
    _randomize(reference, np.random.default_rng(1))
    reference.save(tmp_path / "r.h5")
    with h5py.File(tmp_path / "r.h5", "a") as f:  # rename every layer group as another session would
        root = f["model_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs["layer_names"]]
        for n in names:
            root.move(n, f"x_{n}")
        root.attrs["layer_names"] = [f"x_{n}".encode() for n in names]
    x = np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    expected = np.asarray(keras.ops.convert_to_numpy(reference(x, training=False)))
    model = applications.ResNet50(weights=str(tmp_path / "r.h5"), input_shape=(32, 32, 3), classifier_activation=None)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * max(float(np.abs(expected).max()), 1.0))
    with pytest.raises(ValueError, match=r"The Keras file does not hold this model's layers. Expected 209 layers"):
        applications.ResNet101(weights=str(tmp_path / "r.h5"), input_shape=(32, 32, 3))
