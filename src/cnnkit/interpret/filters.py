"""The kernels of a convolution, scaled for display."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.interpret.hooks import leaf_modules
from cnnkit.interpret.utils import conv_kernel, find_layer, is_conv

__all__ = ["filters"]


def filters(model: torch.nn.Module, layer: Any = None, normalize: bool = True) -> np.ndarray:
    """The kernels of a convolution (by default the model's first) as a float32 array ``(kh, kw, in, out)``.

    Args:
        model: a cnnkit model or a torch module.
        layer: the convolution (name, layer or index); defaults to the first convolution of the model.
        normalize: scale all kernels together to [0, 1] (min-max), so that they can be shown as images with one
            shared scale; ``False`` returns the raw weights in the Keras layout.

    Example:
        >>> k = cnnkit.interpret.filters(model)
        >>> k.shape  # the tutorial CNN: 32 kernels of 3x3 over RGB
        (3, 3, 3, 32)
    """
    if layer is None:
        convs = [(n, m) for n, m in leaf_modules(model) if is_conv(m)]
        if not convs:
            raise ValueError(
                "The model has no convolution whose filters could be shown. Expected a model with a Conv2D layer. "
                f"Received: a model of type {type(model).__name__}. Pass layer=... or use a convolutional model."
            )
        name, module = convs[0]
    else:
        name, module = find_layer(model, layer)
        if not is_conv(module):
            raise ValueError(
                "filters() needs a convolution. Expected a Conv2D layer. "
                f"Received: layer={name!r} ({type(module).__name__}). Pass the name of a Conv2D layer."
            )
    with torch.no_grad():
        k = conv_kernel(module).detach().to(torch.float32).permute(2, 3, 1, 0).contiguous().cpu().numpy()
    if normalize:
        lo, hi = float(k.min()), float(k.max())
        k = (k - lo) / (hi - lo) if hi > lo else np.zeros_like(k)
    return k.astype(np.float32)
