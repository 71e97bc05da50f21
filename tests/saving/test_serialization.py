"""Configs to layers and back, from cnnkit's registry only: a config cannot name arbitrary code."""

import io
import json
import zipfile

import pytest

from cnnkit import saving
from cnnkit.models import load_model, model_from_json


def test_unknown_layer_in_config_is_refused(tmp_path, small_model):
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


def test_json_round_trip_and_keras_names(small_model):
    model = small_model()
    rebuilt = model_from_json(model.to_json())
    assert rebuilt.get_config() == model.get_config()
    assert saving.serialize_keras_object(model)["class_name"] == type(model).__name__  # Keras' form, module and all
    assert saving.deserialize_keras_object(saving.serialize_keras_object(model)).get_config() == model.get_config()
