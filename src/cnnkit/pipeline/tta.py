"""Flip test-time augmentation: class probabilities averaged over each image and its horizontal mirror.

fastai's ``Learner.tta`` averages predictions over augmented copies of each image; the flip is the one augmentation
whose copy is an equally likely photo of the same thing, so it is the one used here (one extra forward pass). The
wrapper is a plain module, so everything that takes a model (``collect_predictions``, the report) takes it too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.interpret.utils import first_output, probabilities

__all__ = ["FlipTTA", "with_tta"]


class FlipTTA(torch.nn.Module):
    """Wraps a channels-last image classifier: ``(p(x) + p(mirror(x))) / 2``, probabilities ``(batch, classes)``.

    Example:
        >>> import cnnkit
        >>> model = cnnkit.models.Sequential([cnnkit.layers.Input((4, 4, 1)), cnnkit.layers.Flatten(),
        ...                                   cnnkit.layers.Dense(3, activation="softmax")])
        >>> FlipTTA(model)(np.zeros((2, 4, 4, 1), np.float32)).shape
        torch.Size([2, 3])
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Any, training: bool = False) -> torch.Tensor:
        x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)
        # Channels-last (batch, height, width, channels): the width axis is 2.
        plain = probabilities(first_output(self.model(x, training=False)))
        mirrored = probabilities(first_output(self.model(torch.flip(x, dims=[2]), training=False)))
        return (plain + mirrored) / 2


def with_tta(model: Any, tta: bool) -> Any:
    """``FlipTTA(model)`` when ``tta`` is True, else the model itself."""
    return FlipTTA(model) if tta else model
