"""Batched image ops behind the preprocessing layers: (batch, H, W, C) float tensors in, same out.

The affine ops follow Keras 3 exactly: a transform ``[a0, a1, a2, b0, b1, b2]`` maps each output pixel (x, y) to
the input point (a0 x + a1 y + a2, b0 x + b1 y + b2) in pixel-index coordinates, sampled with nearest/bilinear
interpolation and Keras' fill modes (reflect = d c b a | a b c d | d c b a, wrap, nearest = edge, constant).
Random parameters are drawn per sample from a ``torch.Generator`` so a seeded pipeline is reproducible.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")


def uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float32) * (high - low) + low


# -- flips --------------------------------------------------------------------------------------------------------
def random_flip(images: torch.Tensor, mode: str, generator: torch.Generator | None) -> torch.Tensor:
    """Flip each image with probability 1/2. As Keras 3, "horizontal_and_vertical" draws one coin per image and
    flips both axes on heads (a 180 degree turn)."""
    flips = (torch.rand((images.shape[0], 1, 1, 1), generator=generator) <= 0.5).to(images.device)
    out = images
    if mode in ("horizontal", "horizontal_and_vertical"):
        out = torch.where(flips, out.flip(2), out)
    if mode in ("vertical", "horizontal_and_vertical"):
        out = torch.where(flips, out.flip(1), out)
    return out


# -- affine sampling ------------------------------------------------------------------------------------------------
def _fix_index(index: torch.Tensor, size: int, fill_mode: str) -> torch.Tensor:
    if fill_mode == "wrap":
        return torch.remainder(index, size)
    if fill_mode == "reflect":  # half-sample symmetric: -1 -> 0, -2 -> 1, size -> size - 1
        period = 2 * size
        index = torch.remainder(index, period)
        return torch.where(index >= size, period - 1 - index, index)
    return index.clamp(0, size - 1)  # nearest


def _pad_axis(x: torch.Tensor, dim: int, pad: int, fill_mode: str) -> torch.Tensor:
    size = x.shape[dim]
    if pad <= size and fill_mode in ("reflect", "wrap"):
        # Slices and flips are much cheaper than a gather; pad <= size covers every practical augmentation.
        head, tail = x.narrow(dim, 0, pad), x.narrow(dim, size - pad, pad)
        before, after = (head.flip(dim), tail.flip(dim)) if fill_mode == "reflect" else (tail, head)
        return torch.cat([before, x, after], dim=dim)
    index = _fix_index(torch.arange(-pad, size + pad, device=x.device), size, fill_mode)
    return x.index_select(dim, index)


def _pad(images: torch.Tensor, pad: int, fill_mode: str, fill_value: float) -> torch.Tensor:
    """Extend (B, C, H, W) by ``pad`` pixels per side the way Keras fixes out-of-range sample indices."""
    if pad == 0:
        return images
    if fill_mode == "constant":
        return F.pad(images, (pad, pad, pad, pad), value=fill_value)
    if fill_mode == "nearest":
        return F.pad(images, (pad, pad, pad, pad), mode="replicate")
    return _pad_axis(_pad_axis(images, 2, pad, fill_mode), 3, pad, fill_mode)


@functools.lru_cache(maxsize=16)
def _base_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates x and y, each (1, H*W), cached per size."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return xs.reshape(1, -1).to(device), ys.reshape(1, -1).to(device)


def affine_sample(
    images: torch.Tensor,
    transforms: torch.Tensor,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
) -> torch.Tensor:
    """Resample each image through its (6,) transform (see the module docstring); returns the same shape.

    Keras maps each out-of-range *corner index* through the fill mode. Padding the image with exactly those values
    and interpolating inside the padded image is the same arithmetic, and lets ``grid_sample`` do the work.
    """
    b, h, w, c = images.shape
    t = transforms.to(images.device, torch.float32)
    # An affine map sends the output rectangle to a parallelogram: its corners bound every sample point.
    cx = torch.tensor([0.0, w - 1.0, 0.0, w - 1.0], device=images.device)
    cy = torch.tensor([0.0, 0.0, h - 1.0, h - 1.0], device=images.device)
    corner_x = t[:, 0:1] * cx + t[:, 1:2] * cy + t[:, 2:3]
    corner_y = t[:, 3:4] * cx + t[:, 4:5] * cy + t[:, 5:6]
    reach = max(float(-corner_x.min()), float(corner_x.max()) - (w - 1), float(-corner_y.min()),
                float(corner_y.max()) - (h - 1))  # fmt: skip
    # Beyond two image sizes every fill mode has repeated itself; farther points are clamped (a margin case).
    pad = min(max(0, math.ceil(reach) + 1), 2 * max(h, w))
    padded = _pad(images.permute(0, 3, 1, 2), pad, fill_mode, fill_value)
    sx, sy = 2.0 / (w + 2 * pad - 1), 2.0 / (h + 2 * pad - 1)
    xs, ys = _base_grid(h, w, images.device)
    if interpolation == "nearest":  # round in pixel space (half to even, as Keras): normalizing could tip a .5
        gx = torch.round(t[:, 0:1] * xs + t[:, 1:2] * ys + t[:, 2:3]).add_(pad).mul_(sx).sub_(1.0)
        gy = torch.round(t[:, 3:4] * xs + t[:, 4:5] * ys + t[:, 5:6]).add_(pad).mul_(sy).sub_(1.0)
    else:  # fold the shift into the padded image and the normalization to [-1, 1] into the transform
        gx = (t[:, 0:1] * sx) * xs + (t[:, 1:2] * sx) * ys + ((t[:, 2:3] + pad) * sx - 1.0)
        gy = (t[:, 3:4] * sy) * xs + (t[:, 4:5] * sy) * ys + ((t[:, 5:6] + pad) * sy - 1.0)
    grid = torch.stack([gx, gy], dim=-1).reshape(b, h, w, 2)
    out = F.grid_sample(padded, grid, mode=interpolation, padding_mode="border", align_corners=True)
    return out.permute(0, 2, 3, 1)


def rotation_transforms(angles_deg: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Rotations about the image center (Keras' matrix; positive angles turn the content counter-clockwise)."""
    theta = angles_deg * (math.pi / 180.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    a0, a1, b0, b1 = cos, -sin, sin, cos
    return torch.stack([a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1], dim=1)


def zoom_transforms(height_zoom: torch.Tensor, width_zoom: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Zooms about the center; a zoom above 1 samples a larger area, so the content shrinks (Keras' "zoom out")."""
    zeros = torch.zeros_like(height_zoom)
    x_off = (width - 1) / 2.0 * (1.0 - width_zoom)
    y_off = (height - 1) / 2.0 * (1.0 - height_zoom)
    return torch.stack([width_zoom, zeros, x_off, zeros, height_zoom, y_off], dim=1)


def translation_transforms(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Shifts by (dx, dy) pixels: positive moves the content right / down."""
    ones, zeros = torch.ones_like(dx), torch.zeros_like(dx)
    return torch.stack([ones, zeros, -dx, zeros, ones, -dy], dim=1)


# -- colour -------------------------------------------------------------------------------------------------------
def adjust_contrast(images: torch.Tensor, factors: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """``(x - mean) * factor + mean`` with each image's per-channel mean, clipped to ``value_range``."""
    mean = images.mean(dim=(1, 2), keepdim=True)
    out = (images - mean) * factors.view(-1, 1, 1, 1).to(images) + mean
    return out.clamp(value_range[0], value_range[1])


def adjust_brightness(images: torch.Tensor, deltas: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Add ``delta`` (already in pixel units) to every pixel of each image, clipped to ``value_range``."""
    return (images + deltas.view(-1, 1, 1, 1).to(images)).clamp(value_range[0], value_range[1])


# -- geometry -----------------------------------------------------------------------------------------------------
def resize(
    images: torch.Tensor,
    size: tuple[int, int],
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_value: float = 0.0,
    antialias: bool = False,
) -> torch.Tensor:
    """Keras' torch-backend resize on a (B, H, W, C) batch (torch interpolate, half-pixel centers)."""
    th, tw = int(size[0]), int(size[1])
    h, w = images.shape[1], images.shape[2]
    x = images
    if crop_to_aspect_ratio:
        ch = max(min(h, int(w * th / tw)), 1)
        cw = max(min(w, int(h * tw / th)), 1)
        top, left = int((h - ch) / 2), int((w - cw) / 2)
        x = x[:, top : top + ch, left : left + cw]
    elif pad_to_aspect_ratio:
        ph, pw = max(h, int(w * th / tw)), max(w, int(h * tw / th))
        top, left = int((ph - h) / 2), int((pw - w) / 2)
        x = F.pad(x, (0, 0, left, left, top, top), value=fill_value)
    if x.shape[1:3] == (th, tw):
        return x
    mode = {"nearest": "nearest-exact", "bilinear": "bilinear", "bicubic": "bicubic", "area": "area"}[interpolation]
    kwargs = {"align_corners": False, "antialias": antialias} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(x.permute(0, 3, 1, 2).float(), size=(th, tw), mode=mode, **kwargs)
    return out.permute(0, 2, 3, 1)


def center_crop(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central (height, width) window; an image too small is resized as Keras' smart_resize does."""
    h, w = images.shape[1], images.shape[2]
    if h >= height and w >= width:
        top, left = (h - height) // 2, (w - width) // 2
        return images[:, top : top + height, left : left + width]
    return resize(images, (height, width), crop_to_aspect_ratio=True)


def random_crop(images: torch.Tensor, height: int, width: int, generator: torch.Generator | None) -> torch.Tensor:
    """A random (height, width) window per image (an image too small is smart-resized instead)."""
    b, h, w, _ = images.shape
    if h < height or w < width:
        return resize(images, (height, width), crop_to_aspect_ratio=True)
    tops = torch.randint(0, h - height + 1, (b,), generator=generator).tolist()
    lefts = torch.randint(0, w - width + 1, (b,), generator=generator).tolist()
    return torch.stack([images[i, t : t + height, l : l + width] for i, (t, l) in enumerate(zip(tops, lefts))])
