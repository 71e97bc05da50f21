"""LayerNormalization and GroupNormalization with Keras 3's arguments and weight names (gamma, beta)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnkit import constraints, initializers, regularizers
from cnnkit.layers.base import Layer
from cnnkit.layers.conv_utils import keras_constraint_config
from cnnkit.layers.registry import register_layer


class _AffineNorm(Layer):
    """The gamma/beta bookkeeping shared by the two layers."""

    def _init_affine(
        self,
        epsilon: float,
        center: bool,
        scale: bool,
        beta_initializer: Any,
        gamma_initializer: Any,
        beta_regularizer: Any,
        gamma_regularizer: Any,
        beta_constraint: Any,
        gamma_constraint: Any,
    ) -> None:
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def _build_affine(self, shape: tuple[int, ...]) -> None:
        if self.scale:
            self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )

    def compute_output_shape(self, input_shape):
        return input_shape

    def _affine_config(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            **keras_constraint_config(self, "beta_constraint", "gamma_constraint"),
        }


@register_layer
class LayerNormalization(_AffineNorm):
    """Normalize each sample over ``axis`` (default the last): ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

    Example:
        >>> import torch
        >>> out = LayerNormalization()(torch.tensor([[1.0, 2.0, 3.0]]))
        >>> [round(v, 4) for v in out[0].tolist()]
        [-1.2238, 0.0, 1.2238]
    """

    def __init__(
        self,
        axis: int | list[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        rms_scaling: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis: int | list[int] = [int(a) for a in axis]
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis}")
        self.rms_scaling = bool(rms_scaling)
        self._init_affine(
            epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
            beta_constraint, gamma_constraint,
        )  # fmt: skip

    def _axes(self, ndim: int) -> list[int]:
        return sorted(a % ndim for a in (self.axis if isinstance(self.axis, list) else [self.axis]))

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        if any(input_shape[a] is None for a in axes):
            raise ValueError(
                f"LayerNormalization {self.name!r} needs the normalized axes to be known. Received: "
                f"input_shape={tuple(input_shape)}, axis={self.axis}."
            )
        self._build_affine(tuple(int(input_shape[a]) for a in axes))

    def call(self, inputs):
        ndim = inputs.ndim
        axes = self._axes(ndim)
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        if self.rms_scaling:
            x = inputs.float()
            out = x * torch.rsqrt(x.square().mean(dim=axes, keepdim=True) + self.epsilon)
            return out * _broadcast(gamma, axes, ndim) if gamma is not None else out
        if axes == list(range(ndim - len(axes), ndim)):  # trailing axes: torch's fused kernel
            # Plain ints (not traced sizes), so the ONNX exporter sees a constant normalized shape.
            shape = [int(d) for d in inputs.shape[ndim - len(axes) :]]
            return F.layer_norm(inputs, shape, gamma, beta, self.epsilon)
        mean = inputs.mean(dim=axes, keepdim=True)
        var = inputs.var(dim=axes, keepdim=True, unbiased=False)
        out = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        if gamma is not None:
            out = out * _broadcast(gamma, axes, ndim)
        if beta is not None:
            out = out + _broadcast(beta, axes, ndim)
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": self.rms_scaling, **self._affine_config()}


@register_layer
class GroupNormalization(_AffineNorm):
    """Normalize each sample over groups of ``groups`` channels (``axis``) and all spatial axes.

    Example:
        >>> import torch
        >>> tuple(GroupNormalization(groups=2)(torch.randn(2, 5, 5, 4)).shape)
        (2, 5, 5, 4)
    """

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.groups, self.axis = int(groups), int(axis)
        self._init_affine(
            epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
            beta_constraint, gamma_constraint,
        )  # fmt: skip

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(
                f"Axis {self.axis} of input tensor should have a defined dimension but the layer received an input "
                f"with shape {tuple(input_shape)}."
            )
        if channels < self.groups:
            raise ValueError(
                f"Number of groups ({self.groups}) cannot be more than the number of channels ({channels})."
            )
        if channels % self.groups:
            raise ValueError(
                f"Number of groups ({self.groups}) must be a multiple of the number of channels ({channels})."
            )
        self._build_affine((int(channels),))

    def call(self, inputs):
        axis = self.axis % inputs.ndim
        x = inputs.movedim(axis, 1) if axis != 1 else inputs
        out = F.group_norm(
            x, self.groups, self.gamma if self.scale else None, self.beta if self.center else None, self.epsilon
        )
        return out.movedim(1, axis) if axis != 1 else out

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, **self._affine_config()}


def _broadcast(weight: torch.Tensor, axes: list[int], ndim: int) -> torch.Tensor:
    shape = [1] * ndim
    for a, n in zip(axes, weight.shape):
        shape[a] = n
    return weight.reshape(shape)
