"""Saving without pickle: round trips, Keras files, and files that must be refused without running any code."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import layers as L
from cnnkit.models import Model, Sequential, load_model


def small_model():
    inputs = L.Input((12, 12, 3))
    x = L.Conv2D(4, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    y = L.Conv2D(4, 1)(inputs)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    return Model(inputs, L.Dense(3, activation="softmax")(x), name="small")


def test_model_round_trip_is_exact(tmp_path):
    model = small_model()
    model(np.random.default_rng(0).normal(size=(4, 12, 12, 3)), training=True)  # moving stats move
    model.save(tmp_path / "m.cnnkit")
    loaded = load_model(tmp_path / "m.cnnkit")
    x = np.random.default_rng(1).normal(size=(2, 12, 12, 3))
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.get_config() == model.get_config()
    with zipfile.ZipFile(tmp_path / "m.cnnkit") as archive:
        assert set(archive.namelist()) == {"cnnkit.json", "config.json", "model.safetensors"}
    assert [p for p in os.listdir(tmp_path) if p != "m.cnnkit"] == []  # no temporary file left behind


def test_weights_round_trip_safetensors_and_keras_format(tmp_path):
    a, b = small_model(), small_model()
    for name in ("w.safetensors", "w.weights.h5"):
        a.save_weights(tmp_path / name)
        b.load_weights(tmp_path / name)
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(x, y)


def test_custom_layer_round_trip_with_registration(tmp_path):
    @cnnkit.layers.register_layer
    class Scale(L.Layer):
        def build(self, input_shape):
            self.add_weight("scale", (input_shape[-1],), initializer="ones")

        def call(self, inputs):
            return inputs * self.scale

    model = Sequential([L.Input((3,)), Scale(), L.Dense(2)])
    model.save(tmp_path / "c.cnnkit")
    loaded = load_model(tmp_path / "c.cnnkit")
    torch.testing.assert_close(loaded(np.ones((1, 3))), model(np.ones((1, 3))))


class Boom:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(os.environ["BOOM_DIR"], "pwned"),))


def test_pickle_payloads_are_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOM_DIR", str(tmp_path))
    raw = tmp_path / "raw.cnnkit"
    raw.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ValueError, match="is a Python pickle, and cnnkit never unpickles"):
        load_model(raw)
    torch_file = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2), "boom": Boom()}, torch_file)
    with pytest.raises(ValueError, match="PyTorch checkpoint written by torch.save"):
        load_model(torch_file)
    # A cnnkit archive with a pickle slipped in: the pickle is never read.
    model = small_model()
    model.save(tmp_path / "m.cnnkit")
    with zipfile.ZipFile(tmp_path / "m.cnnkit", "a") as archive:
        archive.writestr("data.pkl", pickle.dumps(Boom()))
    load_model(tmp_path / "m.cnnkit")
    assert not (tmp_path / "pwned").exists()


def test_truncated_file_is_refused(tmp_path):
    small_model().save(tmp_path / "m.cnnkit")
    data = (tmp_path / "m.cnnkit").read_bytes()
    (tmp_path / "t.cnnkit").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as e:
        load_model(tmp_path / "t.cnnkit")
    assert "is not a cnnkit model file: it is not a zip archive, or it is truncated or corrupt" in str(e.value)


def test_unknown_layer_in_config_is_refused(tmp_path):
    small_model().save(tmp_path / "m.cnnkit")
    with zipfile.ZipFile(tmp_path / "m.cnnkit") as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    config = json.loads(entries["config.json"])
    config["config"]["layers"][1]["class_name"] = "os.system"
    entries["config.json"] = json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    (tmp_path / "evil.cnnkit").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError) as e:
        load_model(tmp_path / "evil.cnnkit")
    assert str(e.value).startswith("Unknown layer class 'os.system'. Expected one of cnnkit's registered layers.")


def test_keras_weights_that_do_not_fit_say_what_differs(tmp_path):
    keras = pytest.importorskip("keras")
    reference = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    reference.save_weights(tmp_path / "k.weights.h5")
    ours = Sequential([L.Input((8,)), L.Dense(5), L.Dense(2)])
    with pytest.raises(ValueError) as e:
        ours.load_weights(tmp_path / "k.weights.h5")
    assert (
        "layer 'dense' (Dense) at 'layers/dense': the file has shapes [(8, 4), (4,)], the model expects "
        "[(8, 5), (5,)]" in str(e.value)
    )
    assert "layer 'dense_1' (Dense) at 'layers/dense_1': the file has shapes [(4, 2), (2,)]" in str(e.value)
