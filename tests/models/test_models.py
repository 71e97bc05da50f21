"""Model API: Sequential, functional, subclassing, freezing, weights access, errors."""

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import layers as L
from cnnkit.models import Model, Sequential


def tutorial_model():
    return Sequential(
        [
            L.Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dense(128, activation="relu"),
            L.Dense(1, activation="sigmoid"),
        ]
    )


def test_tutorial_model_has_keras_parameter_count_and_names():
    model = tutorial_model()
    assert model.count_params() == 1_625_281
    assert [layer.name for layer in model.layers] == [
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
        "max_pooling2d_1",
        "flatten",
        "dense",
        "dense_1",
    ]
    assert model.get_layer("dense").units == 128
    assert model.get_layer(index=-1).units == 1
    out = model(np.zeros((2, 64, 64, 3)))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 1)


def test_sequential_add_builds_lazily_then_on_first_call():
    model = Sequential()
    model.add(L.Conv2D(4, 3))
    model.add(L.Flatten())
    model.add(L.Dense(2))
    assert not model.built
    with pytest.raises(ValueError, match="is not built yet"):
        model.count_params()
    model(np.zeros((1, 8, 8, 3), dtype="float32"))
    assert model.built and model.count_params() == (27 * 4 + 4) + (6 * 6 * 4 * 2 + 2)


def test_sequential_with_input_first_and_layer_output_access():
    model = Sequential([L.Input((10, 10, 1)), L.Conv2D(2, 3, name="features"), L.Flatten(), L.Dense(1)])
    extractor = Model(model.inputs, model.get_layer("features").output)
    out = extractor(np.ones((3, 10, 10, 1)))
    assert out.shape == (3, 8, 8, 2)
    torch.testing.assert_close(out, model.get_layer("features")(np.ones((3, 10, 10, 1))))


def test_functional_multiple_outputs_and_model_as_layer():
    inputs = L.Input((6,))
    hidden = L.Dense(4, activation="relu")(inputs)
    a = L.Dense(2, name="a")(hidden)
    b = L.Dense(3, name="b")(hidden)
    two_heads = Model(inputs, [a, b])
    outer_in = L.Input((6,))
    x, y = two_heads(outer_in)
    outer = Model(outer_in, L.Concatenate()([x, y]))
    data = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    ra, rb = two_heads(data)
    torch.testing.assert_close(outer(data), torch.cat([ra, rb], dim=-1))
    assert outer.count_params() == two_heads.count_params()


def test_subclassed_model_trains_in_torch_and_counts_params():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.conv = L.Conv2D(4, 3, activation="relu")
            self.pool = L.GlobalAveragePooling2D()
            self.drop = L.Dropout(0.5)
            self.out = L.Dense(1)

        def call(self, x):
            return self.out(self.drop(self.pool(self.conv(x))))

    net = Net()
    x = torch.randn(2, 8, 8, 3)
    torch.testing.assert_close(net(x), net(x))  # inference: dropout off
    assert net.count_params() == (27 * 4 + 4) + 5
    # The training flag reaches nested layers through the call context, as in Keras.
    assert not torch.equal(net(x, training=True), net(x, training=True))
    net(x, training=True).sum().backward()
    assert all(w.grad is not None for w in net.trainable_weights)


def test_freezing_a_model_freezes_every_layer():
    model = tutorial_model()
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 8
    assert all(not p.requires_grad for p in model.parameters())
    model.get_layer("dense_1").trainable = True
    model.trainable = True
    assert len(model.trainable_weights) == 8


def test_get_and_set_weights_round_trip_in_keras_layout():
    a, b = tutorial_model(), tutorial_model()
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).uniform(size=(2, 64, 64, 3))
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    assert a.get_weights()[0].shape == (3, 3, 3, 32)
    with pytest.raises(ValueError, match=r"expects 8 weight arrays .* Received: 7 arrays"):
        b.set_weights(a.get_weights()[:-1])


def test_state_dict_keys_use_layer_names():
    keys = list(tutorial_model().state_dict())
    assert keys[:2] == ["conv2d.kernel", "conv2d.bias"] and "dense_1.bias" in keys


# ----------------------------------------------------------------------------------------------- errors, verbatim
def test_missing_batch_axis_error():
    with pytest.raises(ValueError) as e:
        tutorial_model()(np.zeros((64, 64, 3)))
    assert str(e.value) == (
        "Layer 'conv2d' (Conv2D) expects a 4D input (batch, height, width, channels). Received: shape=(64, 64, 3). "
        "Add a batch axis: x[None]."
    )


def test_wrong_channels_error():
    model = tutorial_model()
    with pytest.raises(ValueError) as e:
        model(np.zeros((1, 64, 64, 1)))
    assert str(e.value) == (
        "Layer 'conv2d' (Conv2D) was built for inputs whose axis -1 has size 3. Received: shape=(1, 64, 64, 1). "
        "Feed inputs of the size it was built for, or create a new layer."
    )


def test_unknown_activation_lists_accepted_names():
    with pytest.raises(ValueError) as e:
        L.Dense(3, activation="rellu")
    assert str(e.value).startswith("Unknown activation 'rellu'. Expected one of: elu, exponential, gelu,")
    assert str(e.value).endswith("Received: activation='rellu'. Pass one of these names or a callable.")


def test_unknown_layer_argument_suggests_the_right_one():
    with pytest.raises(TypeError) as e:
        L.Conv2D(32, 3, activaton="relu")
    assert str(e.value).startswith(
        "Conv2D got unexpected keyword argument(s) 'activaton' (did you mean 'activation'?). Accepted arguments: "
        "filters, kernel_size, strides, padding,"
    )


def test_model_used_before_its_input_shape_is_known():
    model = Sequential([L.Dense(3)])
    with pytest.raises(ValueError) as e:
        model.summary()
    assert str(e.value) == (
        "Model 'sequential' is not built yet, so its summary is not known. Expected a built model. Give the input "
        "shape (input_shape=(64, 64, 3) on the first layer, or model.build((None, 64, 64, 3))), or call the model on "
        "a batch of data first."
    )


def test_functional_input_shape_error_and_disconnected_graph():
    inputs = L.Input((8, 8, 3))
    model = Model(inputs, L.Conv2D(2, 3)(inputs))
    with pytest.raises(
        ValueError,
        match=r"Input 0 of model 'functional' expects shape \(None, 8, 8, 3\). "
        r"Received: shape=\(2, 9, 9, 3\).",
    ):
        model(np.zeros((2, 9, 9, 3)))
    other = L.Input((4,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(inputs, L.Add()([L.Flatten()(inputs), L.Dense(192)(other)]))


def test_duplicate_layer_names_are_rejected():
    with pytest.raises(ValueError, match="unique names"):
        Sequential([L.Dense(2, name="x"), L.Dense(2, name="x")])


def test_clear_session_restarts_names():
    L.Dense(1)
    cnnkit.clear_session()
    assert L.Dense(1).name == "dense"


def test_input_dim_and_json_round_trip():
    model = Sequential([L.Dense(4, input_dim=3, activation="relu"), L.Dense(1)])
    assert model.count_params() == 16 + 5
    clone = cnnkit.models.model_from_json(model.to_json())
    assert clone.count_params() == 21 and clone.get_config() == model.get_config()
    inputs = L.Input((3,))
    functional = Model(inputs, L.Dense(2)(inputs))
    assert Model.from_config(functional.get_config()).count_params() == 8


def test_training_relu_after_pooling_gives_identical_outputs_and_gradients():
    model = tutorial_model()
    x = torch.rand(4, 64, 64, 3)

    def run(deferred):
        for w in model.trainable_weights:
            w.grad = None
        if deferred:
            out = model(x, training=True)  # Sequential moves each conv's ReLU after the following max pooling
        else:
            out = x
            for layer in model.layers:
                out = layer(out, training=True)
        out.sum().backward()
        return out.detach(), [w.grad.clone() for w in model.trainable_weights]

    assert model._relu_after_pool() == {0, 2}
    out_a, grads_a = run(True)
    out_b, grads_b = run(False)
    assert torch.equal(out_a, out_b)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)  # same math; only summation order may differ


def test_training_moves_relu_layers_after_pooling_with_identical_outputs_and_gradients():
    # Conv-BN-ReLU-MaxPool (the tutorial CNN with BatchNorm, VGG-BN style): the ReLU layer runs after the pooling.
    model = cnnkit.models.Sequential(
        [
            L.Input((12, 12, 3)),
            L.Conv2D(4, 3, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.ReLU(),
            L.MaxPooling2D(),
            L.Conv2D(5, 3, padding="same"),
            L.Activation("relu"),
            L.MaxPooling2D(),
            L.ReLU(max_value=6.0),  # not a plain ReLU: stays where it is
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(3),
        ]
    )
    assert model._relu_after_pool() == {2, 5}
    x = torch.randn(6, 12, 12, 3)

    def run(deferred):
        for w in model.trainable_weights:
            w.grad = None
        if deferred:
            out = model(x, training=True)
        else:
            out = x
            for layer in model.layers:
                out = layer(out, training=True)
        (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
        return out.detach(), [w.grad.clone() for w in model.trainable_weights]

    out_a, grads_a = run(True)
    out_b, grads_b = run(False)
    torch.testing.assert_close(out_a, out_b, rtol=1e-6, atol=1e-6)  # BatchNorm's batch statistics: same math
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    calls = []
    model.layers[2].register_forward_hook(lambda *args: calls.append(1))
    model(x, training=True)
    assert calls == []  # the training path skipped the ReLU layer (its ReLU ran after the pooling)
    model(x, training=False)
    assert calls == [1]
