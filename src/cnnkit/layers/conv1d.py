"""Conv1D with Keras 3's arguments (``padding`` 'valid', 'same' or 'causal'); kernel (k, in, filters) as in Keras."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from cnnkit import activations, constraints, initializers, regularizers
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv_utils import keras_constraint_config, normalize_tuple, output_length, same_padding
from cnnkit.layers.core import _data_format
from cnnkit.layers.registry import register_layer

CONV1D_LAYOUT = (2, 1, 0)  # Keras (k, in, out) -> torch (out, in, k)


@register_layer
class Conv1D(Layer):
    """1D convolution over (batch, steps, channels): ``Conv1D(32, 3, activation='relu')``.

    Example:
        >>> import torch
        >>> tuple(Conv1D(8, 3, padding="causal")(torch.ones(2, 10, 4)).shape)
        (2, 10, 8)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
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
        self.kernel_size = normalize_tuple(kernel_size, 1, "kernel_size")
        self.strides = normalize_tuple(strides, 1, "strides")
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same", "causal"):
            raise ValueError(f"Invalid padding. Expected 'valid', 'same' or 'causal'. Received: padding={padding!r}.")
        self.data_format = _data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 1, "dilation_rate")
        if groups < 1 or filters % groups:
            raise ValueError(
                f"groups must be a positive divisor of filters. Received: groups={groups}, filters={filters}."
            )
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=3, description="(batch, steps, channels)")

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is None or channels % self.groups:
            raise ValueError(
                f"Conv1D {self.name!r} needs a known number of input channels divisible by groups. Received: "
                f"input_shape={tuple(input_shape)}, groups={self.groups}."
            )
        self.add_weight(
            name="kernel",
            shape=(self.kernel_size[0], int(channels) // self.groups, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            layout=CONV1D_LAYOUT,
        )
        if self.use_bias:
            self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(ndim=3, axes={self._channel_axis: int(channels)})

    def call(self, inputs):
        x = inputs.transpose(1, 2) if self.data_format == "channels_last" else inputs
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        if self.padding == "causal":
            x = F.pad(x, ((k - 1) * d, 0))
        elif self.padding == "same":
            x = F.pad(x, same_padding(x.shape[2], k, s, d))
        x = F.conv1d(x, self.kernel, self.bias if self.use_bias else None, s, 0, d, self.groups)
        out = self.activation(x)
        out = out.transpose(1, 2) if self.data_format == "channels_last" else out
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(out) / out.shape[0])
        return out

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1 if self.data_format == "channels_last" else 2]
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        if self.padding == "causal":
            out = None if steps is None else (steps - 1) // s + 1
        else:
            out = output_length(steps, k, s, self.padding, d)
        if out == 0:
            raise ValueError(
                f"Conv1D {self.name!r}: the input is too small for kernel_size={self.kernel_size}. Received: "
                f"input_shape={tuple(input_shape)}. Use a longer input or padding='same'."
            )
        return (batch, out, self.filters) if self.data_format == "channels_last" else (batch, self.filters, out)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **keras_constraint_config(self, "kernel_constraint", "bias_constraint"),
        }


Convolution1D = Conv1D
