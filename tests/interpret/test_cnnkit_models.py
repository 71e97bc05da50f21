"""Grad-CAM, feature maps and filters on real cnnkit models: Sequential, functional and nested."""

import numpy as np
import pytest
import torch

from cnnkit import layers
from cnnkit.interpret import feature_maps, filters, grad_cam
from cnnkit.interpret.gradcam import default_cam_layer
from cnnkit.interpret.hooks import registered_hook_count
from cnnkit.models import Model, Sequential


class QuadrantMask(layers.Layer):
    """Keeps one quadrant of the feature map and zeroes the rest: nothing else can reach the class score."""

    def __init__(self, quadrant=0, **kwargs):
        super().__init__(**kwargs)
        self.quadrant = quadrant

    def call(self, inputs, training=False):
        h, w = inputs.shape[1] // 2, inputs.shape[2] // 2
        r, c = divmod(self.quadrant, 2)
        mask = torch.zeros_like(inputs)
        mask[:, r * h : (r + 1) * h, c * w : (c + 1) * w, :] = 1
        return inputs * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "quadrant": self.quadrant}


def positive_head(model, name):
    dense = model.get_layer(name)
    kernel, bias = dense.get_weights()
    dense.set_weights([np.abs(kernel) + 0.05, bias])


def functional_masked(quadrant):
    torch.manual_seed(quadrant)
    inputs = layers.Input(shape=(32, 32, 3))
    x = layers.Conv2D(6, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = QuadrantMask(quadrant, name="mask")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(3, activation="softmax", name="head")(x)
    model = Model(inputs, outputs)
    positive_head(model, "head")
    return model


def inside_mask(quadrant, size=32):
    r, c = divmod(quadrant, 2)
    h = size // 2
    m = np.zeros((size, size), bool)
    m[r * h : (r + 1) * h, c * h : (c + 1) * h] = True
    return m


IMAGE = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)


@pytest.mark.parametrize("quadrant", [0, 3])
def test_grad_cam_on_a_functional_model_points_at_the_quadrant(quadrant):
    model = functional_masked(quadrant)
    assert default_cam_layer(model, IMAGE)[0] == "mask"
    heat = grad_cam(model, IMAGE, class_index=1)
    inside = inside_mask(quadrant)
    assert heat[~inside].max() == 0.0 and heat[inside].max() == pytest.approx(1.0)
    assert registered_hook_count(model) == 0


def test_grad_cam_on_a_nested_model_and_sequential():
    base = functional_masked(2)
    base_trunk = Model(base.inputs, base.get_layer("mask").output, name="trunk")
    clf = Sequential(
        [layers.Input(shape=(32, 32, 3)), base_trunk, layers.GlobalAveragePooling2D(), layers.Dense(3, name="out")]
    )
    positive_head(clf, "out")
    name, _ = default_cam_layer(clf, IMAGE)
    assert name == "mask"  # found inside the nested model
    heat = grad_cam(clf, IMAGE, class_index=0)
    inside = inside_mask(2)
    assert heat[~inside].max() == 0.0 and heat[inside].max() == pytest.approx(1.0)
    assert registered_hook_count(clf) == 0


def test_tutorial_cnn_sigmoid_output_uses_the_logit():
    torch.manual_seed(0)
    model = Sequential(
        [
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    image = np.random.default_rng(1).uniform(0, 255, (64, 64, 3)).astype(np.float32)
    # 0..255 inputs saturate the sigmoid (p rounds to 0 or 1); the heat map must still come from the logit.
    heat, cls = grad_cam(model, image, return_class=True)
    first, second = model.layers[0].name, model.layers[2].name  # automatic names count up across tests
    assert default_cam_layer(model, image)[1] is model.layers[2]
    assert heat.shape == (64, 64) and heat.max() == pytest.approx(1.0)
    assert cls == int(float(model(image[None]).detach()[0, 0]) > 0.5)
    maps = feature_maps(model, image)
    assert {k: v.shape for k, v in maps.items()} == {first: (62, 62, 32), second: (29, 29, 64)}
    np.testing.assert_array_equal(filters(model, normalize=False), model.layers[0].get_weights()[0])
    assert registered_hook_count(model) == 0
