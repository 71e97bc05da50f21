"""Metric.add_variable as Keras 3: a custom metric written for Keras runs unchanged and gives Keras' numbers."""

import numpy as np
import pytest
import torch

import cnnkit

keras = pytest.importorskip("keras")


def _true_positives(lib):
    class CategoricalTruePositives(lib.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")
            self.seen = self.add_variable(shape=(2,), initializer="ones", dtype="float32", name="seen")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = keras.ops.reshape(keras.ops.argmax(y_pred, axis=1), (-1, 1))
            values = keras.ops.cast(keras.ops.cast(y_true, "int32") == keras.ops.cast(y_pred, "int32"), "float32")
            if sample_weight is not None:
                values = keras.ops.multiply(
                    values, keras.ops.reshape(keras.ops.cast(sample_weight, "float32"), (-1, 1))
                )
            self.true_positives.assign_add(keras.ops.sum(values))
            self.seen.assign_add(keras.ops.ones((2,)))

        def result(self):
            return self.true_positives.value

    return CategoricalTruePositives()


def test_custom_metric_matches_keras():
    y_true = np.array([[0], [2], [1], [1]])
    y_pred = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1]], "float32")
    k_metric, c_metric = _true_positives(keras), _true_positives(cnnkit)
    for m in (k_metric, c_metric):
        m.update_state(y_true, y_pred, sample_weight=np.array([1.0, 2.0, 1.0, 0.5]))
        m.update_state(y_true[:2], y_pred[:2])
    assert float(c_metric.result()) == pytest.approx(float(k_metric.result())) == 5.5
    assert [v.name for v in c_metric.variables] == [v.name for v in k_metric.variables] == ["ctp", "seen"]
    np.testing.assert_array_equal(c_metric.seen.numpy(), keras.ops.convert_to_numpy(k_metric.seen.value))
    k_metric.reset_state()
    c_metric.reset_state()  # Keras resets every variable to zeros, whatever its initializer
    np.testing.assert_array_equal(c_metric.seen.numpy(), keras.ops.convert_to_numpy(k_metric.seen.value))
    assert float(c_metric.result()) == 0.0


def test_variable_is_a_plain_tensor_in_arithmetic_and_keeps_its_identity():
    metric = cnnkit.metrics.Mean()
    total = metric.total
    metric.update_state([1.0, 2.0])
    assert type(metric.total + 1) is torch.Tensor  # results never carry the variable type
    metric.to("cpu")
    assert metric.total is total and metric.variables[0] is total  # moved in place, references stay valid
    total.assign(5.0)
    assert float(metric.total) == 5.0 and total.path == "total"


def test_add_variable_refuses_other_dtypes():
    with pytest.raises(ValueError, match="cnnkit metrics accumulate in float32"):
        cnnkit.metrics.Mean().add_variable(shape=(), initializer="zeros", dtype="int32")
