"""What a file is, decided in one place: pickles refused unread, truncated files and non-regular files refused."""

import os
import pickle
import zipfile

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cnnkit import applications
from cnnkit.models import load_model
from cnnkit.saving.formats import detect_format, safetensors_metadata
from cnnkit.saving.torch_pth import read_torch_state_dict


class Boom:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(os.environ["BOOM_DIR"], "pwned"),))


def test_pickle_payloads_are_refused_and_never_run(tmp_path, monkeypatch, small_model):
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


def test_truncated_file_is_refused(tmp_path, small_model):
    small_model().save(tmp_path / "m.cnnkit")
    data = (tmp_path / "m.cnnkit").read_bytes()
    (tmp_path / "t.cnnkit").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as e:
        load_model(tmp_path / "t.cnnkit")
    assert "is not a cnnkit model file: it is not a zip archive, or it is truncated or corrupt" in str(e.value)


def test_each_kind_is_told_by_its_bytes_not_its_name(tmp_path, small_model):
    model = small_model()
    model.save(tmp_path / "a.bin")
    model.save_weights(tmp_path / "b.bin")
    model.save_weights(tmp_path / "c.weights.h5")
    torch.save({"w": torch.ones(2)}, tmp_path / "d.bin")
    torch.save({"w": torch.ones(2)}, tmp_path / "e.bin", _use_new_zipfile_serialization=False)
    with h5py.File(tmp_path / "f.bin", "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with zipfile.ZipFile(tmp_path / "g.bin", "w") as archive:
        archive.writestr("readme.txt", "hello")
    (tmp_path / "h.safetensors").write_bytes(b"not really safetensors")
    kinds = {p.name: detect_format(p) for p in sorted(tmp_path.iterdir())}
    assert kinds == {
        "a.bin": "cnnkit",
        "b.bin": "safetensors",
        "c.weights.h5": "keras3",
        "d.bin": "torch",
        "e.bin": "pickle",
        "f.bin": "keras_legacy",
        "g.bin": "zip",
        "h.safetensors": "unknown",
    }


def test_a_non_regular_file_is_refused_with_a_cnnkit_message(tmp_path, small_model):
    directory = tmp_path / "model.cnnkit"
    directory.mkdir()
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # opening a pipe would block forever: it must never be opened
    expected = "it is a directory. Expected a regular file. Received: filepath="
    with pytest.raises(ValueError, match=f"Cannot read a model file from .*: {expected}"):
        load_model(directory)
    with pytest.raises(ValueError, match="Cannot read a weights file from .*: it is a named pipe. Expected a regular"):
        small_model().load_weights(fifo)
    with pytest.raises(ValueError, match="it is a named pipe"):
        read_torch_state_dict(fifo)
    with pytest.raises(ValueError, match="it is a named pipe"):
        applications.weight_files.read_cnnkit_weights(fifo)
    with pytest.raises(FileNotFoundError, match="No such model file"):
        load_model(tmp_path / "missing.cnnkit")


def test_safetensors_metadata_of_a_file_and_of_bytes(tmp_path):
    save_file({"a": torch.zeros(2)}, tmp_path / "a.safetensors", metadata={"k": "v"})
    assert safetensors_metadata(tmp_path / "a.safetensors") == {"k": "v"}
    assert safetensors_metadata((tmp_path / "a.safetensors").read_bytes()) == {"k": "v"}
    save_file({"a": torch.zeros(2)}, tmp_path / "b.safetensors")
    assert safetensors_metadata(tmp_path / "b.safetensors") == {}
    with pytest.raises(ValueError, match="The safetensors header is corrupt"):
        safetensors_metadata(np.uint64(1 << 40).tobytes() + b"{}")
