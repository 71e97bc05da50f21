"""Feature maps: what each convolution of a network outputs for one image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cnnkit.interpret.hooks import Hooks, leaf_modules
from cnnkit.interpret.utils import eval_mode, find_layer, first_output, is_conv, to_batch, to_nhwc

__all__ = ["feature_maps"]


def feature_maps(model: torch.nn.Module, image: Any, layers: Sequence[Any] | None = None) -> dict[str, np.ndarray]:
    """The activations of some layers of ``model`` for one image.

    Args:
        model: a cnnkit model or a torch module taking channels-last images.
        image: one image ``(height, width, channels)``.
        layers: layer names, layer objects or indices; defaults to every convolution, in the order they run.

    Returns:
        An ordered dict ``layer name -> float32 array (height, width, channels)`` (layers whose output is not 4D
        give ``(features,)`` arrays).

    Example:
        >>> maps = cnnkit.interpret.feature_maps(model, x_val[0])
        >>> {name: a.shape for name, a in maps.items()}
        {'conv2d': (62, 62, 32), 'conv2d_1': (29, 29, 64)}
    """
    if layers is None:
        chosen = [(n, m) for n, m in leaf_modules(model) if is_conv(m)]
        if not chosen:
            raise ValueError(
                "The model has no convolution to show feature maps for. Expected a convolutional model. "
                "Received: a model without Conv2D layers. Pass layers=[...] explicitly."
            )
    else:
        chosen = [find_layer(model, layer) for layer in layers]
    x = to_batch(image)
    with torch.no_grad(), eval_mode(model), Hooks([m for _, m in chosen], detach=True) as hooks:
        first_output(model(x))
        stored = [h.stored for h in hooks]
    result: dict[str, np.ndarray] = {}
    for (name, m), out in zip(chosen, stored, strict=True):
        if out is None:  # the layer did not run for this input (e.g. a branch the model skips)
            continue
        out = first_output(out)
        if out.ndim == 4:
            out = to_nhwc(out, m)
        result[name] = out[0].to(torch.float32).cpu().numpy()
    return result
