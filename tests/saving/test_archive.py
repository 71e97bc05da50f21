"""The .cnnkit archive: exact round trips, custom layers, and the training state kept through public seams."""

import os
import zipfile

import numpy as np
import torch

import cnnkit
from cnnkit import layers as L
from cnnkit.models import Sequential, load_model


def test_model_round_trip_is_exact(tmp_path, small_model):
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


def test_saving_is_the_public_path_and_models_keeps_load_model(tmp_path, small_model):
    model = small_model()
    cnnkit.saving.save_model(model, tmp_path / "m.cnnkit")
    assert cnnkit.models.load_model is cnnkit.saving.load_model
    loaded = cnnkit.saving.load_model(tmp_path / "m.cnnkit")
    assert loaded.get_config() == model.get_config()


def test_compiled_model_keeps_its_training_state_through_the_model_seams(tmp_path):
    model = Sequential([L.Input((4,)), L.Dense(1, activation="sigmoid")])
    assert model.get_compile_config() is None and model.get_training_state() == {}
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert model.get_compile_config()["loss"] == "binary_crossentropy"
    assert model.get_training_state() == {}  # the optimizer is built by the first fit
    x, y = np.random.default_rng(0).random((16, 4)), np.ones((16, 1), dtype="float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert set(model.get_training_state()) == {"optimizer.safetensors"}
    model.save(tmp_path / "m.cnnkit")
    with zipfile.ZipFile(tmp_path / "m.cnnkit") as archive:
        assert {"training.json", "optimizer.safetensors"} <= set(archive.namelist())
    loaded = load_model(tmp_path / "m.cnnkit")
    assert loaded.get_compile_config() == model.get_compile_config()
    assert loaded.optimizer.iterations == 2
    assert load_model(tmp_path / "m.cnnkit", compile=False).get_compile_config() is None
