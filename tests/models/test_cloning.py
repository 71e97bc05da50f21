"""clone_model and Model.input_shape/output_shape against Keras 3."""

import numpy as np
import pytest

import cnnkit

keras = pytest.importorskip("keras")


def _sequential(lib):
    return lib.Sequential(
        [
            lib.Input((8, 8, 3)),
            lib.layers.Conv2D(4, 3, activation="relu", name="conv"),
            lib.layers.Flatten(name="flat"),
            lib.layers.Dense(2, name="head"),
        ],
        name="seq",
    )


def _functional(lib):
    a = lib.Input((5,), name="a")
    b = lib.Input((3,), name="b")
    shared = lib.layers.Dense(4, name="shared")
    x = lib.layers.Concatenate(name="cat")([shared(a), lib.layers.Dense(4, name="side")(b)])
    return lib.Model([a, b], [lib.layers.Dense(1, name="out1")(x), lib.layers.Dense(2, name="out2")(x)], name="fn")


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_clone_has_the_same_structure_and_fresh_weights(build):
    reference, model = build(keras), build(cnnkit)
    k_clone, c_clone = keras.models.clone_model(reference), cnnkit.models.clone_model(model)
    assert type(c_clone) is type(model)
    assert c_clone.name == k_clone.name == model.name
    assert [layer.name for layer in c_clone.layers] == [layer.name for layer in k_clone.layers]
    assert c_clone.count_params() == k_clone.count_params() == model.count_params()
    assert c_clone.input_shape == k_clone.input_shape and c_clone.output_shape == k_clone.output_shape
    assert all(a is not b for a, b in zip(c_clone.layers, model.layers))
    differs = [not np.array_equal(a, b) for a, b in zip(c_clone.get_weights(), model.get_weights()) if a.ndim > 1]
    assert differs and all(differs)  # kernels re-initialized (biases start at zero on both)
    assert c_clone.trainer is None  # not compiled, as Keras' clone


def test_clone_function_sees_every_layer_and_can_share():
    model = _functional(cnnkit)
    seen = []

    def keep_shared(layer):
        seen.append(layer.name)
        return layer if layer.name == "shared" else type(layer).from_config(layer.get_config())

    clone = cnnkit.models.clone_model(model, clone_function=keep_shared)
    assert sorted(seen) == sorted(layer.name for layer in model.layers if layer.name not in ("a", "b"))
    assert clone.get_layer("shared") is model.get_layer("shared")
    assert clone.get_layer("out1") is not model.get_layer("out1")
    x = [np.ones((2, 5), "float32"), np.ones((2, 3), "float32")]
    assert [p.shape for p in clone.predict(x, verbose=0)] == [(2, 1), (2, 2)]


def test_clone_on_new_input_tensors_and_call_function():
    model = _sequential(cnnkit)
    functional = _functional(cnnkit)
    inputs = [cnnkit.Input((5,), name="fresh_a"), cnnkit.Input((3,), name="fresh_b")]
    assert cnnkit.models.clone_model(functional, input_tensors=inputs).inputs == inputs
    clone = cnnkit.models.clone_model(model, input_tensors=cnnkit.Input((8, 8, 3)))
    assert clone.input_shape == (None, 8, 8, 3) and clone.output_shape == (None, 2)
    with pytest.raises(ValueError, match=r"input_tensors must be 2 symbolic tensor\(s\)"):
        cnnkit.models.clone_model(functional, input_tensors=inputs[:1])
    calls = []

    def call(layer, *args, **kwargs):
        calls.append(layer.name)
        return layer(*args, **kwargs)

    cnnkit.models.clone_model(functional, call_function=call)
    assert calls == [node.layer.name for node in functional._exec_nodes]


def test_clone_argument_errors_match_keras():
    for lib in (keras, cnnkit):
        with pytest.raises(ValueError, match="Unexpected keyword argument"):
            lib.models.clone_model(_sequential(lib), bogus=1)
        with pytest.raises(ValueError, match="`call_function` argument is not supported with Sequential models"):
            lib.models.clone_model(_sequential(lib), call_function=lambda *a, **k: None)


def test_input_and_output_shape_match_keras():
    for build in (_sequential, _functional):
        reference, model = build(keras), build(cnnkit)
        assert model.input_shape == reference.input_shape
        assert model.output_shape == reference.output_shape
    unbuilt_k, unbuilt_c = keras.Sequential([keras.layers.Dense(2)]), cnnkit.Sequential([cnnkit.layers.Dense(2)])
    for m in (unbuilt_k, unbuilt_c):
        with pytest.raises(AttributeError):
            m.input_shape  # noqa: B018
    assert not hasattr(unbuilt_c, "output_shape")
