"""The pipeline's fused geometry (cnnkit.data.augment.run_augmentations / run_geometry): a RandomFlip next to a
rotation, zoom or translation costs no pass of its own, and the batch is the one the layers give one after another
(same random draws), and the one Keras 3's own flip and affine_transform give for those draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit.data import augment as A
from cnnkit.data.seeding import seed_scope
from cnnkit.layers.preprocessing.image import (
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)

# 0..255 float32 outputs. A flip before a bilinear resample mirrors the sampling coordinates in float32 instead of
# the pixels, which moves a tap weight by a few float32 ulps of the coordinate: well under 1e-3 on this scale.
ATOL = 1e-3


def images(b=16, h=9, w=12, c=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, (b, h, w, c)).astype(np.float32))


def apply(fn, x):
    return fn(x, training=True)


def make_layers(order, mode, interpolation, fill_mode):
    kw = {"interpolation": interpolation, "fill_mode": fill_mode, "fill_value": 7.0}
    make = {
        "f": lambda: RandomFlip(mode),
        "r": lambda: RandomRotation(0.3, **kw),
        "z": lambda: RandomZoom(0.3, **kw),
        "t": lambda: RandomTranslation(0.2, 0.3, **kw),
        "c": lambda: RandomContrast(0.5),
    }
    return [make[ch]() for ch in order]


def one_after_another(fns, x, seed):
    with seed_scope(seed):
        for fn in fns:
            x = apply(fn, x)
    return x


def fused(fns, x, seed):
    with seed_scope(seed):
        return A.run_augmentations(fns, x, apply)


# flip then resample, resample then flip, both, flips only, two resamples with flips around and between, a colour
# layer splitting the run
ORDERS = ["fr", "rf", "frf", "f", "ff", "fzft", "fcr"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_fused_equals_layers_one_after_another(order, mode, fill_mode, interpolation):
    x = images()
    fns = make_layers(order, mode, interpolation, fill_mode)
    ours, ref = fused(fns, x, seed=5), one_after_another(fns, x, seed=5)
    if interpolation == "nearest" or "r" not in order and "z" not in order:
        assert torch.equal(ours, ref)  # rounding happens before the mirror: the same pixels exactly
    else:
        torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)
    assert not torch.equal(ours, x)


def test_flip_after_a_resample_is_bit_identical():
    x = images()
    fns = make_layers("rf", "horizontal_and_vertical", "bilinear", "reflect")
    assert torch.equal(fused(fns, x, 3), one_after_another(fns, x, 3))  # output coordinates mirror exactly


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_fused_geometry_matches_keras_ops(fill_mode, interpolation):
    """Given draws, flip -> affine -> flip in one pass equals NumPy flips around Keras 3's affine_transform."""
    from keras import ops

    x = images(b=6, h=7, w=10)
    before = (torch.tensor([1, 0, 1, 0, 1, 0], dtype=torch.bool), torch.tensor([0, 0, 1, 1, 0, 1], dtype=torch.bool))
    after = (None, torch.tensor([1, 1, 0, 0, 1, 0], dtype=torch.bool))
    t = A.rotation_transforms(torch.tensor([10.0, -35.0, 90.0, 4.0, 170.0, -60.0]), 7, 10)
    t[:, 2] += torch.tensor([0.0, 1.5, -2.0, 0.3, 0.0, 12.0])  # and shifts, one far out
    ours = A.run_geometry(x, [("flip", before), ("affine", t, interpolation, fill_mode, 17.0), ("flip", after)])

    ref = x.numpy().copy()
    ref[before[0].numpy()] = ref[before[0].numpy()][:, :, ::-1]
    ref[before[1].numpy()] = ref[before[1].numpy()][:, ::-1]
    t8 = np.concatenate([t.numpy(), np.zeros((6, 2), np.float32)], axis=1)
    ref = ops.convert_to_numpy(ops.image.affine_transform(ref, t8, interpolation, fill_mode, 17.0)).copy()
    ref[after[1].numpy()] = ref[after[1].numpy()][:, ::-1]
    np.testing.assert_allclose(ours.numpy(), ref, atol=ATOL, rtol=0)


def test_draws_follow_the_layers_order_and_generators():
    """Seeded layers outside a pipeline scope draw from their own generators, in order, as when called alone."""
    x = images()
    fused_fns = [RandomFlip(seed=1), RandomRotation(0.2, seed=2), RandomFlip("vertical", seed=3)]
    plain_fns = [RandomFlip(seed=1), RandomRotation(0.2, seed=2), RandomFlip("vertical", seed=3)]
    for _ in range(2):  # the generators move on alike
        ours = A.run_augmentations(fused_fns, x, apply)
        ref = x
        for fn in plain_fns:
            ref = apply(fn, ref)
        torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_a_customised_subclass_is_not_fused():
    class Halve(RandomRotation):
        def transform(self, images, training):
            return super().transform(images, training) * 0.5

    layer, hooked = Halve(0.2, seed=0), RandomFlip(seed=0)
    hooked.register_forward_hook(lambda module, args, out: out + 1.0)
    assert layer.draw_geometry(4, 9, 12) is None and hooked.draw_geometry(4, 9, 12) is None
    x = images(b=4)
    fns = [hooked, layer]
    torch.testing.assert_close(fused(fns, x, 1), one_after_another(fns, x, 1), atol=0, rtol=0)
    assert fused([hooked], x, 1).min() >= 1.0  # the hook ran


def test_pipeline_batches_are_the_layers_batches(tmp_path):
    from PIL import Image

    from cnnkit.data.seeding import mix
    from cnnkit.utils import image_dataset_from_directory

    for c in range(2):
        (tmp_path / f"c{c}").mkdir()
        for i in range(5):
            Image.fromarray(images(1, 10, 14, 3, seed=c * 10 + i)[0].numpy().astype(np.uint8)).save(
                tmp_path / f"c{c}" / f"{i}.png"
            )
    fns = [RandomFlip(), RandomRotation(0.1), RandomFlip("vertical")]
    ds = image_dataset_from_directory(tmp_path, image_size=(10, 14), batch_size=4, seed=3, verbose=False, augment=fns)
    plain = image_dataset_from_directory(tmp_path, image_size=(10, 14), batch_size=4, seed=3, verbose=False)
    for b, ((xa, ya), (xp, yp)) in enumerate(zip(ds.iterate(1), plain.iterate(1), strict=True)):
        assert torch.equal(ya, yp)
        torch.testing.assert_close(xa, one_after_another(fns, xp, mix(3, 1, b)), atol=ATOL, rtol=0)
