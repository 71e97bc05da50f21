"""Pictures of what cnnkit.interpret computes, as PNG bytes or uint8 arrays.

matplotlib is imported only when a plot is made, and only through its object API with the Agg canvas, so the
global pyplot backend of the caller is never changed and no display is needed.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cnnkit.common.files import atomic_write

__all__ = [
    "to_uint8_image",
    "heatmap_overlay",
    "heatmap_rgb",
    "png_bytes",
    "save_png",
    "training_curves_png",
    "lr_find_png",
    "confusion_matrix_png",
    "image_grid_png",
    "filters_png",
    "feature_maps_png",
]


def _figure(width: float, height: float) -> Any:
    # matplotlib is imported here, when a plot is made (see the module docstring): it is slow to import.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _fig_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def to_uint8_image(image: Any) -> np.ndarray:
    """An image as uint8 ``(H, W, 3)`` or ``(H, W)`` for display: 0..255 values as they are, 0..1 scaled up."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.size and a.max() <= 1.0 and a.min() >= 0.0:
        a = a * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    """Encodes a uint8 ``(H, W)``/``(H, W, 3)`` array as PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def save_png(data: bytes | np.ndarray, path: str | os.PathLike) -> Path:
    """Writes PNG bytes (or a uint8 array) to ``path`` atomically."""
    return atomic_write(path, data if isinstance(data, bytes) else png_bytes(data))


def heatmap_overlay(image: Any, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image with a Grad-CAM heat map ``(H, W)`` in [0, 1] blended over it (jet colours), uint8 ``(H, W, 3)``."""
    from matplotlib import colormaps

    base = to_uint8_image(image)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    colours = colormaps["jet"](np.clip(heat, 0, 1))[..., :3] * 255.0
    out = (1 - alpha) * base.astype(np.float32) + alpha * colours
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def heatmap_rgb(heat: np.ndarray) -> np.ndarray:
    """A heat map ``(H, W)`` in [0, 1] in jet colours, uint8 ``(H, W, 3)``."""
    from matplotlib import colormaps

    return (colormaps["jet"](np.clip(heat, 0, 1))[..., :3] * 255).round().astype(np.uint8)


def training_curves_png(history: Mapping[str, Sequence[float]]) -> bytes:
    """Loss and every other metric per epoch, training and validation side by side."""
    names = [k for k in history if not k.startswith("val_") and k not in ("epoch", "lr", "learning_rate")]
    names = sorted(names, key=lambda k: (k != "loss", k))
    fig = _figure(4.2 * max(1, len(names)), 3.2)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, max(1, len(names)), i + 1)
        values = list(history[name])
        epochs = range(1, len(values) + 1)
        ax.plot(epochs, values, "o-", label=f"training {name}")
        if f"val_{name}" in history:
            ax.plot(epochs, list(history[f"val_{name}"]), "s-", label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _fig_png(fig)


def lr_find_png(
    lrs: Sequence[float], losses: Sequence[float], suggestion: float | None = None, skip_end: int = 5
) -> bytes:
    """The learning-rate range test: smoothed loss against the rate (log axis), the suggested rate marked.

    As fastai's ``plot_lr_find`` the last ``skip_end`` points (the blow-up) are left out, so the useful part of the
    curve fills the plot.
    """
    lrs, losses = list(lrs), list(losses)
    if len(lrs) > skip_end + 2:
        lrs, losses = lrs[:-skip_end], losses[:-skip_end]
    fig = _figure(5.0, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(lrs, losses, "-")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    if suggestion is not None and lrs:
        near = min(range(len(lrs)), key=lambda i: abs(math.log(lrs[i]) - math.log(suggestion)))
        ax.plot([suggestion], [losses[near]], "o", color="red", label=f"suggested {suggestion:.2e}")
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return _fig_png(fig)


def confusion_matrix_png(cm: np.ndarray, class_names: Sequence[str]) -> bytes:
    """The confusion matrix as a heat map with the counts written in the cells."""
    cm = np.asarray(cm)
    n = len(cm)
    size = min(12.0, 1.6 + 0.55 * n)
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot(1, 1, 1)
    rows = cm.sum(axis=1, keepdims=True)
    im = ax.imshow(cm / np.maximum(rows, 1), cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_xticks(range(n), [str(c) for c in class_names], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(c) for c in class_names], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                light = cm[i, j] > 0.6 * max(rows[i, 0], 1)
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color="white" if light else "black")
    return _fig_png(fig)


def image_grid_png(images: Sequence[Any], titles: Sequence[str] | None = None, columns: int = 5) -> bytes:
    """Images (any scale accepted by :func:`to_uint8_image`) in a grid with a title each."""
    n = len(images)
    cols = max(1, min(columns, n))
    rows = max(1, math.ceil(n / cols))
    fig = _figure(2.2 * cols, 2.4 * rows)
    for i, img in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        a = to_uint8_image(img)
        ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=255)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        ax.axis("off")
    return _fig_png(fig)


def filters_png(kernels: np.ndarray, max_filters: int = 64) -> bytes:
    """First-layer filters ``(kh, kw, in, out)`` scaled to [0, 1]: colour when ``in`` is 3, else channel 0."""
    k = np.asarray(kernels)
    n = min(k.shape[-1], max_filters)
    tiles = [k[:, :, :, i] if k.shape[2] == 3 else k[:, :, 0, i] for i in range(n)]
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig = _figure(1.0 * cols, 1.0 * rows)
    for i, t in enumerate(tiles):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(t, cmap=None if t.ndim == 3 else "gray", vmin=0, vmax=1, interpolation="nearest")
        ax.axis("off")
    return _fig_png(fig)


def feature_maps_png(maps: np.ndarray, title: str = "", max_channels: int = 32) -> bytes:
    """The channels of one feature map ``(H, W, C)`` side by side, each scaled to its own range."""
    m = np.asarray(maps)
    if m.ndim == 1:
        m = m[None, None, :]
    n = min(m.shape[-1], max_channels)
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig = _figure(1.3 * cols, 1.3 * rows + (0.4 if title else 0))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(m[:, :, i], cmap="viridis", interpolation="nearest")
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return _fig_png(fig)
