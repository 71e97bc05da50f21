"""The pure converters, checked against the torch.nn operations they stand in for."""

from __future__ import annotations

import pytest
import torch

from cnnkit.applications.convert import (
    assign_weights,
    fold_bias_into_batchnorm,
    linear_chw_to_hwc,
    torchvision_to_cnnkit,
    tv_module_to_layer,
)


def test_linear_after_flatten_permutation():
    torch.manual_seed(0)
    fmap = torch.randn(2, 3, 4, 5)  # N, C, H, W
    linear = torch.nn.Linear(3 * 4 * 5, 7)
    expected = linear(fmap.flatten(1))  # torchvision: flatten in (C, H, W) order
    kernel = linear_chw_to_hwc(linear.weight.detach(), (3, 4, 5))
    got = fmap.permute(0, 2, 3, 1).reshape(2, -1) @ kernel + linear.bias  # cnnkit/Keras: (H, W, C) order
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)  # same sums, different float order
    with pytest.raises(ValueError, match=r"Expected 3\*4\*4=48 input features"):
        linear_chw_to_hwc(linear.weight.detach(), (3, 4, 4))


def test_fold_bias_into_batchnorm_is_exact():
    torch.manual_seed(0)
    z = torch.randn(6, 4)
    bias = torch.randn(4)
    bn = torch.nn.BatchNorm1d(4, eps=1.001e-5).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-1, 1)
    expected = bn(z + bias)
    bn.running_mean.copy_(fold_bias_into_batchnorm(bias, bn.running_mean))
    torch.testing.assert_close(bn(z), expected, rtol=1e-6, atol=1e-6)  # one float rounding of mean - b


def test_torchvision_keys_and_layouts():
    net = torch.nn.Sequential()
    net.add_module("conv1", torch.nn.Conv2d(3, 4, 3))
    net.add_module("bn1", torch.nn.BatchNorm2d(4))
    net.add_module("fc", torch.nn.Linear(4, 2))
    converted = torchvision_to_cnnkit(net.state_dict())
    assert set(converted) == {
        "conv1.kernel",
        "conv1.bias",
        "bn1.gamma",
        "bn1.beta",
        "bn1.moving_mean",
        "bn1.moving_variance",
        "fc.kernel",
        "fc.bias",
    }  # num_batches_tracked dropped
    assert converted["conv1.kernel"].shape == (4, 3, 3, 3)
    assert torch.equal(converted["fc.kernel"], net.fc.weight.t())
    assert tv_module_to_layer("layer1.0.downsample.0") == "layer1_0_downsample_0"


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(2, 3)


def test_assign_weights_reports_by_name():
    model = _Tiny()
    good = {"a.weight": torch.ones(3, 2), "a.bias": torch.zeros(3)}
    assign_weights(model, good, "test")
    assert torch.equal(model.a.weight, torch.ones(3, 2))
    bad = {"a.weight": torch.zeros(2, 3), "b.bias": torch.zeros(3)}
    with pytest.raises(ValueError) as info:
        assign_weights(model, bad, "weights='x.pth'")
    msg = str(info.value)
    assert msg.startswith("The weights do not fit the model. Expected exactly the model's 2 weights")
    assert "missing keys (1): a.bias" in msg and "unexpected keys (1): b.bias" in msg
    assert "a.weight: file (2, 3) vs model (3, 2)" in msg
    assert torch.equal(model.a.weight, torch.ones(3, 2))  # nothing copied on error
