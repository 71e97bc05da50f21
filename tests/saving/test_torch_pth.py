"""torchvision .pth files: weights_only=True only, and nothing but a mapping of names to tensors."""

import pytest
import torch

from cnnkit.saving.torch_pth import read_torch_state_dict


class _Payload:
    """Any class outside torch's weights-only allow-list stands in for a malicious pickle."""


def test_state_dict_is_read_and_unwrapped(tmp_path):
    torch.save({"state_dict": {"conv1.weight": torch.ones(2)}}, tmp_path / "wrapped.pth")
    state = read_torch_state_dict(tmp_path / "wrapped.pth")
    assert list(state) == ["conv1.weight"] and torch.equal(state["conv1.weight"], torch.ones(2))


def test_pth_with_a_non_tensor_is_refused(tmp_path):
    torch.save({"conv1.weight": torch.zeros(1), "extra": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=r"holds objects other than tensors, which cnnkit refuses to unpickle"):
        read_torch_state_dict(tmp_path / "evil.pth")
    torch.save({"conv1.weight": torch.zeros(1), "epoch": 3}, tmp_path / "epoch.pth")
    with pytest.raises(ValueError, match=r"The .pth file does not hold a state dict.*holding dict"):
        read_torch_state_dict(tmp_path / "epoch.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match=r"The .pth file does not hold a state dict.*holding list"):
        read_torch_state_dict(tmp_path / "list.pth")


def test_a_file_of_another_format_is_not_unpickled(tmp_path, small_model):
    small_model().save_weights(tmp_path / "w.pth")
    with pytest.raises(ValueError, match=r"The file is not a PyTorch .pth file.*which is a safetensors file"):
        read_torch_state_dict(tmp_path / "w.pth")
