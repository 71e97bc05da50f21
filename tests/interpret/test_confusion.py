import numpy as np
import pytest
import torch

from cnnkit.interpret import collect_predictions, confusion_matrix, per_class_metrics, top_losses


def test_confusion_matrix_counts_true_rows_predicted_columns():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    cm = confusion_matrix(t, p, 4)
    expected = np.zeros((4, 4), np.int64)
    for a, b in zip(t, p, strict=True):  # the definition, one example at a time
        expected[a, b] += 1
    np.testing.assert_array_equal(cm, expected)
    # one-hot labels are accepted too
    np.testing.assert_array_equal(confusion_matrix(np.eye(4)[t], p, 4), expected)


def test_confusion_matrix_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"y_pred holds a class index outside \[0, 2\)"):
        confusion_matrix([0, 1], [0, 2], 2)
    with pytest.raises(ValueError, match="y_true and y_pred must have the same number of labels"):
        confusion_matrix([0, 1], [0], 2)


def test_per_class_metrics_by_hand():
    cm = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    m = per_class_metrics(cm)
    np.testing.assert_allclose(m["precision"], [5 / 7, 3 / 4, 0.0])
    np.testing.assert_allclose(m["recall"], [5 / 6, 3 / 5, 0.0])
    f1 = [2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6), 2 * 0.75 * 0.6 / 1.35, 0.0]
    np.testing.assert_allclose(m["f1"], f1)
    np.testing.assert_array_equal(m["support"], [6, 5, 0])


def test_top_losses_are_the_highest_cross_entropies():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 50)
    model = torch.nn.Identity()  # the "images" are the logits, so the losses are known
    worst = top_losses(model, (logits, labels), k=4, batch_size=7)
    ce = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none").numpy()
    order = np.argsort(-ce)[:4]
    np.testing.assert_array_equal(worst.indices, order)
    np.testing.assert_allclose(worst.losses, ce[order], rtol=1e-5)
    np.testing.assert_array_equal(worst.y_true, labels[order])
    np.testing.assert_array_equal(worst.y_pred, logits[order].argmax(1))
    np.testing.assert_allclose(worst.images, logits[order])


def test_collect_predictions_from_batches_with_binary_sigmoid_outputs():
    probs = np.array([[0.9], [0.2], [0.6], [0.4]], np.float32)
    labels = np.array([[1.0], [0.0], [0.0], [1.0]], np.float32)
    batches = [(torch.tensor(probs[:2]), torch.tensor(labels[:2])), (torch.tensor(probs[2:]), torch.tensor(labels[2:]))]
    preds = collect_predictions(torch.nn.Identity(), batches)
    np.testing.assert_allclose(preds.probs[:, 1], probs[:, 0])
    np.testing.assert_array_equal(preds.y_true, [1, 0, 0, 1])
    np.testing.assert_array_equal(preds.y_pred, [1, 0, 1, 0])
    assert preds.accuracy == 0.5
    np.testing.assert_allclose(preds.losses, -np.log([0.9, 0.8, 0.4, 0.4]), rtol=1e-5)
