"""Decoding every image mode to exact pixels, and every broken kind to a typed reason."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnkit.data.decode import DecodeError, load_array, resize_array, try_load_array
from support.images import bomb_png, exif_rotated, rgb_array, save, text_as_jpg, truncated_jpeg, zero_byte


def test_rgb_png_exact(tmp_path):
    arr = rgb_array()
    p = save(Image.fromarray(arr), tmp_path / "a.png")
    np.testing.assert_array_equal(load_array(p), arr)
    gray = load_array(p, "grayscale")
    np.testing.assert_array_equal(gray[:, :, 0], np.asarray(Image.fromarray(arr).convert("L")))
    rgba = load_array(p, "rgba")
    np.testing.assert_array_equal(rgba[:, :, :3], arr)
    assert (rgba[:, :, 3] == 255).all()


def test_grayscale_png(tmp_path):
    g = rgb_array()[:, :, 0]
    p = save(Image.fromarray(g, "L"), tmp_path / "g.png")
    assert load_array(p, "grayscale").shape == (12, 16, 1)
    np.testing.assert_array_equal(load_array(p, "grayscale")[:, :, 0], g)
    np.testing.assert_array_equal(load_array(p, "rgb"), np.repeat(g[:, :, None], 3, axis=2))


def _palette_image(transparent: bool) -> tuple[Image.Image, np.ndarray]:
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    idx = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], dtype=np.uint8)
    img = Image.fromarray(idx, "P")
    img.putpalette(palette + [0] * (768 - len(palette)))
    if transparent:
        img.info["transparency"] = 3
    colors = np.array(palette, dtype=np.uint8).reshape(-1, 3)
    return img, colors[idx]


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png(tmp_path, transparent):
    img, expected_rgb = _palette_image(transparent)
    p = tmp_path / "p.png"
    img.save(p, transparency=3) if transparent else img.save(p)
    assert Image.open(p).mode == "P"
    np.testing.assert_array_equal(load_array(p, "rgb"), expected_rgb)
    rgba = load_array(p, "rgba")
    np.testing.assert_array_equal(rgba[:, :, :3], expected_rgb)
    idx = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    expected_alpha = np.where(idx == 3, 0, 255) if transparent else np.full(idx.shape, 255)
    np.testing.assert_array_equal(rgba[:, :, 3], expected_alpha)


def test_rgba_png(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (6, 7, 4), dtype=np.uint8)
    p = save(Image.fromarray(arr, "RGBA"), tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_array(p, "rgba"), arr)
    np.testing.assert_array_equal(load_array(p, "rgb"), arr[:, :, :3])  # Keras drops alpha, no compositing


def test_la_png(tmp_path):
    arr = np.random.default_rng(2).integers(0, 256, (5, 5, 2), dtype=np.uint8)
    p = save(Image.fromarray(arr, "LA"), tmp_path / "la.png")
    np.testing.assert_array_equal(load_array(p, "grayscale")[:, :, 0], arr[:, :, 0])
    rgba = load_array(p, "rgba")
    np.testing.assert_array_equal(rgba[:, :, 0], arr[:, :, 0])
    np.testing.assert_array_equal(rgba[:, :, 3], arr[:, :, 1])


def test_cmyk_jpeg(tmp_path):
    # Solid CMYK patches; JPEG is lossy, so allow a few levels (flat areas decode to within ~2 of the truth).
    cmyk = np.zeros((16, 32, 4), dtype=np.uint8)
    cmyk[:, :16] = (0, 255, 255, 0)  # red
    cmyk[:, 16:] = (255, 0, 255, 0)  # green
    p = save(Image.fromarray(cmyk, "CMYK"), tmp_path / "cmyk.jpg", quality=100)
    assert Image.open(p).mode == "CMYK"
    rgb = load_array(p, "rgb").astype(int)
    np.testing.assert_allclose(rgb[4:12, 2:12], np.broadcast_to([255, 0, 0], (8, 10, 3)), atol=3)
    np.testing.assert_allclose(rgb[4:12, 20:30], np.broadcast_to([0, 255, 0], (8, 10, 3)), atol=3)


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_sixteen_bit_scaled_not_clipped(tmp_path, mode):
    values = np.array([[0, 257, 32896], [40000, 65278, 65535]], dtype=np.uint16)
    img = Image.fromarray(values) if mode == "I;16" else Image.fromarray(values.astype(np.int32), "I")
    p = save(img, tmp_path / ("deep.png" if mode == "I;16" else "deep.tif"))  # PNG cannot hold mode I
    expected = np.rint(values / 257.0).astype(np.uint8)  # 0..65535 -> 0..255, not clipped to white
    np.testing.assert_array_equal(load_array(p, "grayscale")[:, :, 0], expected)
    np.testing.assert_array_equal(load_array(p, "rgb"), np.repeat(expected[:, :, None], 3, axis=2))


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (6, lambda a: np.rot90(a, -1)),
        (8, lambda a: np.rot90(a, 1)),
        (3, lambda a: a[::-1, ::-1]),
        (2, lambda a: a[:, ::-1]),
    ],
)
def test_exif_orientation_applied(tmp_path, orientation, expected):
    arr = rgb_array(6, 10)
    p = exif_rotated(tmp_path / "r.png", arr, orientation)
    np.testing.assert_array_equal(load_array(p), expected(arr))


def test_exif_rotated_jpeg_shape(tmp_path):
    arr = np.zeros((16, 32, 3), dtype=np.uint8)
    arr[:, 16:] = 255  # right half white -> after a 90 degree clockwise turn, the bottom half is white
    out = load_array(exif_rotated(tmp_path / "r.jpg", arr, 6, fmt="JPEG"))
    assert out.shape == (32, 16, 3)
    assert out[:12].mean() < 10 and out[20:].mean() > 245


def test_gif_first_frame(tmp_path):
    frames = [np.full((4, 5, 3), c, dtype=np.uint8) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0][0, 0] = (0, 255, 0)
    imgs = [Image.fromarray(f) for f in frames]
    p = tmp_path / "anim.gif"
    imgs[0].save(p, save_all=True, append_images=imgs[1:], duration=50)
    assert Image.open(p).n_frames == 2
    np.testing.assert_array_equal(load_array(p), frames[0])


def test_webp_lossless_and_bmp(tmp_path):
    arr = rgb_array()
    np.testing.assert_array_equal(load_array(save(Image.fromarray(arr), tmp_path / "a.webp", lossless=True)), arr)
    np.testing.assert_array_equal(load_array(save(Image.fromarray(arr), tmp_path / "a.bmp")), arr)


def test_bilevel(tmp_path):
    bits = np.array([[0, 1, 1], [1, 0, 0]], dtype=bool)
    p = save(Image.fromarray(bits), tmp_path / "b.png")
    np.testing.assert_array_equal(load_array(p, "grayscale")[:, :, 0], bits.astype(np.uint8) * 255)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (truncated_jpeg, "truncated image"),
        (zero_byte, "zero-byte file"),
        (text_as_jpg, "not an image"),
        (bomb_png, "too many pixels (possible decompression bomb)"),
    ],
)
def test_broken_files_give_typed_reasons(tmp_path, make, reason):
    p = make(tmp_path / "bad.jpg")
    with pytest.raises(DecodeError) as info:
        load_array(p)
    assert info.value.reason == reason
    arr, why = try_load_array(p)
    assert arr is None and why.startswith(reason)


def test_pixel_limit_per_call_and_global_untouched(tmp_path):
    p = save(Image.fromarray(rgb_array(20, 20)), tmp_path / "a.png")
    before = Image.MAX_IMAGE_PIXELS
    assert try_load_array(p, max_pixels=399)[1] == "too many pixels (possible decompression bomb): 20x20 = 400 > 399"
    assert load_array(p, max_pixels=400).shape == (20, 20, 3)
    assert Image.MAX_IMAGE_PIXELS == before


def test_missing_file(tmp_path):
    arr, why = try_load_array(tmp_path / "nope.png")
    assert arr is None and why == "unreadable file: No such file or directory"


# Keras 3 (torch backend) resizes with torch interpolate, half-pixel centers, no antialias; our result is the same
# math rounded to uint8, so it must agree within 0.5 (plus float noise).
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("aspect", ["none", "crop", "pad"])
def test_resize_matches_keras(interpolation, aspect):
    from keras import ops

    arr = rgb_array(37, 23, seed=3)
    kw = {"crop_to_aspect_ratio": aspect == "crop", "pad_to_aspect_ratio": aspect == "pad"}
    ours = resize_array(arr, (16, 20), interpolation, **kw).astype(np.float32)
    ref = ops.convert_to_numpy(ops.image.resize(arr.astype("float32"), (16, 20), interpolation=interpolation, **kw))
    np.testing.assert_allclose(ours, np.clip(ref, 0, 255), atol=0.5 + 1e-3)


def test_resize_rejects_both_aspect_options():
    with pytest.raises(ValueError, match="Only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True"):
        resize_array(rgb_array(), (4, 4), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)


def test_unknown_interpolation():
    with pytest.raises(ValueError) as info:
        resize_array(rgb_array(), (4, 4), "cubic-spline")
    assert str(info.value) == (
        "Unsupported interpolation. Expected one of ['bilinear', 'nearest', 'bicubic', 'area', 'lanczos3', "
        "'lanczos5']. Received: interpolation='cubic-spline'. Pick one of the supported names."
    )


def test_jpeg_draft_is_close_and_leaves_other_formats_alone(tmp_path):
    yy, xx = np.mgrid[0:240, 0:320]
    smooth = np.stack([xx * 255 // 319, yy * 255 // 239, (xx + yy) * 255 // 558], axis=-1).astype(np.uint8)
    jpg = save(Image.fromarray(smooth), tmp_path / "s.jpg", quality=95)
    full = load_array(jpg, image_size=(32, 40)).astype(int)
    fast = load_array(jpg, image_size=(32, 40), jpeg_draft=True).astype(int)
    assert fast.shape == full.shape
    assert 0 < np.abs(fast - full).mean() < 2.0  # a different (DCT-scaled) decode of the same smooth picture
    png = save(Image.fromarray(smooth), tmp_path / "s.png")
    same = load_array(png, image_size=(32, 40), jpeg_draft=True)
    np.testing.assert_array_equal(same, load_array(png, image_size=(32, 40)))
