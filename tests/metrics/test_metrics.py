"""cnnkit metrics against keras.metrics over several batches; names, resolution of 'accuracy', errors."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import cnnkit.metrics as cm
from cnnkit.training.compile_utils import resolve_metric

keras = pytest.importorskip("keras")
from keras.src.utils import naming as keras_naming  # noqa: E402

# Tolerance: counts and means accumulate in float32 with the same formulas as Keras; 1e-6 allows a different
# summation order of weighted sums.
ATOL = 1e-6
B, C, BATCHES = 16, 6, 4


@pytest.fixture(scope="module")
def batches():
    rng = np.random.default_rng(0)
    out = []
    for _ in range(BATCHES):
        logits = rng.standard_normal((B, C)).astype("float32")
        labels = rng.integers(0, C, B)
        out.append({
            "logits": logits,
            "probs": torch.softmax(torch.tensor(logits), -1).numpy(),
            "labels": labels,
            "labels_col": labels[:, None],
            "onehot": np.eye(C, dtype="float32")[labels],
            "bin_true": rng.integers(0, 2, (B, 1)).astype("float32"),
            "bin_probs": rng.random((B, 1)).astype("float32"),
            "bin_logits": (rng.standard_normal((B, 1)) * 2).astype("float32"),
            "multi_true": rng.integers(0, 2, (B, 3)).astype("float32"),
            "multi_probs": rng.random((B, 3)).astype("float32"),
            "sw": rng.random(B).astype("float32"),
        })  # fmt: skip
    return out


CASES = [
    ("BinaryAccuracy", {}, "bin_true", "bin_probs"),
    ("BinaryAccuracy", {"threshold": 0.3}, "multi_true", "multi_probs"),
    ("CategoricalAccuracy", {}, "onehot", "probs"),
    ("SparseCategoricalAccuracy", {}, "labels", "probs"),
    ("SparseCategoricalAccuracy", {}, "labels_col", "probs"),
    ("TopKCategoricalAccuracy", {}, "onehot", "probs"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot", "probs"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "labels", "probs"),
    ("Precision", {}, "bin_true", "bin_probs"),
    ("Precision", {"thresholds": [0.2, 0.5, 0.8]}, "multi_true", "multi_probs"),
    ("Precision", {"class_id": 2}, "onehot", "probs"),
    ("Recall", {}, "bin_true", "bin_probs"),
    ("Recall", {"top_k": 2}, "onehot", "probs"),
    ("AUC", {}, "bin_true", "bin_probs"),
    ("AUC", {"num_thresholds": 50}, "multi_true", "multi_probs"),
    ("AUC", {"curve": "PR"}, "bin_true", "bin_probs"),
    ("AUC", {"summation_method": "majoring", "curve": "PR"}, "bin_true", "bin_probs"),
    ("AUC", {"summation_method": "minoring"}, "bin_true", "bin_probs"),
    ("AUC", {"thresholds": [0.1, 0.4, 0.45, 0.9]}, "bin_true", "bin_probs"),
    ("AUC", {"from_logits": True}, "bin_true", "bin_logits"),
    ("MeanSquaredError", {}, "onehot", "probs"),
    ("MeanAbsoluteError", {}, "multi_true", "multi_probs"),
    ("BinaryCrossentropy", {}, "bin_true", "bin_probs"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot", "probs"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "logits"),
    ("RootMeanSquaredError", {}, "onehot", "probs"),
    ("MeanAbsolutePercentageError", {}, "logits", "probs"),
    ("MeanSquaredLogarithmicError", {}, "onehot", "probs"),
    ("CosineSimilarity", {}, "onehot", "logits"),
    ("LogCoshError", {}, "onehot", "logits"),
    ("Hinge", {}, "multi_true", "multi_probs"),
    ("SquaredHinge", {}, "multi_true", "multi_probs"),
    ("CategoricalHinge", {}, "onehot", "logits"),
    ("KLDivergence", {}, "onehot", "probs"),
    ("Poisson", {}, "onehot", "probs"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("name", "kwargs", "t", "p"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_matches_keras_over_batches(batches, name, kwargs, t, p, weighted):
    # Both name counters start from zero (cnnkit's is reset by conftest); keras.backend.clear_session() does the
    # same for Keras but also collects garbage (0.5 s), so reset only its name counter.
    keras_naming.reset_uids()
    theirs, ours = getattr(keras.metrics, name)(**kwargs), getattr(cm, name)(**kwargs)
    assert ours.name == theirs.name
    for i, batch in enumerate(batches):
        sw = batch["sw"] if weighted else None
        theirs.update_state(batch[t], batch[p], sample_weight=sw)
        ours.update_state(torch.tensor(batch[t]), torch.tensor(batch[p]), sample_weight=sw)
        if i == 1:  # results read mid-way must agree too
            np.testing.assert_allclose(ours.result().numpy(), np.asarray(theirs.result().cpu()), atol=ATOL)
    np.testing.assert_allclose(ours.result().numpy(), np.asarray(theirs.result().cpu()), atol=ATOL)
    ours.reset_state()
    theirs.reset_state()
    ours.update_state(batches[0][t], batches[0][p])
    theirs.update_state(batches[0][t], batches[0][p])
    np.testing.assert_allclose(ours.result().numpy(), np.asarray(theirs.result().cpu()), atol=ATOL)


def test_mean_matches_keras(batches):
    theirs, ours = keras.metrics.Mean(), cm.Mean()
    for batch in batches:
        theirs.update_state(batch["probs"], sample_weight=batch["sw"])
        ours.update_state(batch["probs"], sample_weight=batch["sw"])
        theirs.update_state(batch["sw"])
        ours.update_state(batch["sw"])
    np.testing.assert_allclose(ours.result().numpy(), np.asarray(theirs.result().cpu()), atol=ATOL)
    assert float(cm.Mean().result()) == 0.0  # empty mean is 0, not NaN


def test_default_names_follow_keras():
    assert cm.BinaryAccuracy().name == "binary_accuracy"
    assert [cm.Precision().name, cm.Precision().name, cm.AUC().name] == ["precision", "precision_1", "auc"]
    assert cm.AUC(name="auc_roc").name == "auc_roc"
    from cnnkit import clear_session

    clear_session()  # as keras.backend.clear_session()
    assert cm.Precision().name == "precision"


@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected"),
    [((8, 1), (8, 1), cm.BinaryAccuracy), ((8,), (8, 1), cm.BinaryAccuracy),
     ((8,), (8, 10), cm.SparseCategoricalAccuracy), ((8, 1), (8, 10), cm.SparseCategoricalAccuracy),
     ((8, 10), (8, 10), cm.CategoricalAccuracy)],
)  # fmt: skip
@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_resolve_accuracy_from_shapes(identifier, y_true, y_pred, expected):
    metric = resolve_metric(identifier, "mse", torch.zeros(y_true), torch.zeros(y_pred))
    assert type(metric) is expected and metric.name == identifier


@pytest.mark.parametrize(
    ("loss", "expected"),
    [("binary_crossentropy", cm.BinaryAccuracy), ("sparse_categorical_crossentropy", cm.SparseCategoricalAccuracy),
     ("categorical_crossentropy", cm.CategoricalAccuracy), ("CategoricalCrossentropy", cm.CategoricalAccuracy)],
)  # fmt: skip
def test_resolve_accuracy_from_loss(loss, expected):
    assert type(resolve_metric("accuracy", loss)) is expected


def test_resolve_other_metrics_keep_their_names():
    assert type(resolve_metric("AUC")) is cm.AUC and resolve_metric("AUC").name == "AUC"
    assert resolve_metric("precision").name == "precision"
    assert type(resolve_metric("mse")) is cm.MeanSquaredError and resolve_metric("mse").name == "mse"
    recall = cm.Recall(name="my_recall")
    assert resolve_metric(recall) is recall and recall.name == "my_recall"

    def hits(y_true, y_pred):
        return (y_true == y_pred).float()

    assert resolve_metric(hits).name == "hits"


def test_errors():
    with pytest.raises(ValueError) as err:
        resolve_metric("accuracy", "mse")
    assert str(err.value) == (
        "Cannot tell which accuracy 'accuracy' means. Expected example labels and predictions, or a crossentropy "
        "loss. Received: loss='mse', y_true=None, y_pred=None. Pass y_true and y_pred from the first batch, or "
        "name the metric, e.g. 'sparse_categorical_accuracy'."
    )
    with pytest.raises(ValueError, match=r"^Could not interpret metric identifier\. Expected 'accuracy', one of "):
        cm.get("f1")
    with pytest.raises(ValueError, match=r"Received: metric='precison'\. Did you mean 'precision'\?$"):
        cm.get("precison")
    with pytest.raises(ValueError) as err:
        cm.Precision(thresholds=[0.5, 1.5])
    assert str(err.value) == (
        "Threshold values must be in [0, 1]. Expected floats between 0 and 1. Received: [1.5]. "
        "Pass thresholds such as 0.5 or [0.3, 0.5, 0.7]."
    )


def test_config_round_trip():
    for metric in (cm.BinaryAccuracy(threshold=0.7), cm.TopKCategoricalAccuracy(k=3), cm.AUC(curve="PR")):
        again = type(metric).from_config(metric.get_config())
        assert again.get_config() == metric.get_config()


def test_state_stays_on_the_predictions_device_without_sync(batches):
    metric = cm.SparseCategoricalAccuracy()
    metric.update_state(batches[0]["labels"], batches[0]["probs"])
    state = metric.variables
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 for v in state)
    if torch.cuda.is_available():
        for m in (cm.SparseCategoricalAccuracy(), cm.AUC(), cm.Precision(), cm.Mean()):
            y_true = torch.tensor(batches[0]["bin_true"]).cuda()
            y_pred = torch.tensor(batches[0]["bin_probs"]).cuda()
            args = (y_pred,) if isinstance(m, cm.Mean) and not isinstance(m, cm.MeanMetricWrapper) else (y_true, y_pred)
            m.update_state(*args)  # first update moves the state
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")
            try:
                m.update_state(*args)
            finally:
                torch.cuda.set_sync_debug_mode("default")
            assert m.variables[0].is_cuda
