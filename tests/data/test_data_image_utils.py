"""cnnkit.utils.load_img / img_to_array / array_to_img / save_img against keras.utils on the same files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnkit.utils import array_to_img, img_to_array, load_img, save_img
from support.images import exif_rotated, rgb_array, save, truncated_jpeg


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"target_size": (7, 9)}, {"target_size": (7, 9), "interpolation": "bilinear"},
     {"target_size": (5, 5), "keep_aspect_ratio": True, "interpolation": "bicubic"}, {"color_mode": "grayscale"},
     {"color_mode": "rgba", "target_size": (6, 4), "interpolation": "lanczos"}],
)  # fmt: skip
def test_load_img_matches_keras(tmp_path, kwargs):
    import keras

    p = save(Image.fromarray(rgb_array(12, 16)), tmp_path / "a.png")
    ours = img_to_array(load_img(p, **kwargs))
    ref = keras.utils.img_to_array(keras.utils.load_img(p, **kwargs))
    assert ours.dtype == ref.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)  # same PIL operations on the same pixels: identical


def test_load_img_applies_exif_and_explains_bad_files(tmp_path):
    arr = rgb_array(4, 6)
    img = load_img(exif_rotated(tmp_path / "r.png", arr, 6))
    np.testing.assert_array_equal(np.asarray(img), np.rot90(arr, -1))  # Keras would return it sideways
    bad = truncated_jpeg(tmp_path / "t.jpg")
    with pytest.raises(ValueError) as info:
        load_img(bad)
    assert str(info.value).startswith("Cannot load image: truncated image: ")
    assert str(info.value).endswith(f"Expected a readable image file. Received: path={str(bad)!r}. Check the file.")


@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_array_to_img_and_back_match_keras(scale, channels):
    import keras

    x = np.random.default_rng(channels).uniform(0, 200, (5, 6, channels)).astype(np.float32)
    ours, ref = array_to_img(x, scale=scale), keras.utils.array_to_img(x, scale=scale)
    assert ours.mode == ref.mode
    np.testing.assert_array_equal(img_to_array(ours), keras.utils.img_to_array(ref))
    np.testing.assert_array_equal(img_to_array(ours, "channels_first"), keras.utils.img_to_array(ref, "channels_first"))


def test_save_img_round_trip_atomic(tmp_path):
    x = rgb_array(5, 7).astype(np.float32)
    save_img(tmp_path / "out.png", x, scale=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary file left behind
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), x.astype(np.uint8))
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        save_img(tmp_path / "o.jpg", np.zeros((4, 4, 4), np.float32))
    assert Image.open(tmp_path / "o.jpg").mode == "RGB"
