"""Preprocessing and augmentation layers: Keras 3 numerics where the draw is fixed, identity in inference,
ranges and shapes in training, seeded determinism, use inside models and in the data pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit.data import augment as A
from cnnkit.layers.preprocessing.image import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
)
from cnnkit.layers.preprocessing.normalization import Normalization

# Outputs are on a 0..255 scale in float32; the two implementations do the same arithmetic in a different order,
# so they agree to a few float32 ulps of 255 (1e-3 leaves room for that and nothing else).
ATOL = 1e-3


def images(b=4, h=9, w=11, c=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, (b, h, w, c)).astype(np.float32))


def class_folder(root, counts):
    from PIL import Image

    for c, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = images(1, 10, 14, 3, seed=c * 100 + i)[0].numpy().astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def keras_out(layer, x, training=True):
    from keras import ops

    return ops.convert_to_numpy(layer(x.numpy(), training=training))


RANDOM_LAYERS = [
    lambda: RandomFlip(seed=1),
    lambda: RandomRotation(0.2, seed=1),
    lambda: RandomZoom(0.3, seed=1),
    lambda: RandomTranslation(0.2, 0.1, seed=1),
    lambda: RandomContrast(0.4, seed=1),
    lambda: RandomBrightness(0.3, seed=1),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_identity_in_inference_and_changes_in_training(make):
    x = images()
    layer = make()
    assert torch.equal(layer(x), x) and torch.equal(layer(x, training=False), x)
    y = layer(x, training=True)
    assert y.shape == x.shape and y.dtype == torch.float32 and not torch.equal(y, x)
    assert layer(x[0], training=True).shape == x[0].shape  # a single unbatched image


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_seeded_layers_are_reproducible(make):
    x = images()
    a, b = make(), make()
    first = a(x, training=True)
    assert torch.equal(first, b(x, training=True))  # same seed, same draws
    assert not torch.equal(first, a(x, training=True))  # the generator moves on


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_config_round_trip(make):
    layer = make()
    again = type(layer).from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


@pytest.mark.parametrize(
    ("mode", "flip"),
    [
        ("horizontal", lambda t: t.flip(1)),
        ("vertical", lambda t: t.flip(0)),
        ("horizontal_and_vertical", lambda t: t.flip(0).flip(1)),
    ],
)
def test_flip_exact(mode, flip):
    x = images(b=64)
    y = RandomFlip(mode, seed=3)(x, training=True)
    flipped = [torch.equal(yi, flip(xi)) for xi, yi in zip(x, y, strict=True)]
    kept = [torch.equal(yi, xi) for xi, yi in zip(x, y, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))  # each image: exactly flipped or untouched
    assert 10 < sum(flipped) < 54  # both outcomes occur (p = 1/2 each, 64 draws)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_sampling_matches_keras(fill_mode, interpolation):
    from keras import ops

    x = images(b=4, h=7, w=10)
    t = torch.tensor([[1.107, 0.303, -2.011, -0.197, 0.903, 1.513], [0.703, -0.397, 3.211, 0.503, 1.203, -2.689],
                      [1, 0, 0.4, 0, 1, -0.6],
                      [2.503, 0.103, -23.713, 0.0, 1.903, 16.213]])  # the last reaches two image sizes out  # fmt: skip
    # No sampling point lies on a rounding tie (a coordinate ending in .5): there "nearest" depends on the last bit
    # of the coordinate arithmetic, which differs between CPUs (AVX2, AVX512) in the reference itself.
    ys, xs = np.mgrid[0:7, 0:10]
    tt = t.numpy().astype(np.float64)[:, :, None, None]
    coords = np.stack([tt[:, 0] * xs + tt[:, 1] * ys + tt[:, 2], tt[:, 3] * xs + tt[:, 4] * ys + tt[:, 5]])
    assert np.abs(coords - np.floor(coords) - 0.5).min() > 5e-4
    ours = A.affine_sample(x, t, interpolation, fill_mode, fill_value=17.0)
    t8 = np.concatenate([t.numpy(), np.zeros((4, 2), np.float32)], axis=1)
    ref = ops.convert_to_numpy(ops.image.affine_transform(x.numpy(), t8, interpolation, fill_mode, 17.0))
    np.testing.assert_allclose(ours.numpy(), ref, atol=ATOL)


@pytest.mark.parametrize("fill_mode", ["reflect", "constant"])
def test_fixed_rotation_zoom_translation_match_keras(fill_mode):
    import keras

    x = images(b=2, h=8, w=12)
    cases = [
        (RandomRotation((0.1, 0.1), fill_mode=fill_mode), keras.layers.RandomRotation((0.1, 0.1), fill_mode=fill_mode)),
        (RandomZoom((0.3, 0.3), fill_mode=fill_mode), keras.layers.RandomZoom((0.3, 0.3), fill_mode=fill_mode)),
        (RandomZoom((-0.2, -0.2), (0.1, 0.1), fill_mode=fill_mode),
         keras.layers.RandomZoom((-0.2, -0.2), (0.1, 0.1), fill_mode=fill_mode)),
        (RandomTranslation((0.25, 0.25), (-0.1, -0.1), fill_mode=fill_mode),
         keras.layers.RandomTranslation((0.25, 0.25), (-0.1, -0.1), fill_mode=fill_mode)),
    ]  # fmt: skip
    for ours, ref in cases:
        np.testing.assert_allclose(ours(x, training=True).numpy(), keras_out(ref, x), atol=ATOL)


def test_rotation_direction_quarter_turn():
    x = torch.zeros(1, 5, 5, 1)
    x[0, 0, 4, 0] = 1.0  # top-right corner
    y = RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True)
    assert y[0, 0, 0, 0] == 1.0 and y.sum() == 1.0  # counter-clockwise: top-right goes to top-left


def test_brightness_and_contrast_ranges_and_formula():
    import keras

    x = images(b=16)
    np.testing.assert_allclose(RandomBrightness((0.1, 0.1))(x, training=True).numpy(),
                               keras_out(keras.layers.RandomBrightness((0.1, 0.1)), x), atol=ATOL)  # fmt: skip
    y = RandomBrightness(0.5, seed=2)(x, training=True)
    assert y.min() >= 0 and y.max() <= 255
    delta = (y - x).flatten(1)
    unclipped = (y > 0) & (y < 255)
    for i in range(16):  # one delta per image, within +-0.5 * 255
        d = (y[i] - x[i])[unclipped[i]]
        assert torch.allclose(d, d[0], atol=1e-3) and abs(float(d[0])) <= 127.5 + 1e-3
    assert delta.std() > 0
    c = RandomContrast((0.5, 0.2), seed=4)(x, training=True)
    assert c.min() >= 0 and c.max() <= 255
    # factor 1: unchanged; the formula itself
    same = A.adjust_contrast(x, torch.ones(16), (0, 255))
    np.testing.assert_allclose(same.numpy(), x.numpy(), atol=ATOL)
    half = A.adjust_contrast(x, torch.full((16,), 0.5), (0, 255))
    mean = x.mean(dim=(1, 2), keepdim=True)
    np.testing.assert_allclose(half.numpy(), ((x - mean) * 0.5 + mean).numpy(), atol=ATOL)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"interpolation": "nearest"}, {"interpolation": "bicubic"}, {"crop_to_aspect_ratio": True},
     {"pad_to_aspect_ratio": True, "fill_value": 9.0}],
)  # fmt: skip
def test_resizing_matches_keras(kwargs):
    import keras

    x = images(b=2, h=13, w=7)
    ours = Resizing(6, 8, **kwargs)
    np.testing.assert_allclose(ours(x).numpy(), keras_out(keras.layers.Resizing(6, 8, **kwargs), x, False),
                               atol=ATOL)  # fmt: skip
    assert ours(x, training=True).shape == (2, 6, 8, 3)


@pytest.mark.parametrize("size", [(5, 6), (20, 4)])
def test_center_crop_matches_keras(size):
    import keras

    x = images(b=2, h=9, w=11)
    np.testing.assert_allclose(CenterCrop(*size)(x).numpy(), keras_out(keras.layers.CenterCrop(*size), x, False),
                               atol=ATOL)  # fmt: skip


def test_random_crop_windows_and_inference():
    x = images(b=8, h=10, w=12)
    layer = RandomCrop(4, 5, seed=0)
    y = layer(x, training=True)
    assert y.shape == (8, 4, 5, 3)
    offsets = set()
    for xi, yi in zip(x, y, strict=True):
        hits = [(t, l) for t in range(7) for l in range(8) if torch.equal(xi[t : t + 4, l : l + 5], yi)]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) > 1  # per-image offsets
    # inference: the centered window with the target aspect ratio, resized (Keras' documented behaviour)
    np.testing.assert_allclose(layer(x).numpy(), A.resize(x, (4, 5), crop_to_aspect_ratio=True).numpy())


def test_normalization_adapt_matches_keras():
    import keras

    x = images(b=6, h=5, w=4)
    ours, ref = Normalization(), keras.layers.Normalization()
    ours.adapt(x.numpy())
    ref.adapt(x.numpy())
    mine, theirs = ours.get_weights(), ref.get_weights()
    assert [w.shape for w in mine] == [w.shape for w in theirs]  # mean, variance, count (Keras leaves count at 0)
    for a, b in zip(mine[:2], theirs[:2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    assert mine[2] == 120  # we record how many values each statistic saw
    np.testing.assert_allclose(ours(x).numpy(), keras_out(ref, x, False), atol=1e-4)
    inv = Normalization(invert=True, mean=ours.mean.numpy(), variance=ours.variance.numpy())
    np.testing.assert_allclose(inv(ours(x)).numpy(), x.numpy(), atol=1e-3)
    fixed = Normalization(mean=2.0, variance=4.0)
    np.testing.assert_allclose(fixed(x).numpy(), ((x - 2.0) / 2.0).numpy(), atol=1e-5)
    assert Normalization.from_config(fixed.get_config()).get_config() == fixed.get_config()


def test_normalization_adapts_on_a_dataset(tmp_path):
    from cnnkit.utils import image_dataset_from_directory

    class_folder(tmp_path / "d", {"a": 5, "b": 4})
    ds = image_dataset_from_directory(tmp_path / "d", image_size=(10, 14), batch_size=4, verbose=False, seed=1)
    norm = Normalization()
    norm.adapt(ds)
    every = torch.from_numpy(ds.as_numpy()[0]).double()
    np.testing.assert_allclose(norm.mean.numpy(), every.mean(dim=(0, 1, 2)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(norm.variance.numpy(), every.var(dim=(0, 1, 2), unbiased=False).numpy(), rtol=1e-4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RandomFlip("diagonal"), "RandomFlip got an unknown mode. Expected one of ['horizontal', 'vertical', "
         "'horizontal_and_vertical']. Received: mode='diagonal'. Pick one of those."),
        (lambda: RandomRotation(1.5), "RandomRotation factor is invalid. Expected a number or a (lower, upper) pair "
         "within [-1.0, 1.0]. Received: factor=1.5. Pass e.g. factor=0.2."),
        (lambda: RandomZoom(0.2, fill_mode="mirror"), "RandomZoom got an unknown fill_mode. Expected one of "
         "['reflect', 'wrap', 'constant', 'nearest']. Received: fill_mode='mirror'. Pick one of those."),
    ],
)  # fmt: skip
def test_argument_errors(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == message


def test_inside_sequential_and_functional_models():
    from cnnkit.layers import Conv2D, Input, Rescaling
    from cnnkit.models import Model, Sequential

    x = images(b=2, h=8, w=8)
    seq = Sequential([Input((8, 8, 3)), RandomFlip(seed=0), RandomRotation(0.1, seed=0), Rescaling(1 / 255.0),
                      Conv2D(2, 3)])  # fmt: skip
    plain = Sequential([Input((8, 8, 3)), Rescaling(1 / 255.0), Conv2D(2, 3)])
    plain.set_weights(seq.get_weights())
    assert torch.allclose(seq(x), plain(x))  # inference: augmentation is the identity
    assert not torch.allclose(seq(x, training=True), plain(x))
    inp = Input((12, 12, 3))
    out = CenterCrop(8, 8)(Resizing(12, 12)(inp))
    model = Model(inp, out)
    assert tuple(model(images(b=1, h=12, w=12)).shape) == (1, 8, 8, 3)


def test_pipeline_augmentation_is_a_function_of_seed_epoch_batch(tmp_path):
    from cnnkit.utils import image_dataset_from_directory

    class_folder(tmp_path / "d", {"a": 6, "b": 6})

    def load(**kw):
        return image_dataset_from_directory(tmp_path / "d", image_size=(10, 14), batch_size=4, seed=5,
                                            verbose=False, **kw)  # fmt: skip

    # an unseeded layer in the pipeline still draws from the (seed, epoch, batch) scope
    aug = [RandomFlip(), RandomRotation(0.1), RandomContrast(0.2)]
    a, b = load(augment=aug), load(augment=[RandomFlip(), RandomRotation(0.1), RandomContrast(0.2)])
    torch.manual_seed(123)  # the global generator does not matter inside the pipeline
    first = [x for x, _ in a.iterate(2)]
    torch.manual_seed(999)
    assert all(torch.equal(p, q) for p, q in zip(first, [x for x, _ in b.iterate(2)], strict=True))
    assert all(torch.equal(p, q) for p, q in zip(first[1:], [x for x, _ in a.iterate(2, start_batch=1)], strict=True))
    assert not torch.equal(first[0], next(a.iterate(3))[0])
    plain = load()
    assert not torch.equal(first[0], next(plain.iterate(2))[0])
    flip = RandomFlip(seed=0)
    mapped = plain.map(lambda x, y: (flip(x, training=True), y))
    assert torch.equal(next(mapped.iterate(1))[0], next(mapped.iterate(1))[0])


def test_prefetch_threads_change_nothing(tmp_path):
    from cnnkit.utils import image_dataset_from_directory

    class_folder(tmp_path / "d", {"a": 9, "b": 8})
    ds = image_dataset_from_directory(tmp_path / "d", image_size=(10, 14), batch_size=3, seed=2, verbose=False,
                                      augment=[RandomFlip(), RandomZoom(0.2)])  # fmt: skip
    serial, threaded = ds.prefetch(0), ds.prefetch(3)
    for (xa, ya), (xb, yb) in zip(serial.iterate(4), threaded.iterate(4), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    it = threaded.iterate(5)
    next(it)
    it.close()  # stopping early leaves no thread behind
