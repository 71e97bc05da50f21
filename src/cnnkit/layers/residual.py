"""The two layers of a modern residual branch, as Keras' ConvNeXt defines them (``keras.applications.convnext``):
``LayerScale`` (a learnt per-channel scale, Touvron et al. 2021, arXiv:2103.17239) and ``StochasticDepth`` (the
residual branch dropped per sample while training, Huang et al. 2016).

Keras keeps both classes in its ConvNeXt module; here they are layers like any other, registered so that a saved
model rebuilds them by class name.

Example:
    >>> import torch
    >>> LayerScale(init_values=0.5, projection_dim=3)(torch.ones(1, 3)).tolist()
    [[0.5, 0.5, 0.5]]
"""

from __future__ import annotations

from typing import Any

import torch

from cnnkit import random
from cnnkit.initializers import Constant
from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer

__all__ = ["LayerScale", "StochasticDepth"]


@register_layer
class LayerScale(Layer):
    """``x * gamma``: one learnt scale per channel of the last axis, initialised to ``init_values``.

    Args:
        init_values: The initial value of every scale (ConvNeXt: 1e-6, so a new block starts near the identity).
        projection_dim: The number of channels (the last axis of the input).
    """

    def __init__(self, init_values: float, projection_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(projection_dim, int) or isinstance(projection_dim, bool) or projection_dim < 1:
            raise ValueError(
                f"LayerScale needs the number of channels as a positive integer. Expected projection_dim >= 1. "
                f"Received: projection_dim={projection_dim!r}. Pass the size of the input's last axis."
            )
        self.init_values = float(init_values)
        self.projection_dim = projection_dim

    def build(self, input_shape: Any) -> None:
        if input_shape[-1] is not None and input_shape[-1] != self.projection_dim:
            raise ValueError(
                f"LayerScale {self.name!r} scales {self.projection_dim} channels. Expected an input whose last axis "
                f"is {self.projection_dim}. Received: input_shape={tuple(input_shape)}. Pass projection_dim="
                f"{input_shape[-1]}."
            )
        # Keras leaves this weight unnamed ('variable'); a fixed name keeps cnnkit's state-dict keys stable.
        self.add_weight(shape=(self.projection_dim,), initializer=Constant(self.init_values), name="gamma")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs * self.gamma

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}


@register_layer
class StochasticDepth(Layer):
    """Drops the whole input of each sample with probability ``drop_path_rate`` while training (the kept ones are
    scaled by ``1 / (1 - drop_path_rate)``); the identity in inference. Keras' rule: ``floor(keep + U[0, 1))``.

    Args:
        drop_path_rate: The probability of dropping a sample's residual branch, in [0, 1).
    """

    def __init__(self, drop_path_rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (
            isinstance(drop_path_rate, bool)
            or not isinstance(drop_path_rate, int | float)
            or not (0 <= drop_path_rate < 1)
        ):
            raise ValueError(
                f"The drop path rate must be a probability below 1. Expected 0 <= drop_path_rate < 1. Received: "
                f"drop_path_rate={drop_path_rate!r}. Pass e.g. 0.1."
            )
        self.drop_path_rate = float(drop_path_rate)

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.drop_path_rate == 0:
            return inputs
        keep = 1.0 - self.drop_path_rate
        shape = (inputs.shape[0],) + (1,) * (inputs.ndim - 1)
        mask = torch.floor(keep + random.uniform(shape, 0, 1)).to(device=inputs.device, dtype=inputs.dtype)
        return inputs / keep * mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}
