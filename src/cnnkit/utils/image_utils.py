"""Keras' image helpers: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img`` (same signatures)."""

from __future__ import annotations

import io
import os
import pathlib
import warnings
from typing import Any

import numpy as np
from PIL import Image

from cnnkit.common.files import atomic_write
from cnnkit.data.decode import DEFAULT_MAX_PIXELS, DecodeError, check_color_mode, open_image, to_mode

PIL_INTERPOLATION_METHODS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}


def _check_data_format(data_format: str | None) -> str:
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(
            "Unknown data_format. Expected 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}. Pass one of those (or None for channels_last)."
        )
    return data_format or "channels_last"


def load_img(
    path: str | os.PathLike | io.BytesIO,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
) -> Image.Image:
    """Load an image as a PIL Image (Keras' ``load_img``), EXIF orientation applied and 16-bit scaled to 8-bit.

    Raises ValueError (naming the path and the reason) for an unreadable, truncated or non-image file.

    Example:
        >>> img = load_img("cat.jpg", target_size=(180, 180))  # doctest: +SKIP
    """
    channels = check_color_mode(color_mode)
    if isinstance(path, io.BytesIO):
        source: Any = path.getvalue()
    elif isinstance(path, (str, bytes, os.PathLike)):
        source = os.fsdecode(path) if isinstance(path, bytes) else path
    else:
        raise TypeError(
            "path has the wrong type. Expected a path (str or os.PathLike) or io.BytesIO. "
            f"Received: path={type(path).__name__}. Pass a file name."
        )
    try:
        arr = to_mode(open_image(source, max_pixels=DEFAULT_MAX_PIXELS), color_mode)
    except DecodeError as e:
        raise ValueError(
            f"Cannot load image: {e}. Expected a readable image file. Received: path={str(path)!r}. Check the file."
        ) from None
    img = Image.fromarray(arr[:, :, 0] if channels == 1 else arr)
    if target_size is not None:
        size = (int(target_size[1]), int(target_size[0]))
        if img.size != size:
            if interpolation not in PIL_INTERPOLATION_METHODS:
                raise ValueError(
                    f"Unknown interpolation. Expected one of {list(PIL_INTERPOLATION_METHODS)}. "
                    f"Received: interpolation={interpolation!r}. Pick one of those."
                )
            resample = PIL_INTERPOLATION_METHODS[interpolation]
            box = None
            if keep_aspect_ratio:  # Keras: the largest centered crop with the target's aspect ratio
                width, height = img.size
                crop_h = min(height, width * size[1] // size[0])
                crop_w = min(width, height * size[0] // size[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                box = (left, top, left + crop_w, top + crop_h)
            img = img.resize(size, resample, box=box)
    return img


def img_to_array(img: Image.Image, data_format: str | None = None, dtype: str | None = None) -> np.ndarray:
    """A PIL Image as a float32 (H, W, C) array (C first for ``data_format='channels_first'``)."""
    data_format = _check_data_format(data_format)
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[None] if data_format == "channels_first" else x[:, :, None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(
            f"Unsupported image shape. Expected a 2D or 3D image. Received: shape={x.shape}. Pass a single image."
        )
    return x


def array_to_img(x: Any, data_format: str | None = None, scale: bool = True, dtype: str | None = None) -> Image.Image:
    """A rank-3 array (or tensor) as a PIL Image; ``scale`` maps min..max to 0..255 as Keras does."""
    data_format = _check_data_format(data_format)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.array(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Expected (H, W, C). Received: shape={x.shape}. "
            "Pass one image, not a batch (e.g. x[0])."
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(
        f"Unsupported channel count. Expected 1, 3 or 4 channels. Received: shape={x.shape}. "
        "Pass a grayscale, RGB or RGBA image."
    )


def save_img(
    path: str | os.PathLike | io.IOBase,
    x: Any,
    data_format: str | None = None,
    file_format: str | None = None,
    scale: bool = True,
    **kwargs: Any,
) -> None:
    """Save an image array to a file (format from the extension unless ``file_format`` is given)."""
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    if not isinstance(path, (str, os.PathLike)):
        img.save(path, format=file_format, **kwargs)
        return
    if not file_format:
        raise ValueError(
            f"Cannot tell which image format to write. Expected a file name with an extension or file_format=... "
            f"Received: path={os.fspath(path)!r}. Add an extension such as '.png', or pass file_format='png'."
        )
    atomic_write(path, lambda f: img.save(f, format=file_format, **kwargs))
