"""Batched image ops behind the preprocessing layers: (batch, H, W, C) float tensors in, same out.

The affine ops follow Keras 3 exactly: a transform ``[a0, a1, a2, b0, b1, b2]`` maps each output pixel (x, y) to
the input point (a0 x + a1 y + a2, b0 x + b1 y + b2) in pixel-index coordinates, sampled with nearest/bilinear
interpolation and Keras' fill modes (reflect = d c b a | a b c d | d c b a, wrap, nearest = edge, constant).
Random parameters are drawn per sample from a ``torch.Generator`` so a seeded pipeline is reproducible.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")


def uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float32) * (high - low) + low


# -- flips --------------------------------------------------------------------------------------------------------
Flips = tuple  # (horizontal mask or None, vertical mask or None): which images of a batch flip along each axis


def flip_masks(batch: int, mode: str, generator: torch.Generator | None) -> Flips:
    """One coin per image (heads: flip). As Keras 3, "horizontal_and_vertical" flips both axes on one coin (a 180
    degree turn)."""
    flips = torch.rand((batch,), generator=generator) <= 0.5
    horizontal = flips if mode in ("horizontal", "horizontal_and_vertical") else None
    vertical = flips if mode in ("vertical", "horizontal_and_vertical") else None
    return horizontal, vertical


def combine_flips(first: Flips | None, second: Flips | None) -> Flips | None:
    """Two flips in a row as one: along each axis an image flips when exactly one of them flips it."""
    if first is None or second is None:
        return first if second is None else second
    return tuple(a if b is None else b if a is None else a ^ b for a, b in zip(first, second))


def apply_flips(images: torch.Tensor, flips: Flips) -> torch.Tensor:
    """Flip the images their masks select (a copy of the batch; the others are copied unchanged)."""
    horizontal, vertical = flips
    if horizontal is not None and horizontal is vertical:  # one coin for both axes: one pass
        return _flip_selected(images, horizontal, (1, 2))
    out = images
    for mask, axis in ((horizontal, 2), (vertical, 1)):
        if mask is None:
            continue
        out = _flip_selected(out, mask, (axis,))
    return out


def _flip_selected(images: torch.Tensor, mask: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    idx = mask.nonzero().squeeze(1).to(images.device)
    if idx.numel() == 0:
        return images
    chosen = images.index_select(0, idx).flip(axes)  # copy and flip only the images that drew heads
    return images.clone().index_copy_(0, idx, chosen)


def random_flip(images: torch.Tensor, mode: str, generator: torch.Generator | None) -> torch.Tensor:
    """Flip each image with probability 1/2 (see :func:`flip_masks`)."""
    return apply_flips(images, flip_masks(images.shape[0], mode, generator))


# -- affine sampling ------------------------------------------------------------------------------------------------
def _wrap_pad1(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) with one wrapped-around pixel on every side."""
    x = torch.cat([x[:, :, -1:], x, x[:, :, :1]], dim=2)
    return torch.cat([x[:, :, :, -1:], x, x[:, :, :, :1]], dim=3)


@functools.lru_cache(maxsize=16)
def _pixel_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(H*W, 3): every output pixel's (x, y, 1), row by row, cached per size."""
    xs, ys = _base_grid(h, w, device)
    return torch.stack([xs[0], ys[0], torch.ones_like(xs[0])], dim=1)


@functools.lru_cache(maxsize=16)
def _base_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates x and y, each (1, H*W), cached per size."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return xs.reshape(1, -1).to(device), ys.reshape(1, -1).to(device)


def _flip_coords(coords: torch.Tensor, mask: torch.Tensor | None, size: int) -> torch.Tensor:
    """``size - 1 - c`` for the images the mask selects, ``c`` for the others (both exact in floating point)."""
    if mask is None:
        return coords
    m = mask.to(coords.device, torch.float32).unsqueeze(1)
    return coords * (1.0 - 2.0 * m) + m * (size - 1)


def _fold_flip_before(t: torch.Tensor, before: Flips, h: int, w: int) -> torch.Tensor:
    """The (B, 6) transforms with a flip of the input folded in: sampling the mirrored image at u is sampling the
    image at size-1-u, so the flipped images' rows of coefficients change sign and their offsets move."""
    t = t.clone()
    for mask, row, size in ((before[0], 0, w), (before[1], 3, h)):
        if mask is not None:
            m = mask.to(t.device)
            t[m, row : row + 3] = -t[m, row : row + 3]
            t[m, row + 2] += size - 1
    return t


def affine_sample(
    images: torch.Tensor,
    transforms: torch.Tensor,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    flip_before: Flips | None = None,
    flip_after: Flips | None = None,
) -> torch.Tensor:
    """Resample each image through its (6,) transform (see the module docstring); returns the same shape.

    Keras maps each interpolation tap's *index* through the fill mode. ``grid_sample`` gives the same numbers:
    linear interpolation commutes with reflecting about a pixel edge, so "reflect" is its "reflection" mode
    (align_corners=False); "nearest" clamps taps, which is its "border" mode; "constant" is a one-pixel border of
    ``fill_value``; "wrap", which grid_sample lacks, pads the image with wrapped copies first.

    ``flip_before`` / ``flip_after`` fold a RandomFlip that runs just before / after this resample into it, in one
    pass: a flip before mirrors the sampling coordinates (after rounding, for "nearest"), a flip after mirrors the
    output pixel coordinates. Every fill mode is symmetric under a mirror, so the result is the two ops' result.
    """
    b, h, w, _ = images.shape
    t = transforms.to(images.device, torch.float32)
    x = images.permute(0, 3, 1, 2)
    pad, mode = 0, "border"
    if fill_mode == "reflect":
        mode = "reflection"
    elif fill_mode == "constant":
        pad = 1
        x = F.pad(x, (1, 1, 1, 1), value=fill_value)
    elif fill_mode == "wrap":  # coordinates taken modulo the size, one wrapped pixel for the last tap
        pad = 1
        x = _wrap_pad1(x)
    # pixel coordinate u (0 .. size-1 in the unpadded image) -> grid value (2 (u + pad) + 1) / padded_size - 1
    sx, sy = 2.0 / (w + 2 * pad), 2.0 / (h + 2 * pad)
    if interpolation != "nearest" and fill_mode != "wrap":
        # Bilinear: a flip before becomes sign changes and offsets of the coefficients (the same map up to float
        # rounding), the normalization scales them, and one matmul of every output pixel's (x, y, 1) with each
        # image's 3x2 coefficients writes the grid; a flip after mirrors the flipped images' grids (exactly).
        if flip_before is not None:
            t = _fold_flip_before(t, flip_before, h, w)
        coef = t * torch.tensor([sx, sx, sx, sy, sy, sy], device=t.device)
        coef[:, 2] += (pad + 0.5) * sx - 1.0
        coef[:, 5] += (pad + 0.5) * sy - 1.0
        grid = torch.matmul(_pixel_grid(h, w, images.device), coef.view(b, 2, 3).transpose(1, 2)).view(b, h, w, 2)
        if flip_after is not None:  # the grid is laid out like the images: flipping it mirrors the output
            grid = apply_flips(grid, flip_after)
    else:  # nearest rounds, and wrap takes a remainder, in pixel space
        xs, ys = _base_grid(h, w, images.device)
        if flip_after is not None:  # output pixel (x, y) of a flipped result is pixel (w-1-x, y) of the unflipped one
            xs, ys = _flip_coords(xs, flip_after[0], w), _flip_coords(ys, flip_after[1], h)
        u = t[:, 0:1] * xs + t[:, 1:2] * ys + t[:, 2:3]
        v = t[:, 3:4] * xs + t[:, 4:5] * ys + t[:, 5:6]
        if interpolation == "nearest":  # round here (half to even, as Keras): normalizing could tip a .5
            u, v = torch.round(u), torch.round(v)
        if flip_before is not None:  # sampling a flipped image at u is sampling the image at w-1-u
            u, v = _flip_coords(u, flip_before[0], w), _flip_coords(v, flip_before[1], h)
        if fill_mode == "wrap":
            u, v = torch.remainder(u, w), torch.remainder(v, h)
        grid = torch.stack([u.add_(pad + 0.5).mul_(sx).sub_(1.0), v.add_(pad + 0.5).mul_(sy).sub_(1.0)], dim=-1)
        grid = grid.view(b, h, w, 2)
    out = F.grid_sample(x, grid, mode=interpolation, padding_mode=mode, align_corners=False)
    return out.permute(0, 2, 3, 1)


# -- fused geometry -----------------------------------------------------------------------------------------------
def run_geometry(images: torch.Tensor, steps: list[tuple]) -> torch.Tensor:
    """Apply a run of geometric augmentations, drawn in layer order, with as few passes as exactness allows.

    ``steps`` holds each layer's draw: ``("flip", flips)`` or ``("affine", transforms, interpolation, fill_mode,
    fill_value)``. Flips cost no pass of their own: they fold into the neighbouring resample (see
    :func:`affine_sample`), or become one flip pass when the run has no resample. Two resamples stay two: as in
    Keras, each interpolates the previous one's output, which one combined resample would not reproduce.
    """
    before = after = affine = None
    for kind, *args in steps:
        if kind == "flip":
            if affine is None:
                before = combine_flips(before, args[0])
            else:
                after = combine_flips(after, args[0])
            continue
        if affine is not None:
            images = affine_sample(images, *affine, flip_before=before, flip_after=after)
            before = after = None
        affine = args
    if affine is not None:
        return affine_sample(images, *affine, flip_before=before, flip_after=after)
    return images if before is None else apply_flips(images, before)


def apply_augmentation(fn: Any, images: torch.Tensor) -> torch.Tensor:
    """Runs one augmentation on a batch: a preprocessing layer (anything with Keras' ``call``) in training mode, a
    plain function on the batch."""
    if hasattr(fn, "call") and callable(fn):
        return fn(images, training=True)
    return fn(images)


def run_augmentations(
    fns: list, images: torch.Tensor, apply: Callable[[Any, torch.Tensor], torch.Tensor] = apply_augmentation
):
    """Run ``fns`` over a (batch, H, W, C) float batch in order, as the data pipeline does; ``apply(fn, images)``
    runs one of them (by default :func:`apply_augmentation`).

    A function with ``draw_geometry(batch, height, width)`` (the built-in flip, rotation, zoom and translation
    layers) that returns a draw joins a run of geometric steps done by :func:`run_geometry`. Its random draws are
    taken in the layers' order, so the batch is the one the layers give one after another (up to float rounding).
    """
    steps: list[tuple] = []
    for fn in fns:
        draw = getattr(fn, "draw_geometry", None)
        step = draw(*images.shape[:3]) if draw is not None and images.ndim == 4 and images.is_floating_point() else None
        if step is not None:
            steps.append(step)
            continue
        if steps:
            images, steps = run_geometry(images, steps), []
        images = apply(fn, images)
    return run_geometry(images, steps) if steps else images


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
