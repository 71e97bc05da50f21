"""Keras' ``ops.image`` basics on (batch, height, width, channels) tensors: resize, grayscale, affine transforms."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnkit.ops.core import convert_to_tensor

_MODES = {"nearest": "nearest-exact", "bilinear": "bilinear", "bicubic": "bicubic", "area": "area"}


def resize(
    images: Any,
    size: tuple[int, int],
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format: str | None = None,
) -> torch.Tensor:
    """Resize to ``size`` as Keras' torch backend does (half-pixel centers); integer images keep their dtype.

    Example:
        >>> tuple(resize(torch.zeros(2, 8, 8, 3), (4, 6)).shape)
        (2, 4, 6, 3)
    """
    if interpolation not in _MODES:
        raise ValueError(
            f"Invalid value for argument `interpolation`. Expected one of {sorted(_MODES)}. Received: "
            f"interpolation={interpolation}"
        )
    x = convert_to_tensor(images)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(
            f"Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). Received input with "
            f"shape: images.shape={tuple(x.shape)}"
        )
    if data_format == "channels_first":
        x = x.permute(0, 2, 3, 1)
    dtype = x.dtype
    th, tw = int(size[0]), int(size[1])
    h, w = x.shape[1], x.shape[2]
    if crop_to_aspect_ratio:
        ch, cw = max(min(h, int(w * th / tw)), 1), max(min(w, int(h * tw / th)), 1)
        top, left = int((h - ch) / 2), int((w - cw) / 2)
        x = x[:, top : top + ch, left : left + cw]
    elif pad_to_aspect_ratio:
        ph, pw = max(h, int(w * th / tw)), max(w, int(h * tw / th))
        top, left = int((ph - h) / 2), int((pw - w) / 2)
        x = F.pad(x, (0, 0, left, left, top, top), value=fill_value)
    mode = _MODES[interpolation]
    kwargs = {"align_corners": False, "antialias": antialias} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(x.permute(0, 3, 1, 2).float(), size=(th, tw), mode=mode, **kwargs).permute(0, 2, 3, 1)
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        out = out.round().clamp(info.min, info.max).to(dtype)
    elif out.dtype != dtype:
        out = out.to(dtype)
    if data_format == "channels_first":
        out = out.permute(0, 3, 1, 2)
    return out[0] if unbatched else out


def rgb_to_grayscale(images: Any, data_format: str | None = None) -> torch.Tensor:
    """Luma (0.2989 R + 0.587 G + 0.114 B), keeping a channel axis of size 1."""
    x = convert_to_tensor(images)
    axis = 1 if data_format == "channels_first" and x.ndim == 4 else -1
    r, g, b = x.unbind(axis)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(x.dtype).unsqueeze(axis)


def affine_transform(
    images: Any,
    transform: Any,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format: str | None = None,
) -> torch.Tensor:
    """Apply projective transforms ``[a0, a1, a2, b0, b1, b2, c0, c1]`` (output -> input pixel map), as Keras.

    Only ``fill_mode='constant'`` and 'nearest'/'bilinear' interpolation are supported.
    """
    if fill_mode != "constant" or interpolation not in ("nearest", "bilinear"):
        raise ValueError(
            f"affine_transform supports fill_mode='constant' with interpolation 'nearest' or 'bilinear'. Received: "
            f"fill_mode={fill_mode!r}, interpolation={interpolation!r}. Use those settings."
        )
    x = convert_to_tensor(images)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if data_format == "channels_first":
        x = x.permute(0, 2, 3, 1)
    t = convert_to_tensor(transform).to(torch.float32)
    if t.ndim == 1:
        t = t[None].expand(x.shape[0], 8)
    n, h, w, _ = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i].view(n, 1, 1) for i in range(8))
    k = c0 * xs + c1 * ys + 1.0
    src_x, src_y = (a0 * xs + a1 * ys + a2) / k, (b0 * xs + b1 * ys + b2) / k
    # grid_sample's normalized coordinates with align_corners=True map -1..1 to pixel centers 0..size-1.
    grid = torch.stack((2 * src_x / max(w - 1, 1) - 1, 2 * src_y / max(h - 1, 1) - 1), dim=-1)
    src = x.permute(0, 3, 1, 2).float() - fill_value
    out = F.grid_sample(src, grid, mode=interpolation, padding_mode="zeros", align_corners=True) + fill_value
    out = out.permute(0, 2, 3, 1).to(x.dtype) if x.is_floating_point() else out.permute(0, 2, 3, 1).round().to(x.dtype)
    if data_format == "channels_first":
        out = out.permute(0, 3, 1, 2)
    return out[0] if unbatched else out
