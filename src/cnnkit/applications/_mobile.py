"""Helpers shared by Keras' mobile families (MobileNet V1-V3, EfficientNet V1/V2, ConvNeXt): Keras' channel
rounding and stride-2 padding, the finishing of a model (its weights), and torchvision's BatchNorm epsilon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications.weights import WeightsEntry
from cnnkit.models import Model

__all__ = ["make_divisible", "correct_pad", "finish", "shift_variance"]


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Keras' (and torchvision's) ``_make_divisible``: round to a multiple of `divisor`, never more than 10% down."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def correct_pad(x: Any, kernel_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras' ``imagenet_utils.correct_pad``: the zero padding before a stride-2 'valid' conv.

    An even side is padded by one row/column less on the top/left, as TensorFlow's 'same' padding does; an odd
    side (or an unknown one) is padded symmetrically. torchvision pads symmetrically always, which is why its
    weights give its exact logits in the Keras architecture only at odd input sizes.
    """
    half = kernel_size // 2
    sizes = tuple(x.shape[1:3])
    adjust = [0 if s is None else 1 - s % 2 for s in sizes]
    return ((half - adjust[0], half), (half - adjust[1], half))


def finish(inputs: Any, x: Any, name: str, weights: Any, table: Mapping[str, WeightsEntry], include_top: bool,
           top_layers: tuple[str, ...], from_torchvision: Any = None) -> Any:  # fmt: skip
    """The Model over `inputs` -> `x`, with `weights` loaded (Keras files by layer name, torchvision converted)."""
    model = Model(inputs, x, name=name)
    _builder.load_weights(model, weights, table, include_top=include_top, top_layers=top_layers,
                          from_torchvision=from_torchvision, from_keras="layers")  # fmt: skip
    return model


def shift_variance(state: dict[str, torch.Tensor], tv_epsilon: float, keras_epsilon: float) -> dict[str, torch.Tensor]:
    """BatchNorm normalises by ``sqrt(var + eps)``: moving the difference of epsilons into the moving variance makes
    a layer with Keras' epsilon compute exactly what torchvision's computes (a pure function)."""
    if tv_epsilon == keras_epsilon:
        return state
    delta = tv_epsilon - keras_epsilon
    return {k: v + delta if k.endswith(".moving_variance") else v for k, v in state.items()}
