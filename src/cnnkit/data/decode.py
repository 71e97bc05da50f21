"""Safe image decoding: every mode to uint8 grayscale/RGB/RGBA, EXIF orientation, resize, typed failures.

Every failure becomes a :class:`DecodeError` with a short ``reason`` ("zero-byte file", "truncated image", ...), so a
folder loader can skip a bad file and say why instead of dying mid-epoch.
"""

from __future__ import annotations

import io
import os
import stat
import threading
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# PIL's own default (about 0.25 GB for 24-bit images); a larger image is treated as a decompression bomb.
DEFAULT_MAX_PIXELS = 89_478_485
# No photo file comes near this (a 100-megapixel PNG is about 300 MB); a larger file is refused from its stat.
MAX_IMAGE_BYTES = 512 << 20

# The one list of file extensions cnnkit treats as images: what the folder loader lists and decodes, and what the
# CLI counts. Keras' allow-list plus WebP, which PIL decodes (Keras' TensorFlow decoder cannot). TIFF is left out, as
# in Keras: its 16-bit and float variants do not map to uint8 pixels without guessing a scale.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")

COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
# Keras' names. The first four match Keras' torch backend (torch interpolate, no antialias, half-pixel centers);
# lanczos3/lanczos5 use PIL's Lanczos filter (a=3) on the uint8 image.
TORCH_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}
PIL_MODES = {"lanczos3": Image.Resampling.LANCZOS, "lanczos5": Image.Resampling.LANCZOS}
INTERPOLATIONS = tuple(TORCH_MODES) + tuple(PIL_MODES)

_EXIF_ORIENTATION = 0x0112
_open_lock = threading.Lock()


class DecodeError(Exception):
    """An image that cannot be decoded. ``reason`` is a short phrase; ``str(err)`` adds the detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def check_color_mode(color_mode: str) -> int:
    """Return the channel count of a Keras ``color_mode``, raising a ValueError for an unknown one."""
    if color_mode not in COLOR_MODES:
        raise ValueError(
            f"Unknown color_mode. Expected one of {list(COLOR_MODES)}. Received: color_mode={color_mode!r}. "
            "Pass 'grayscale', 'rgb' or 'rgba'."
        )
    return COLOR_MODES[color_mode]


def check_interpolation(interpolation: str) -> str:
    """Normalize and validate a Keras interpolation name."""
    name = str(interpolation).lower()
    if name not in INTERPOLATIONS:
        raise ValueError(
            f"Unsupported interpolation. Expected one of {list(INTERPOLATIONS)}. "
            f"Received: interpolation={interpolation!r}. Pick one of the supported names."
        )
    return name


@contextmanager
def _pixel_limit_off():
    # PIL's bomb check reads a module global; we do our own per-call check instead, so switch PIL's off only for
    # the (header-only) open and restore it at once, under a lock so threads never see each other's value.
    with _open_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def read_image_file(path: str | os.PathLike, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of an image file, read only if it is a regular file of at most ``max_bytes``. Raises DecodeError.

    The check comes from the stat of the descriptor opened without blocking, so a FIFO or a link to /dev/zero named
    like an image is refused at once instead of hanging or filling memory, and a 2 GB file is refused unread.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError as e:
        raise DecodeError("not a file", str(e)) from None
    except OSError as e:
        raise DecodeError("unreadable file", e.strerror or str(e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DecodeError("not a regular file", _file_kind(st.st_mode))
        if st.st_size > max_bytes:
            raise DecodeError("file too large", f"{st.st_size} bytes > {max_bytes}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(max_bytes + 1)[:max_bytes]
    except OSError as e:
        raise DecodeError("unreadable file", e.strerror or str(e)) from None
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device")):
        if test(mode):
            return name
    return "a device or socket" if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode) else "not a regular file"


def _open_header(data: bytes, max_pixels: int | None) -> Image.Image:
    """PIL's lazy open (header only) with cnnkit's per-call bomb rule."""
    if not data:
        raise DecodeError("zero-byte file")
    try:
        with _pixel_limit_off(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DecodeError("not an image", "the content is not a known image format") from None
    except Exception as e:  # a corrupt header can raise nearly anything inside a plugin
        raise DecodeError("corrupt image header", str(e)) from None
    width, height = img.size
    if max_pixels is not None and width * height > max_pixels:
        raise DecodeError(
            "too many pixels (possible decompression bomb)", f"{width}x{height} = {width * height} > {max_pixels}"
        )
    return img


def probe_image(source: str | os.PathLike | bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int, str]:
    """``(height, width, PIL mode)`` of an image from its header only, by the decoder's rules. Raises DecodeError.

    The same checks as :func:`open_image` (regular file, size cap, pixel limit) without decoding the pixels: what
    the CLI's first look at a folder uses, so it skips exactly the files the loader skips.
    """
    img = _open_header(source if isinstance(source, bytes) else read_image_file(source), max_pixels)
    return img.height, img.width, img.mode


def open_image(
    source: str | os.PathLike | bytes,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Open, fully decode and EXIF-orient an image (first frame of an animation). Raises DecodeError.

    ``draft_size`` = (height, width): a JPEG is decoded at the smallest DCT scale (1, 1/2, 1/4, 1/8) that stays
    at least this large, which is several times faster for small targets (pixels differ slightly from a
    full-size decode followed by a resize).
    """
    data = source if isinstance(source, bytes) else read_image_file(source)
    img = _open_header(data, max_pixels)
    if draft_size is not None and img.format == "JPEG" and img.mode in ("RGB", "L"):
        side = max(draft_size)  # the EXIF turn may swap the axes: ask for a square that covers both
        img.draft(img.mode, (side, side))
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img.load()
    except Exception as e:
        text = str(e)
        if "truncated" in text or isinstance(e, (EOFError, SyntaxError)) or "broken data stream" in text:
            raise DecodeError("truncated image", text) from None
        raise DecodeError("corrupt image data", text) from None
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:
        orientation = 1  # broken EXIF: keep the pixels as stored
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        img = ImageOps.exif_transpose(img)
    return img


def _sixteen_bit_to_8(img: Image.Image) -> Image.Image:
    # 16-bit (and 32-bit integer) grayscale: scale 0..65535 to 0..255 (x / 257, rounded); PIL's convert("L")
    # would clip everything above 255 to white.
    arr = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        arr = np.clip(arr, 0.0, 1.0) * 65535.0 if arr.max(initial=0) <= 1.0 else arr
    arr = np.clip(arr, 0, 65535) / 257.0
    return Image.fromarray(np.rint(arr).astype(np.uint8), mode="L")


def to_mode(img: Image.Image, color_mode: str = "rgb") -> np.ndarray:
    """Convert a decoded image of any PIL mode to a uint8 (H, W, C) array for a Keras ``color_mode``."""
    channels = check_color_mode(color_mode)
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        img = _sixteen_bit_to_8(img)
    if img.mode == "P":
        # Palette: go through RGBA when it has a transparent entry, so the alpha survives for "rgba".
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("PA", "LA", "La") and channels != 1:
        img = img.convert("RGBA")
    if channels == 1:
        out = img if img.mode == "L" else img.convert("L")
    elif channels == 3:
        out = img if img.mode == "RGB" else img.convert("RGB")
    else:
        out = img if img.mode == "RGBA" else img.convert("RGBA")
    arr = np.array(out, dtype=np.uint8)  # a writable copy (torch refuses read-only arrays)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def resize_array(
    arr: np.ndarray,
    size: tuple[int, int],
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
) -> np.ndarray:
    """Resize a uint8 (H, W, C) array to ``size`` = (height, width) the way Keras' torch backend does."""
    import torch
    import torch.nn.functional as F

    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True. Expected at most one. "
            f"Received: crop_to_aspect_ratio={crop_to_aspect_ratio}, pad_to_aspect_ratio={pad_to_aspect_ratio}. "
            "Set one of them to False."
        )
    interpolation = check_interpolation(interpolation)
    target_h, target_w = int(size[0]), int(size[1])
    height, width = arr.shape[:2]
    if crop_to_aspect_ratio:
        # Largest centered window with the target's aspect ratio (Keras' formula, integer truncation included).
        crop_h = max(min(height, int(width * target_h / target_w)), 1)
        crop_w = max(min(width, int(height * target_w / target_h)), 1)
        top, left = int((height - crop_h) / 2), int((width - crop_w) / 2)
        arr = arr[top : top + crop_h, left : left + crop_w]
    elif pad_to_aspect_ratio:
        pad_h = max(height, int(width * target_h / target_w))
        pad_w = max(width, int(height * target_w / target_h))
        top, left = int((pad_h - height) / 2), int((pad_w - width) / 2)
        canvas = np.zeros((height + 2 * top, width + 2 * left, arr.shape[2]), dtype=np.uint8)
        canvas[top : top + height, left : left + width] = arr
        arr = canvas
    if arr.shape[:2] == (target_h, target_w):
        return np.ascontiguousarray(arr)
    if interpolation in PIL_MODES:
        method = PIL_MODES[interpolation]
        planes = [
            np.asarray(Image.fromarray(np.ascontiguousarray(arr[:, :, c])).resize((target_w, target_h), method))
            for c in range(arr.shape[2])
        ]
        return np.stack(planes, axis=-1)
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].float()
    kwargs: dict[str, Any] = {"align_corners": False} if interpolation in ("bilinear", "bicubic") else {}
    out = F.interpolate(t, size=(target_h, target_w), mode=TORCH_MODES[interpolation], **kwargs)
    return out[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def load_array(
    source: str | os.PathLike | bytes,
    color_mode: str = "rgb",
    image_size: tuple[int, int] | None = None,
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    jpeg_draft: bool = False,
) -> np.ndarray:
    """Decode an image file to uint8 (H, W, C) for ``color_mode``, resized to ``image_size`` if given.

    ``jpeg_draft=True`` decodes JPEGs at a reduced DCT scale still covering ``image_size`` (faster; see
    :func:`open_image`).

    Raises:
        DecodeError: the file is empty, truncated, not an image, too large, or otherwise undecodable.

    Example:
        >>> arr = load_array("cat.jpg", "rgb", (64, 64))  # doctest: +SKIP
    """
    draft = tuple(image_size) if jpeg_draft and image_size is not None else None
    img = open_image(source, max_pixels=max_pixels, draft_size=draft)
    try:
        arr = to_mode(img, color_mode)
    except (OSError, ValueError) as e:
        raise DecodeError("unsupported image mode", f"mode {img.mode}: {e}") from None
    if image_size is not None:
        arr = resize_array(arr, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio)
    return arr


def try_load_array(source: str | os.PathLike | bytes, **kwargs: Any) -> tuple[np.ndarray | None, str | None]:
    """Like :func:`load_array` but returns ``(array, None)`` or ``(None, reason)`` instead of raising."""
    try:
        return load_array(source, **kwargs), None
    except DecodeError as e:
        return None, str(e)
