"""Data handling: conversions, shuffling as a pure function of (seed, epoch), class weights as Keras computes them."""

import io

import numpy as np
import pytest
import torch

from cnnkit.common.progbar import Progbar, format_value, resolve_verbose
from cnnkit.training import data_adapter as da


def test_conversions_follow_keras_floatx():
    batches = da.adapt(np.zeros((4, 2, 2, 3), np.uint8), np.arange(4), np.ones(4, np.float64), batch_size=2)
    x, y, sw = batches.first_batch()
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and sw.dtype == torch.float32
    assert da.adapt(np.zeros((3, 2)), batch_size=2).first_batch()[0].dtype == torch.float32  # float64 -> float32
    assert da.adapt([[1, 2], [3, 4]], batch_size=1).num_samples == 2  # a nested list of numbers is one array


def test_batches_are_views_when_unshuffled_and_cover_all_samples():
    x = torch.arange(10.0).reshape(10, 1)
    batches = da.adapt(x, x, batch_size=4)
    got = [b[0] for b in batches.iterate(0)]
    assert [len(b) for b in got] == [4, 4, 2] and got[0].data_ptr() == x.data_ptr()  # no copy
    assert [b[0][0, 0].item() for b in batches.iterate(0, start_batch=1)] == [4.0, 8.0]


def test_shuffled_order_is_a_pure_function_of_seed_and_epoch():
    x = torch.arange(20.0).reshape(20, 1)

    def order(seed, epoch, start=0, shuffle=True):
        batches = da.adapt(x, batch_size=6, shuffle=shuffle, seed=seed)
        return torch.cat([b[0] for b in batches.iterate(epoch, start)]).flatten().tolist()

    assert order(1, 0) == order(1, 0) and order(1, 0) != order(1, 1) and order(1, 0) != order(2, 0)
    assert sorted(order(1, 0)) == list(range(20))
    assert order(1, 3, start=2) == order(1, 3)[12:]  # resuming mid-epoch gives the same remaining batches
    by_batch = order(1, 0, shuffle="batch")  # whole batches move, their contents stay together
    chunks = [by_batch[i : i + 6] for i in range(0, 20, 6)]
    assert sorted(map(tuple, chunks)) == sorted(tuple(range(i, min(i + 6, 20))) for i in range(0, 20, 6))


@pytest.mark.parametrize(
    "y",
    [np.array([0, 1, 2, 1]), np.array([[0], [2], [1], [1]]), np.eye(3)[[0, 2, 1, 1]], np.array([[0.0], [1.0], [1.0]])],
)
def test_class_weight_matches_keras(y):
    keras_utils = pytest.importorskip("keras.src.trainers.data_adapters.data_adapter_utils")
    class_weight = {0: 0.5, 1: 2.0, 2: 3.0}
    want = keras_utils.class_weight_to_sample_weights(y, class_weight)
    got = da.class_weight_to_sample_weight(torch.from_numpy(y), class_weight)
    np.testing.assert_array_equal(got.numpy(), want)


def test_generators_and_iterables_are_datasets():
    def gen():
        for i in range(3):
            yield np.full((2, 2), i, np.float32), np.array([i, i])

    batches = da.adapt(gen())
    got = [int(b[1][0]) for b in batches.iterate(0)]
    assert got == [0, 1, 2] and batches.steps is None
    listed = da.adapt(_Loader())
    assert listed.steps == 2 and [len(b[0]) for b in listed.iterate(0)] == [3, 3]


class _Loader:
    """A DataLoader-like object: __len__ and __iter__, no iterate()."""

    def __len__(self):
        return 2

    def __iter__(self):
        return iter([(torch.ones(3, 2), torch.zeros(3))] * 2)


def test_progbar_formats_like_keras():
    assert (
        format_value(0.123456) == "0.1235" and format_value(0.0001234) == "1.2340e-04" and format_value(0) == "0.0000"
    )
    out = io.StringIO()
    bar = Progbar(4, verbose=2, stream=out)
    for i in range(1, 5):
        bar.update(i, {"loss": 0.5})
    assert out.getvalue().startswith("4/4 - ") and out.getvalue().endswith("/step - loss: 0.5000\n")
    out = io.StringIO()
    bar = Progbar(100, verbose=1, stream=out, interval=3600)
    for i in range(1, 100):
        bar.update(i, {"loss": 0.25})
    assert out.getvalue().count("\r") == 1  # throttled: only the first step drew
    bar.update(100, {"loss": 0.25})
    assert out.getvalue().endswith("- loss: 0.2500\n") and "100/100 ━━━━━━━━━━━━━━━━━━━━" in out.getvalue()
    assert resolve_verbose("auto", io.StringIO()) == 2
