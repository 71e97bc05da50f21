"""Core layers: Input, Dense, Flatten, Dropout, Activation, ReLU, LeakyReLU, Softmax."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from cnnkit import activations, constraints, initializers, regularizers
from cnnkit.layers.base import InputSpec, Layer, _fmt
from cnnkit.layers.registry import register_layer
from cnnkit.layers.symbolic import KerasTensor, Node


@register_layer
class InputLayer(Layer):
    """The entry of a functional graph; ``Input(shape)`` creates one and returns its symbolic output."""

    def __init__(
        self,
        shape: tuple | None = None,
        batch_size: int | None = None,
        dtype: str | None = None,
        name: str | None = None,
        batch_shape: tuple | None = None,
        **kwargs: Any,
    ):
        if "input_shape" in kwargs:  # Keras 2 spelling, still accepted by Keras 3
            shape = kwargs.pop("input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs a shape. Expected e.g. Input(shape=(64, 64, 3)). Received: shape=None.")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.built = True
        self._build_input_shape = self.batch_shape
        node = Node(layer=self, inputs=[], outputs=[])
        node.outputs = [KerasTensor(self.batch_shape, name=self.name, node=node)]
        self._inbound_nodes.append(node)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}


def Input(
    shape: tuple | None = None,
    batch_size: int | None = None,
    dtype: str | None = None,
    name: str | None = None,
    batch_shape: tuple | None = None,
) -> KerasTensor:
    """A symbolic input: ``inputs = Input(shape=(64, 64, 3))`` (batch axis excluded), as ``keras.Input``."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape).output


@register_layer
class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` on the last axis; kernel (in, out) as in Keras.

    Example:
        >>> layer = Dense(128, activation="relu")
        >>> layer(torch.ones(2, 64)).shape
        torch.Size([2, 128])
    """

    def __init__(
        self,
        units: int,
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
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense units must be a positive integer. Received: units={units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, description="(batch, ..., features)")

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r} needs the last axis of its input to be known. Received: input_shape="
                f"{_fmt(input_shape)}. Add a Flatten or GlobalAveragePooling2D layer before it."
            )
        self.add_weight(
            "kernel",
            (input_shape[-1], self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: int(input_shape[-1])}, description="(batch, ..., features)")

    def call(self, inputs):
        if inputs.ndim == 2 and self.use_bias:
            x = torch.addmm(self.bias, inputs, self.kernel)
        else:
            x = torch.matmul(inputs, self.kernel)
            if self.use_bias:
                x = x + self.bias
        out = self.activation(x)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(out) / out.shape[0])
        return out

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


@register_layer
class Flatten(Layer):
    """Flatten all axes but the batch, in Keras' (height, width, channels) order."""

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@register_layer
class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training (scaled by 1 / (1 - rate)); identity otherwise."""

    def __init__(self, rate: float, noise_shape: tuple | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout rate must be in [0, 1]. Received: rate={rate!r}.")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, training=True)
        shape = [inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        keep = torch.empty(shape, device=inputs.device, dtype=inputs.dtype).bernoulli_(1 - self.rate)
        return inputs * keep / (1 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


@register_layer
class Activation(Layer):
    """Apply an activation by name or callable: ``Activation('relu')``."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@register_layer
class ReLU(Layer):
    """``min(max(x, threshold) ..., max_value)`` with Keras' arguments (defaults: plain ReLU)."""

    def __init__(
        self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0, **kwargs: Any
    ):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of a ReLU layer cannot be negative. Received: max_value={max_value}.")
        if negative_slope < 0:
            raise ValueError(f"negative_slope of a ReLU layer cannot be negative. Received: {negative_slope}.")
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)

    def call(self, inputs):
        slope, threshold, top = self.negative_slope, self.threshold, self.max_value
        if threshold == 0 and slope == 0:
            # One pass over the data: relu, or hardtanh(0, max_value) (= min(max(x, 0), max_value), relu6 at 6).
            return F.relu(inputs) if top is None else F.hardtanh(inputs, 0.0, float(top))
        if threshold == 0 and top is None:
            return F.leaky_relu(inputs, slope)
        # Keras' general case: x where x > threshold else 0, clipped to max_value, minus slope * relu(threshold - x).
        x = torch.where(inputs > threshold, inputs, 0.0) if threshold != 0 else F.relu(inputs)
        if top is not None:
            x = x.clamp(0.0, top)
        return x - slope * F.relu(threshold - inputs) if slope else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


@register_layer
class LeakyReLU(Layer):
    def __init__(self, negative_slope: float = 0.3, **kwargs: Any):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return F.leaky_relu(inputs, self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register_layer
class Softmax(Layer):
    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return activations.softmax(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _data_format(value: str | None) -> str:
    value = "channels_last" if value is None else value
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"Invalid data_format. Expected 'channels_last' or 'channels_first'. Received: data_format={value!r}."
        )
    return value
