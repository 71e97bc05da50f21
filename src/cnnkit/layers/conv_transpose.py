"""Conv2DTranspose with Keras 3's arguments, output sizes and weight layout (kernel (kh, kw, filters, in)).

torch's ``conv_transpose2d`` weight is (in, out, kh, kw): a permutation of Keras' kernel, so weights map one to one.
The full transposed convolution is computed without padding and then cropped (or zero-extended) to Keras' output
length, starting at TensorFlow's ``same`` offset: that is what the gradient of a ``same`` convolution does.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from cnnkit import activations, constraints, initializers, regularizers
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv_utils import (
    keras_constraint_config,
    normalize_padding,
    normalize_tuple,
    transpose_output_length,
)
from cnnkit.layers.core import _data_format
from cnnkit.layers.registry import register_layer

TRANSPOSE_LAYOUT = (3, 2, 0, 1)  # Keras (kh, kw, out, in) -> torch (in, out, kh, kw)


@register_layer
class Conv2DTranspose(Layer):
    """Transposed 2D convolution (upsampling by ``strides``): ``Conv2DTranspose(32, 3, strides=2, padding='same')``.

    Example:
        >>> import torch
        >>> tuple(Conv2DTranspose(8, 3, strides=2, padding="same")(torch.ones(1, 5, 5, 4)).shape)
        (1, 10, 10, 8)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        output_padding: Any = None,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                f"Invalid value for argument `filters`. Expected a strictly positive value. Received filters={filters}."
            )
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.output_padding = (
            None if output_padding is None else normalize_tuple(output_padding, 2, "output_padding", True)
        )
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(
                f"Strides must be greater than output padding. Received strides={self.strides}, "
                f"output_padding={self.output_padding}."
            )
        self.data_format = _data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=4, description="(batch, height, width, channels)")

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"Conv2DTranspose {self.name!r} needs the channel axis to be known. Received: {input_shape}."
            )
        self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, self.filters, int(channels)),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            layout=TRANSPOSE_LAYOUT,
        )
        if self.use_bias:
            self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: int(channels)})

    def _lengths(self, h: Any, w: Any) -> tuple[Any, Any]:
        pads = self.output_padding or (None, None)
        return tuple(  # type: ignore[return-value]
            transpose_output_length(
                n, self.kernel_size[i], self.strides[i], self.padding, pads[i], self.dilation_rate[i]
            )
            for i, n in enumerate((h, w))
        )

    def call(self, inputs):
        x = inputs.permute(0, 3, 1, 2) if self.data_format == "channels_last" else inputs
        h, w = x.shape[2], x.shape[3]
        full = F.conv_transpose2d(x, self.kernel, None, self.strides, 0, 0, 1, self.dilation_rate)
        targets = self._lengths(h, w)
        crops = []
        for i, (n, target) in enumerate(zip((h, w), targets)):
            effective = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            start = max((n - 1) * self.strides[i] + effective - target, 0) // 2 if self.padding == "same" else 0
            crops.append((start, target))
        (top, oh), (left, ow) = crops
        x = full[:, :, top : top + oh, left : left + ow]
        short_h, short_w = oh - x.shape[2], ow - x.shape[3]
        if short_h > 0 or short_w > 0:  # valid padding with kernel < stride: Keras' output is longer than the full one
            x = F.pad(x, (0, max(short_w, 0), 0, max(short_h, 0)))
        if self.use_bias:
            x = x + self.bias.view(1, -1, 1, 1)
        x = self.activation(x)
        out = x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(out) / out.shape[0])
        return out

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            batch, h, w, _ = input_shape
        else:
            batch, _, h, w = input_shape
        oh, ow = self._lengths(h, w)
        return (batch, oh, ow, self.filters) if self.data_format == "channels_last" else (batch, self.filters, oh, ow)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "output_padding": None if self.output_padding is None else list(self.output_padding),
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **keras_constraint_config(self, "kernel_constraint", "bias_constraint"),
        }


Convolution2DTranspose = Conv2DTranspose
