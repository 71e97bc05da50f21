"""DepthwiseConv2D and SeparableConv2D with Keras 3's arguments and weight names, on torch's grouped convolution.

Keras' depthwise kernel is (kh, kw, in, depth_multiplier) and output channel ``c * depth_multiplier + m`` comes from
input channel ``c`` and multiplier ``m``. torch's grouped convolution (``groups=in``) wants (in * dm, 1, kh, kw) in
the same channel order, so the kernel is stored as (in, dm, kh, kw) -- a permutation of Keras' layout, which keeps
``get_weights``/``set_weights`` one to one -- and viewed as (in * dm, 1, kh, kw) when called.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnkit import activations, constraints, initializers, regularizers
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv_utils import (
    keras_constraint_config,
    normalize_padding,
    normalize_tuple,
    output_length,
    pad_same_2d,
)
from cnnkit.layers.core import _data_format
from cnnkit.layers.registry import register_layer

DEPTHWISE_LAYOUT = (2, 3, 0, 1)  # Keras (kh, kw, in, dm) -> stored (in, dm, kh, kw)
POINTWISE_LAYOUT = (3, 2, 0, 1)  # Keras (1, 1, in, out) -> torch (out, in, 1, 1)


class _DepthwiseBase(Layer):
    """The depthwise step shared by DepthwiseConv2D and SeparableConv2D."""

    _kernel_name = "kernel"

    def _init_depthwise(
        self,
        kernel_size: Any,
        strides: Any,
        padding: str,
        depth_multiplier: int,
        data_format: str | None,
        dilation_rate: Any,
    ) -> None:
        if not isinstance(depth_multiplier, int) or isinstance(depth_multiplier, bool) or depth_multiplier < 1:
            raise ValueError(
                f"Invalid value for argument `depth_multiplier`. Expected a strictly positive value. Received "
                f"depth_multiplier={depth_multiplier}."
            )
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.depth_multiplier = depth_multiplier
        self.data_format = _data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if self.strides != (1, 1) and self.dilation_rate != (1, 1):
            raise ValueError(
                f"{type(self).__name__} does not support strides > 1 together with dilation_rate > 1. "
                f"Received: strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        desc = "(batch, height, width, channels)" if self.data_format == "channels_last" else "(batch, c, h, w)"
        self.input_spec = InputSpec(ndim=4, description=desc)

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _channels(self, input_shape: Any) -> int:
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs the channel axis to be known. Received: "
                f"input_shape={tuple(input_shape)}."
            )
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: int(channels)}, description="")
        return int(channels)

    def _depthwise(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW in, NCHW out: the depthwise convolution without bias."""
        kernel = getattr(self, self._kernel_name)
        channels = kernel.shape[0]
        weight = kernel.reshape(channels * self.depth_multiplier, 1, *self.kernel_size)
        padding: Any = 0
        if self.padding == "same":
            x, padding = pad_same_2d(x, self.kernel_size, self.strides, self.dilation_rate)
        return F.conv2d(x, weight, None, self.strides, padding, self.dilation_rate, channels)

    def _spatial_output(self, input_shape: Any) -> tuple[Any, Any, Any]:
        if self.data_format == "channels_last":
            batch, h, w, _ = input_shape
        else:
            batch, _, h, w = input_shape
        oh, ow = (
            output_length(n, self.kernel_size[i], self.strides[i], self.padding, self.dilation_rate[i])
            for i, n in enumerate((h, w))
        )
        if 0 in (oh, ow):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the input is too small for kernel_size={self.kernel_size} "
                f"with padding='valid'. Received: input_shape={tuple(input_shape)}. Use padding='same'."
            )
        return batch, oh, ow

    def _to_nchw(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.permute(0, 3, 1, 2) if self.data_format == "channels_last" else inputs

    def _from_nchw(self, x: torch.Tensor) -> torch.Tensor:
        out = x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(out) / out.shape[0])
        return out

    def _base_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "depth_multiplier": self.depth_multiplier,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


@register_layer
class DepthwiseConv2D(_DepthwiseBase):
    """Depthwise 2D convolution: each input channel gets its own ``depth_multiplier`` filters.

    Example:
        >>> layer = DepthwiseConv2D(3, padding="same", depth_multiplier=2)
        >>> tuple(layer(torch.ones(1, 8, 8, 4)).shape), [w.name for w in layer.weights]
        ((1, 8, 8, 8), ['kernel', 'bias'])
    """

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._init_depthwise(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            layout=DEPTHWISE_LAYOUT,
        )
        if self.use_bias:
            self.add_weight(
                name="bias",
                shape=(channels * self.depth_multiplier,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        x = self._depthwise(self._to_nchw(inputs))
        if self.use_bias:
            x = x + self.bias.view(1, -1, 1, 1)
        return self._from_nchw(self.activation(x))

    def compute_output_shape(self, input_shape):
        batch, oh, ow = self._spatial_output(input_shape)
        channels = input_shape[self._channel_axis]
        out = None if channels is None else channels * self.depth_multiplier
        return (batch, oh, ow, out) if self.data_format == "channels_last" else (batch, out, oh, ow)

    def get_config(self):
        return {
            **self._base_config(),
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **keras_constraint_config(self, "depthwise_constraint", "bias_constraint"),
        }


@register_layer
class SeparableConv2D(_DepthwiseBase):
    """Depthwise convolution followed by a 1x1 (pointwise) convolution to ``filters`` channels.

    Weights, in Keras' order: ``depthwise_kernel`` (kh, kw, in, dm), ``pointwise_kernel`` (1, 1, in * dm, filters),
    ``bias`` (filters,).

    Example:
        >>> layer = SeparableConv2D(16, 3, padding="same")
        >>> tuple(layer(torch.ones(1, 8, 8, 4)).shape), [w.name for w in layer.weights]
        ((1, 8, 8, 16), ['depthwise_kernel', 'pointwise_kernel', 'bias'])
    """

    _kernel_name = "depthwise_kernel"

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                f"Invalid value for argument `filters`. Expected a strictly positive value. Received filters={filters}."
            )
        self.filters = filters
        self._init_depthwise(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.add_weight(
            name="depthwise_kernel",
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            layout=DEPTHWISE_LAYOUT,
        )
        self.add_weight(
            name="pointwise_kernel",
            shape=(1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
            layout=POINTWISE_LAYOUT,
        )
        if self.use_bias:
            self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        x = self._depthwise(self._to_nchw(inputs))
        x = F.conv2d(x, self.pointwise_kernel, self.bias if self.use_bias else None)
        return self._from_nchw(self.activation(x))

    def compute_output_shape(self, input_shape):
        batch, oh, ow = self._spatial_output(input_shape)
        return (batch, oh, ow, self.filters) if self.data_format == "channels_last" else (batch, self.filters, oh, ow)

    def get_config(self):
        return {
            **self._base_config(),
            "filters": self.filters,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **keras_constraint_config(self, "depthwise_constraint", "pointwise_constraint", "bias_constraint"),
        }
