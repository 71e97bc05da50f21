"""Grad-CAM, feature maps and filters on hand-built models whose answers are known.

The models are small torch modules that follow cnnkit's layer contract (channels-last tensors between layers, a
``kernel`` of shape (out, in, kh, kw), a Keras-style ``name``, a ``layers`` list on the container), so these tests do
not depend on the rest of the library; tests/interpret/test_cnnkit_models.py runs the same checks on real cnnkit
Sequential, functional and nested models.
"""

import numpy as np
import pytest
import torch

from cnnkit.interpret import feature_maps, filters, grad_cam
from cnnkit.interpret.gradcam import default_cam_layer
from cnnkit.interpret.hooks import Hook, Hooks, registered_hook_count


class Conv(torch.nn.Module):
    def __init__(self, cin, cout, name, relu=True):
        super().__init__()
        self.name = name
        self.data_format = "channels_last"
        self.kernel = torch.nn.Parameter(torch.randn(cout, cin, 3, 3) * 0.3)
        self.bias = torch.nn.Parameter(torch.zeros(cout))
        self.relu = relu

    def forward(self, x):
        y = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), self.kernel, self.bias, padding=1).permute(0, 2, 3, 1)
        return torch.relu(y) if self.relu else y


class QuadrantMask(torch.nn.Module):
    """Zeroes everything outside one quadrant: only that region of the image can reach the class score."""

    def __init__(self, quadrant, name="mask"):
        super().__init__()
        self.name = name
        self.quadrant = quadrant

    def forward(self, x):
        h, w = x.shape[1] // 2, x.shape[2] // 2
        r, c = divmod(self.quadrant, 2)
        m = torch.zeros_like(x)
        m[:, r * h : (r + 1) * h, c * w : (c + 1) * w, :] = 1
        return x * m


class GAP(torch.nn.Module):
    name = "gap"

    def forward(self, x):
        return x.mean(dim=(1, 2))


class Dense(torch.nn.Module):
    def __init__(self, cin, cout, name="dense"):
        super().__init__()
        self.name = name
        # Positive weights: every channel counts for every class, so the class score grows with the activations.
        self.kernel = torch.nn.Parameter(torch.rand(cin, cout) + 0.1)

    def forward(self, x):
        return x @ self.kernel


class Stack(torch.nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        for i, m in enumerate(layers):
            self.add_module(str(i), m)

    def forward(self, x):
        for m in self.layers:
            x = m(x)
        return x


def masked_model(quadrant, seed=0):
    torch.manual_seed(seed)
    return Stack(Conv(3, 6, "conv2d"), Conv(6, 8, "conv2d_1"), QuadrantMask(quadrant), GAP(), Dense(8, 3))


def quadrant_slices(q, size=32):
    r, c = divmod(q, 2)
    h = size // 2
    return slice(r * h, (r + 1) * h), slice(c * h, (c + 1) * h)


@pytest.mark.parametrize("quadrant", [0, 1, 2, 3])
def test_grad_cam_points_at_the_only_region_that_matters(quadrant):
    model = masked_model(quadrant)
    image = np.random.default_rng(quadrant).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    heat = grad_cam(model, image, class_index=0)
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    rows, cols = quadrant_slices(quadrant)
    inside = np.zeros((32, 32), bool)
    inside[rows, cols] = True
    # The mask zeroes the activations outside the quadrant, so the heat map there is exactly 0; inside it peaks at 1.
    assert heat[~inside].max() == 0.0
    assert heat[inside].max() == pytest.approx(1.0)
    assert heat.min() >= 0.0
    assert registered_hook_count(model) == 0


def test_default_layer_is_the_last_4d_layer_at_the_last_convolution_resolution():
    model = masked_model(0)
    name, module = default_cam_layer(model, np.zeros((16, 16, 3), np.float32))
    assert name == "mask" and module is model.layers[2]


def test_grad_cam_with_an_explicit_layer_matches_a_manual_computation():
    model = masked_model(3)
    image = torch.rand(32, 32, 3, generator=torch.Generator().manual_seed(1))
    heat, cls = grad_cam(model, image, layer="conv2d", return_class=True)
    # Reference: the textbook formula written out with autograd on the first convolution.
    acts = model.layers[0](image[None])
    acts.retain_grad()
    out = model.layers[4](model.layers[3](model.layers[2](model.layers[1](acts))))
    assert cls == int(out[0].argmax())
    out[0, cls].backward()
    cam = torch.relu((acts.grad[0].mean(dim=(0, 1)) * acts[0]).sum(-1)).detach()
    cam = cam / cam.max()
    np.testing.assert_allclose(heat, cam.numpy(), atol=1e-5)  # same size: upsampling is the identity
    assert registered_hook_count(model) == 0


def test_grad_cam_on_a_channels_first_torch_conv_and_upsamples():
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):
            a = torch.relu(self.conv(x.permute(0, 3, 1, 2)))
            return self.fc(a.mean(dim=(2, 3)))

    net = Net()
    image = torch.rand(20, 20, 3)
    heat = grad_cam(net, image, class_index=1, layer="conv")
    a = net.conv(image.permute(2, 0, 1)[None])
    a.retain_grad()
    net.fc(torch.relu(a).mean(dim=(2, 3)))[0, 1].backward()
    cam = torch.relu((a.grad[0].mean(dim=(1, 2))[:, None, None] * a[0]).sum(0)).detach()
    cam = torch.nn.functional.interpolate(cam[None, None], size=(20, 20), mode="bilinear")[0, 0]
    expected = (cam / cam.max()).numpy() if cam.max() > 0 else cam.numpy()
    assert heat.shape == (20, 20)
    np.testing.assert_allclose(heat, expected, atol=1e-5)


def test_grad_cam_works_when_every_layer_is_frozen():
    model = masked_model(1)
    for p in model.parameters():
        p.requires_grad_(False)
    heat = grad_cam(model, np.random.default_rng(0).uniform(size=(32, 32, 3)).astype(np.float32), class_index=0)
    assert heat.max() == pytest.approx(1.0)


def test_hooks_are_removed_even_when_grad_cam_raises():
    model = masked_model(0)
    with pytest.raises(ValueError, match=r"class_index is out of range. Expected 0 <= class_index < 3"):
        grad_cam(model, np.zeros((8, 8, 3), np.float32), class_index=7)
    assert registered_hook_count(model) == 0
    with pytest.raises(ValueError, match=r"No layer named 'nope' in the model"):
        grad_cam(model, np.zeros((8, 8, 3), np.float32), layer="nope")
    assert registered_hook_count(model) == 0


def test_hook_context_managers_remove_themselves():
    model = masked_model(0)
    with pytest.raises(RuntimeError):
        with Hooks(model.layers) as hooks:
            assert registered_hook_count(model) == len(model.layers)
            model(torch.zeros(1, 8, 8, 3))
            raise RuntimeError("boom")
    assert registered_hook_count(model) == 0
    assert [tuple(s.shape) for s in hooks.stored] == [(1, 8, 8, 6), (1, 8, 8, 8), (1, 8, 8, 8), (1, 8), (1, 3)]
    with Hook(model.layers[0], lambda m, gi, go: go[0], backward=True) as h:
        model(torch.rand(1, 8, 8, 3, requires_grad=True)).sum().backward()
    assert h.stored.shape == (1, 8, 8, 6) and h.calls == 1
    assert registered_hook_count(model) == 0


def test_feature_maps_are_the_convolution_outputs_channels_last():
    model = masked_model(0)
    image = torch.rand(12, 10, 3)
    maps = feature_maps(model, image)
    assert list(maps) == ["conv2d", "conv2d_1"]
    first = model.layers[0](image[None])[0].detach().numpy()
    np.testing.assert_allclose(maps["conv2d"], first, atol=1e-6)
    assert maps["conv2d_1"].shape == (12, 10, 8)
    assert list(feature_maps(model, image, layers=["mask", "gap"])) == ["mask", "gap"]
    assert registered_hook_count(model) == 0


def test_filters_are_the_first_kernels_in_keras_layout_scaled_to_unit_range():
    model = masked_model(0)
    raw = filters(model, normalize=False)
    np.testing.assert_array_equal(raw, model.layers[0].kernel.detach().permute(2, 3, 1, 0).numpy())
    shown = filters(model)
    assert shown.shape == (3, 3, 3, 6) and shown.min() == 0.0 and shown.max() == 1.0
    assert filters(model, layer="conv2d_1").shape == (3, 3, 6, 8)
    with pytest.raises(ValueError, match=r"filters\(\) needs a convolution. Expected a Conv2D layer"):
        filters(model, layer="dense")
