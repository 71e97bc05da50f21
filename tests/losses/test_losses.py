"""cnnkit losses against keras.losses (PyTorch backend), the logits shortcut, and error messages."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.losses as cl

keras = pytest.importorskip("keras")

# Tolerance: the same float32 formulas run through the same torch kernels as Keras' torch backend, so results
# agree to the rounding of the last ops: 1e-6 absolute, or 1e-6 relative for 'sum' reductions (a loss of 38 has
# a float32 ulp of 3.8e-6).
ATOL = RTOL = 1e-6
B, C = 12, 5


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((B, C)) * 3).astype("float32")
    labels = rng.integers(0, C, B)
    return {
        "logits": logits,
        "probs": torch.softmax(torch.tensor(logits), -1).numpy(),
        "labels": labels,
        "onehot": np.eye(C, dtype="float32")[labels],
        "soft": rng.dirichlet(np.ones(C), B).astype("float32"),
        "bin_true": rng.integers(0, 2, (B, 1)).astype("float32"),
        "bin_logits": (rng.standard_normal((B, 1)) * 4).astype("float32"),
        "bin_probs": rng.random((B, 1)).astype("float32"),
        "multi_true": rng.integers(0, 2, (B, 3)).astype("float32"),
        "multi_probs": rng.random((B, 3)).astype("float32"),
        "logits3": rng.standard_normal((B, 3)).astype("float32"),
        "sw": rng.random(B).astype("float32"),
    }


def _close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), np.asarray(theirs.cpu()), rtol=RTOL, atol=ATOL)


CASES = [
    ("BinaryCrossentropy", {}, "bin_true", "bin_probs"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "bin_true", "bin_probs"),
    ("BinaryCrossentropy", {"from_logits": True}, "bin_true", "bin_logits"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "multi_true", "multi_probs"),
    ("BinaryCrossentropy", {}, "multi_true", "multi_probs"),
    ("CategoricalCrossentropy", {}, "onehot", "probs"),
    ("CategoricalCrossentropy", {}, "soft", "probs"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot", "probs"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, "onehot", "logits"),
    ("SparseCategoricalCrossentropy", {}, "labels", "probs"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "logits"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 2}, "labels", "probs"),
    ("MeanSquaredError", {}, "soft", "probs"),
    ("MeanAbsoluteError", {}, "soft", "probs"),
    ("Huber", {}, "soft", "logits"),
    ("Huber", {"delta": 0.3}, "soft", "logits"),
    ("LogCosh", {}, "soft", "logits"),
    ("MeanAbsolutePercentageError", {}, "logits", "probs"),
    ("MeanSquaredLogarithmicError", {}, "soft", "logits"),
    ("CosineSimilarity", {}, "soft", "logits"),
    ("Hinge", {}, "multi_true", "multi_probs"),
    ("SquaredHinge", {}, "multi_true", "logits3"),
    ("CategoricalHinge", {}, "onehot", "logits"),
    ("KLDivergence", {}, "soft", "probs"),
    ("Poisson", {}, "soft", "probs"),
]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("name", "kwargs", "t", "p"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_class_matches_keras(data, name, kwargs, t, p, weighted, reduction):
    sw = data["sw"] if weighted else None
    theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)(data[t], data[p], sample_weight=sw)
    ours = getattr(cl, name)(reduction=reduction, **kwargs)(data[t], data[p], sample_weight=sw)
    _close(ours, theirs)


@pytest.mark.parametrize(
    ("fn", "t", "p"),
    [("binary_crossentropy", "bin_true", "bin_probs"), ("categorical_crossentropy", "onehot", "probs"),
     ("sparse_categorical_crossentropy", "labels", "probs"), ("mean_squared_error", "soft", "probs"),
     ("mean_absolute_error", "soft", "probs"), ("huber", "soft", "logits"), ("log_cosh", "soft", "logits"),
     ("hinge", "multi_true", "logits3"), ("kl_divergence", "soft", "probs"), ("poisson", "soft", "probs"),
     ("cosine_similarity", "soft", "logits"), ("mean_squared_logarithmic_error", "soft", "probs")],
)  # fmt: skip
def test_function_matches_keras(data, fn, t, p):
    _close(getattr(cl, fn)(data[t], data[p]), getattr(keras.losses, fn)(data[t], data[p]))


def test_label_shapes_keras_accepts(data):
    # (batch,) binary labels against (batch, 1) outputs, and (batch, 1) integer labels for sparse CCE.
    bce_ours = cl.BinaryCrossentropy()(data["bin_true"][:, 0], data["bin_probs"])
    _close(bce_ours, keras.losses.BinaryCrossentropy()(data["bin_true"][:, 0], data["bin_probs"]))
    scce = cl.SparseCategoricalCrossentropy()(data["labels"][:, None], data["probs"])
    _close(scce, keras.losses.SparseCategoricalCrossentropy()(data["labels"][:, None], data["probs"]))


def _with_logits(activation, logits):
    out = torch.sigmoid(logits) if activation == "sigmoid" else torch.softmax(logits, dim=-1)
    out._keras_logits = logits
    return out


def test_sigmoid_output_with_logits_gives_exact_bce_with_logits():
    logits = torch.tensor([[-60.0], [-20.0], [0.5], [25.0], [80.0]])
    y_true = torch.tensor([[1.0], [1.0], [0.0], [0.0], [1.0]])
    probs = _with_logits("sigmoid", logits)
    exact = F.binary_cross_entropy_with_logits(logits, y_true)
    assert torch.equal(cl.BinaryCrossentropy()(y_true, probs), exact)
    assert float(exact) > 20  # the clipped-probability value would stop at -log(1e-7) = 16.1 per sample
    clipped = cl.BinaryCrossentropy()(y_true, probs.detach().clone())
    assert float(clipped) < float(exact)


def test_softmax_output_with_logits_gives_exact_log_softmax():
    logits = torch.tensor([[90.0, -30.0, 0.0], [1.0, 2.0, 3.0]], requires_grad=True)
    probs = _with_logits("softmax", logits)
    labels = torch.tensor([1, 0])
    exact = F.cross_entropy(logits, labels)
    assert torch.equal(cl.SparseCategoricalCrossentropy()(labels, probs), exact)
    assert torch.allclose(cl.CategoricalCrossentropy()(F.one_hot(labels, 3).float(), probs), exact, atol=0)
    cl.SparseCategoricalCrossentropy()(labels, probs).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_logits_from_another_activation_are_ignored():
    logits = torch.tensor([[2.0, -1.0]])
    probs = _with_logits("softmax", logits)
    probs._keras_activation = "softmax"
    y_true = torch.tensor([[1.0, 0.0]])
    expected = F.binary_cross_entropy(probs.detach(), y_true)
    assert torch.allclose(cl.BinaryCrossentropy()(y_true, probs), expected, atol=1e-7)


def test_from_logits_true_on_activated_output_warns():
    probs = _with_logits("sigmoid", torch.tensor([[3.0]]))
    with pytest.warns(UserWarning, match="produced by a sigmoid activation"):
        cl.BinaryCrossentropy(from_logits=True)(torch.tensor([[1.0]]), probs)


def test_get_and_names():
    assert cl.get("mse").name == "mse"
    assert isinstance(cl.get("CategoricalCrossentropy"), cl.CategoricalCrossentropy)
    wrapped = cl.get("sparse_categorical_crossentropy")
    assert wrapped.name == "sparse_categorical_crossentropy" and wrapped.fn is cl.sparse_categorical_crossentropy
    loss = cl.BinaryCrossentropy(label_smoothing=0.1)
    assert cl.get(loss) is loss
    config = json.loads(json.dumps({"class_name": "BinaryCrossentropy", "config": loss.get_config()}))
    assert cl.get(config).label_smoothing == 0.1

    def my_loss(y_true, y_pred):
        return (y_true - y_pred).abs().sum(-1)

    assert cl.get(my_loss).name == "my_loss"
    assert cl.get("huber").name == "huber" and cl.Huber().name == "huber_loss"
    with pytest.raises(ValueError) as err:
        cl.get("sparse_categorical_crosentropy")
    assert str(err.value) == (
        "Could not interpret loss identifier. Expected one of 'bce', 'binary_crossentropy', "
        "'categorical_crossentropy', 'categorical_hinge', 'cosine_similarity', 'hinge', 'huber', 'kl_divergence', "
        "'kld', 'log_cosh', 'mae', 'mape', 'mean_absolute_error', 'mean_absolute_percentage_error', "
        "'mean_squared_error', 'mean_squared_logarithmic_error', 'mse', 'msle', 'poisson', "
        "'sparse_categorical_crossentropy', 'squared_hinge', a Loss class name, a Loss object or a function "
        "fn(y_true, y_pred). Received: loss='sparse_categorical_crosentropy'. "
        "Did you mean 'sparse_categorical_crossentropy'?"
    )
    with pytest.raises(TypeError, match=r"Received: loss=3\. Check the spelling"):
        cl.get(3)


def test_integer_labels_to_categorical_crossentropy():
    probs = torch.softmax(torch.randn(4, 10), -1)
    expected = (
        "categorical_crossentropy received integer class labels, but it needs one-hot labels. Expected y_true of "
        "shape (4, 10) (one column per class). Received: y_true.shape={shape}, y_pred.shape=(4, 10). Use "
        "loss='sparse_categorical_crossentropy' for integer labels, or one-hot encode them "
        "(torch.nn.functional.one_hot(labels, 10))."
    )
    for labels in (torch.tensor([1, 2, 3, 4]), torch.tensor([[1], [2], [3], [4]])):
        with pytest.raises(ValueError) as err:
            cl.CategoricalCrossentropy()(labels, probs)
        assert str(err.value) == expected.format(shape=tuple(labels.shape))


def test_shape_mismatch_errors():
    with pytest.raises(ValueError) as err:
        cl.categorical_crossentropy(torch.zeros(4, 5), torch.full((4, 10), 0.1))
    assert str(err.value) == (
        "categorical_crossentropy needs labels and predictions of the same shape. Expected y_true.shape == "
        "y_pred.shape. Received: y_true.shape=(4, 5), y_pred.shape=(4, 10). Make the last layer's units equal "
        "the number of classes in the one-hot labels."
    )
    with pytest.raises(ValueError) as err:
        cl.BinaryCrossentropy()(torch.zeros(4, 1), torch.full((4, 3), 0.5))
    assert str(err.value) == (
        "binary_crossentropy needs labels and predictions of the same shape. Expected y_true.shape == "
        "y_pred.shape. Received: y_true.shape=(4, 1), y_pred.shape=(4, 3). Give one label per output unit, e.g. "
        "labels of shape (batch, 1) for a Dense(1, activation='sigmoid')."
    )
    with pytest.raises(ValueError) as err:
        cl.SparseCategoricalCrossentropy()(torch.zeros(4, 3), torch.full((4, 3), 1 / 3))
    assert str(err.value) == (
        "sparse_categorical_crossentropy needs one integer label per prediction. Expected y_true.shape=(4,) "
        "(or (4, 1)). Received: y_true.shape=(4, 3), y_pred.shape=(4, 3). The labels look one-hot: use "
        "loss='categorical_crossentropy', or pass labels.argmax(-1)."
    )


def test_label_out_of_range():
    with pytest.raises(ValueError) as err:
        cl.SparseCategoricalCrossentropy()(torch.tensor([0, 10]), torch.full((2, 10), 0.1))
    assert str(err.value) == (
        "A label is outside the range of classes. Expected integer labels in [0, 10) for predictions with 10 "
        "classes. Received: a label 10. Make the last layer's units equal the number of classes, or fix the labels."
    )
    # The ignored class may lie outside the range (e.g. 255 for "void" pixels).
    loss = cl.SparseCategoricalCrossentropy(ignore_class=255)(torch.tensor([0, 255]), torch.full((2, 10), 0.1))
    assert float(loss) == pytest.approx(-np.log(0.1), rel=1e-6)


def test_bad_reduction():
    with pytest.raises(ValueError) as err:
        cl.MeanSquaredError(reduction="avg")
    assert str(err.value) == (
        "Invalid value for argument `reduction`. Expected one of ('sum_over_batch_size', 'sum', None, 'none', "
        "'mean', 'mean_with_sample_weight'). Received: reduction='avg'. Use 'sum_over_batch_size' (the default) "
        "in almost all cases."
    )


def test_gradients_flow_and_no_grad_to_labels():
    logits = torch.randn(6, 4, requires_grad=True)
    loss = cl.CategoricalCrossentropy(from_logits=True)(torch.eye(4)[torch.tensor([0, 1, 2, 3, 0, 1])], logits)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_losses_do_not_sync_with_the_device():
    probs = torch.softmax(torch.randn(8, 5, device="cuda"), -1)
    labels = torch.randint(0, 5, (8,), device="cuda")
    sparse = cl.SparseCategoricalCrossentropy()
    sparse(labels, probs)  # the first call checks the label range once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        sparse(labels, probs)
        cl.CategoricalCrossentropy(label_smoothing=0.1)(torch.nn.functional.one_hot(labels, 5).float(), probs)
        cl.BinaryCrossentropy()(torch.ones(8, 1, device="cuda"), probs[:, :1], sample_weight=torch.ones(8).cuda())
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_cnnkit_sigmoid_layer_output_uses_its_logits():
    from cnnkit import Sequential, layers

    model = Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    x = torch.randn(6, 4) * 100  # saturates the sigmoid
    y_true = torch.tensor([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0]])
    y_pred = model(x)
    logits = x @ model.trainable_weights[0] + model.trainable_weights[1]
    expected = F.binary_cross_entropy_with_logits(logits, y_true)
    torch.testing.assert_close(cl.BinaryCrossentropy()(y_true, y_pred), expected, rtol=1e-6, atol=0)
    cl.BinaryCrossentropy()(y_true, y_pred).backward()
    assert all(torch.isfinite(w.grad).all() for w in model.trainable_weights)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch refuses binary_cross_entropy under CUDA autocast")
def test_binary_crossentropy_works_under_cuda_autocast(data):
    expected = cl.BinaryCrossentropy()(data["bin_true"], data["bin_probs"])
    with torch.autocast(device_type="cuda", dtype=torch.float16):
        got = cl.BinaryCrossentropy()(data["bin_true"], torch.tensor(data["bin_probs"]).cuda().half())
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-3, atol=1e-3)  # float16 inputs: ~3 digits
