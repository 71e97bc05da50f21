"""keras.utils functions against Keras 3: to_categorical, normalize, split_dataset, PyDataset; clear_session and the
keras.preprocessing.image path."""

import warnings

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit.utils import PyDataset, Sequence, normalize, split_dataset, to_categorical

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "labels, num_classes",
    [([0, 1, 2, 3], 4), ([[1], [2], [0]], None), (np.array([[0, 1], [2, 1]]), 3), ([2, 0], 5), ([], 3)],
)
def test_to_categorical_matches_keras(labels, num_classes):
    want = keras.utils.to_categorical(labels, num_classes)
    got = to_categorical(labels, num_classes)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_to_categorical_on_a_tensor_stays_a_tensor():
    got = to_categorical(torch.tensor([[1], [0]]), 3)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    np.testing.assert_array_equal(got.numpy(), keras.utils.to_categorical(np.array([[1], [0]]), 3))


def test_to_categorical_refuses_labels_out_of_range():
    with pytest.raises(ValueError) as info:
        to_categorical([0, 3], num_classes=3)
    assert str(info.value) == (
        "Class index out of range. Expected integers from 0 to 2. Received: labels from 0 to 3 with num_classes=3. "
        "Pass num_classes=None (max + 1) or fix the labels."
    )
    with pytest.raises(ValueError, match="Class index out of range"):
        to_categorical([-1, 1], num_classes=3)


@pytest.mark.parametrize("axis, order", [(-1, 2), (-1, 1), (1, 3)])
def test_normalize_matches_keras(axis, order):
    x = np.random.default_rng(1).normal(size=(4, 5))
    x[1] = 0.0
    np.testing.assert_allclose(normalize(x, axis, order), keras.utils.normalize(x, axis, order), rtol=1e-12)
    got = normalize(torch.from_numpy(x), axis, order)
    np.testing.assert_allclose(got.numpy(), keras.utils.normalize(x, axis, order), rtol=1e-12)


def test_normalize_along_the_first_axis():
    # Keras' NumPy path fails here (it re-inserts the norm on the last axis); cnnkit divides each column by its norm.
    x = np.array([[3.0, 0.0], [4.0, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0), [[0.6, 0.0], [0.8, 0.0]])
    np.testing.assert_allclose(normalize(torch.from_numpy(x), axis=0).numpy(), [[0.6, 0.0], [0.8, 0.0]])


@pytest.mark.parametrize("left, right", [(0.7, None), (None, 3), (6, None), (0.5, 0.3)])
@pytest.mark.parametrize("seed", [3, 11])
def test_split_dataset_picks_the_samples_keras_picks(left, right, seed):
    data = (np.arange(10.0), np.arange(10) * 2)
    got = split_dataset(data, left_size=left, right_size=right, shuffle=True, seed=seed)
    if left is not None and right is not None:
        # Keras' torch path fails unless the sizes cover the dataset (random_split); cnnkit leaves the rest out.
        assert [len(g) for g in got] == [5, 3] and not set(got[0].indices) & set(got[1].indices)
        return
    want = keras.utils.split_dataset(data, left_size=left, right_size=right, shuffle=True, seed=seed)
    for g, w in zip(got, want, strict=True):
        assert list(g.indices) == list(w.indices)
        assert [tuple(t.item() for t in g[i]) for i in range(len(g))] == [
            tuple(t.item() for t in w[i]) for i in range(len(w))
        ]


def test_split_dataset_without_shuffle_keeps_order():
    left, right = split_dataset(np.arange(10).reshape(10, 1), left_size=0.8)
    assert list(left.indices) == list(range(8)) and list(right.indices) == [8, 9]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(), ValueError),
        (dict(left_size=0), ValueError),
        (dict(left_size=1.5), ValueError),
        (dict(left_size="half"), TypeError),
        (dict(left_size=0.6, right_size=0.6), ValueError),
    ],
)
def test_split_dataset_errors_are_keras_types(kwargs, error):
    data = np.arange(10.0)
    with pytest.raises(error):
        keras.utils.split_dataset(data, **kwargs)
    with pytest.raises(error):
        split_dataset(data, **kwargs)


def test_split_dataset_refuses_other_objects():
    with pytest.raises(TypeError, match="must be a `torch.utils.data.Dataset` object, or a list/tuple of arrays"):
        split_dataset("abc", left_size=0.5)


def _batches(lib, **kwargs):
    class Batches(lib.utils.PyDataset):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.begins = self.ends = 0

        def __len__(self):
            return 3

        def __getitem__(self, i):
            rng = np.random.default_rng(i)
            return rng.normal(size=(4, 5)).astype("float32"), rng.integers(0, 2, (4, 1)).astype("float32")

        def on_epoch_begin(self):
            self.begins += 1

        def on_epoch_end(self):
            self.ends += 1

    return Batches(**kwargs)


@pytest.mark.parametrize("workers", [1, 3])
def test_pydataset_trains_evaluates_and_predicts_like_keras(workers):
    reference = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    model = cnnkit.Sequential([cnnkit.Input((5,)), cnnkit.layers.Dense(1, activation="sigmoid")])
    model.set_weights(reference.get_weights())
    for m in (reference, model):
        m.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    # Keras' own multi-worker training drifts ~1e-5 from its single-worker run (measured); cnnkit's threads keep the
    # batch order, so both cnnkit settings are held to Keras' single-worker numbers.
    k_ds = _batches(keras, workers=1, use_multiprocessing=False, max_queue_size=2)
    c_ds = _batches(cnnkit, workers=workers, use_multiprocessing=False, max_queue_size=2)
    want = reference.fit(k_ds, epochs=2, verbose=0, shuffle=False).history
    got = model.fit(c_ds, epochs=2, verbose=0, shuffle=False).history
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5)
    # cnnkit calls on_epoch_begin/on_epoch_end once around each pass; Keras adds one on_epoch_end when its epoch
    # iterator is created, before any batch.
    assert (c_ds.begins, c_ds.ends) == (2, 2) and k_ds.ends >= 2
    np.testing.assert_allclose(model.evaluate(c_ds, verbose=0), reference.evaluate(k_ds, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(model.predict(c_ds, verbose=0), reference.predict(k_ds, verbose=0), rtol=1e-5, atol=1e-5)
    assert (c_ds.workers, c_ds.use_multiprocessing, c_ds.max_queue_size) == (workers, False, 2)


def test_pydataset_shuffle_reorders_batches_per_epoch():
    seen = []

    class Recorder(PyDataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            seen.append(i)
            return np.full((2, 1), float(i), dtype="float32"), np.zeros((2, 1), dtype="float32")

    model = cnnkit.Sequential([cnnkit.Input((1,)), cnnkit.layers.Dense(1)])
    model.compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Recorder skips super().__init__ on purpose (tested below)
        model.fit(Recorder(), epochs=2, verbose=0)
    first, second = seen[-12:-6], seen[-6:]
    assert sorted(first) == sorted(second) == list(range(6)) and first != second


def test_pydataset_without_super_init_warns_like_keras():
    class NoSuper(PyDataset):
        def __init__(self):
            pass

    with pytest.warns(UserWarning, match=r"Your `PyDataset` class should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert NoSuper().workers == 1


def test_sequence_is_pydataset():
    assert Sequence is PyDataset
    assert keras.utils.Sequence is keras.utils.PyDataset


def test_clear_session_resets_names_like_keras():
    cnnkit.layers.Dense(2)
    cnnkit.backend.clear_session()
    assert cnnkit.layers.Dense(2).name == "dense"
    assert cnnkit.backend.floatx() == keras.backend.floatx()
    assert cnnkit.backend.image_data_format() == keras.backend.image_data_format()
    assert cnnkit.backend.epsilon() == keras.backend.epsilon()


def test_preprocessing_image_path(tmp_path):
    from PIL import Image

    from cnnkit.preprocessing import image

    Image.fromarray(np.full((5, 4, 3), 200, dtype=np.uint8)).save(tmp_path / "a.png")
    got = image.img_to_array(image.load_img(tmp_path / "a.png", target_size=(3, 2)))
    want = keras.preprocessing.image.img_to_array(
        keras.preprocessing.image.load_img(tmp_path / "a.png", target_size=(3, 2))
    )
    np.testing.assert_array_equal(got, want)
    assert image.array_to_img(got).size == keras.preprocessing.image.array_to_img(want).size


@pytest.mark.parametrize("args", [(1,), ((1, 2),), (1, 2), (1, 2, 3), (1, None, 3)])
def test_pack_and_unpack_match_keras(args):
    assert cnnkit.utils.pack_x_y_sample_weight(*args) == keras.utils.pack_x_y_sample_weight(*args)
    packed = keras.utils.pack_x_y_sample_weight(*args)
    assert cnnkit.utils.unpack_x_y_sample_weight(packed) == keras.utils.unpack_x_y_sample_weight(packed)
    with pytest.raises(ValueError, match="Data is expected to be in format"):
        cnnkit.utils.unpack_x_y_sample_weight((1, 2, 3, 4))
