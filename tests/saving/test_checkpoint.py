"""Exact-resume checkpoint files: a round trip, metadata read through the safetensors library, damage refused."""

import pytest
import torch

from cnnkit.saving.checkpoint import load_state, save_state


def test_round_trip_keeps_tensors_and_values(tmp_path):
    state = {"w": torch.arange(3.0), "step": 7, "nested": [1.5, (None, "x")]}
    save_state(tmp_path / "c.safetensors", state)
    loaded = load_state(tmp_path / "c.safetensors")
    assert torch.equal(loaded["w"], state["w"]) and loaded["step"] == 7 and loaded["nested"] == [1.5, (None, "x")]


def test_truncated_or_missing_checkpoint_is_refused(tmp_path):
    save_state(tmp_path / "c.safetensors", {"w": torch.ones(64)})
    data = (tmp_path / "c.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(data[:-16])
    with pytest.raises(ValueError, match="is unreadable"):
        load_state(tmp_path / "t.safetensors")
    with pytest.raises(FileNotFoundError, match="No such checkpoint file"):
        load_state(tmp_path / "missing.safetensors")
