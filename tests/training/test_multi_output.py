"""Multi-output compile against Keras 3 (torch backend): same History/evaluate keys, same numbers with copied weights.

Each case builds the same two-output functional model in both libraries (cnnkit gets Keras' initial weights), trains a
few SGD steps without shuffling and compares every History value and the evaluate() results. Tolerance 1e-5: a few
float32 steps of a tiny dense model differ by ulps between the two libraries; a wrong weighting or a missing sample
weight moves the loss by far more.
"""

import numpy as np
import pytest

import cnnkit

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 6)).astype("float32")
YA = RNG.integers(0, 3, size=(24,))
YB = RNG.normal(size=(24, 1)).astype("float32")
SW = RNG.uniform(0.5, 1.5, size=(24,)).astype("float32")


def _model(lib):
    inputs = lib.Input((6,), name="inp")
    hidden = lib.layers.Dense(8, activation="relu", name="hid")(inputs)
    a = lib.layers.Dense(3, activation="softmax", name="output_a")(hidden)
    b = lib.layers.Dense(1, name="output_b")(hidden)
    return lib.Model(inputs, [a, b])


def _pair():
    reference = _model(keras)
    model = _model(cnnkit)
    model.set_weights(reference.get_weights())
    return reference, model


CASES = {
    "dict": dict(
        loss={"output_a": "sparse_categorical_crossentropy", "output_b": "mse"},
        metrics={"output_a": ["accuracy"], "output_b": ["mae", "mse"]},
    ),
    "list_weights": dict(
        loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]], loss_weights=[1.0, 0.5]
    ),
    "none_for_one_output": dict(loss=["sparse_categorical_crossentropy", None], metrics=[["accuracy"], None]),
    "dict_weights_weighted_metrics": dict(
        loss={"output_a": "sparse_categorical_crossentropy", "output_b": "mse"},
        weighted_metrics={"output_b": ["mae"]},
        loss_weights={"output_a": 2.0, "output_b": 1.0},
    ),
    "one_loss_for_all": dict(loss="mse", metrics=None),
}


def _targets(case):
    if case == "one_loss_for_all":
        return [np.eye(3, dtype="float32")[YA], YB]
    if case == "dict":  # Keras fails on dict targets with a sample_weight (KeyError 0), so only here
        return {"output_a": YA, "output_b": YB}
    return [YA, YB]


@pytest.mark.parametrize("case", sorted(CASES))
def test_history_and_evaluate_match_keras(case):
    reference, model = _pair()
    reference.compile(optimizer="sgd", **CASES[case])
    model.compile(optimizer="sgd", **CASES[case])
    y = _targets(case)
    kwargs = dict(batch_size=8, epochs=2, shuffle=False, verbose=0, validation_split=0.25)
    if case == "dict_weights_weighted_metrics":
        kwargs["sample_weight"] = SW
    want = reference.fit(X, y, **kwargs).history
    got = model.fit(X, y, **kwargs).history
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)
    want_eval = reference.evaluate(X, y, batch_size=8, verbose=0, return_dict=True)
    got_eval = model.evaluate(X, y, batch_size=8, verbose=0, return_dict=True)
    assert list(got_eval) == list(want_eval)
    assert got_eval == pytest.approx(want_eval, rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(
        model.evaluate(X, y, batch_size=8, verbose=0), reference.evaluate(X, y, batch_size=8, verbose=0), rtol=1e-5
    )
    for g, w in zip(model.predict(X, verbose=0), reference.predict(X, verbose=0), strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, y, message",
    [
        (
            dict(loss={"output_a": "sparse_categorical_crossentropy"}),
            {"output_a": YA, "output_b": YB},
            "Expected keys ['output_a', 'output_b'] in loss dict, but found loss.keys()=['output_a']",
        ),
        (
            dict(loss=["sparse_categorical_crossentropy", "mse"], metrics=["mae"]),
            [YA, YB],
            "Invalid `metrics`. `metrics` should contain metrics objects and either be a dict or a list matching the "
            "output names of the functional model ['output_a', 'output_b']",
        ),
    ],
)
def test_structure_errors_are_keras_value_errors(kwargs, y, message):
    reference, model = _pair()
    reference.compile(optimizer="sgd", **kwargs)
    model.compile(optimizer="sgd", **kwargs)
    with pytest.raises(ValueError):
        reference.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError) as info:
        model.fit(X, y, epochs=1, verbose=0)
    assert message in str(info.value)


def test_output_names_are_the_output_layers():
    model = _model(cnnkit)
    assert model.output_names == _model(keras).output_names == ["output_a", "output_b"]
