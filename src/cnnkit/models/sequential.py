"""Sequential: a plain stack of layers, built from a list or with ``add()``."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from cnnkit import activations
from cnnkit.layers.base import Layer, _with_batch_none
from cnnkit.layers.conv import Conv2D
from cnnkit.layers.core import Activation, InputLayer, ReLU
from cnnkit.layers.pooling import MaxPooling2D
from cnnkit.layers.registry import register_layer
from cnnkit.layers.symbolic import KerasTensor
from cnnkit.models.model import Model
from cnnkit.saving.serialization import deserialize_layer, serialize_layer


@register_layer
class Sequential(Model):
    """A linear stack of layers.

    Example:
        >>> from cnnkit.layers import Conv2D, Dense, Flatten, MaxPooling2D
        >>> model = Sequential([
        ...     Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)),
        ...     MaxPooling2D((2, 2)), Flatten(), Dense(1, activation="sigmoid")])
    """

    def __init__(self, layers: list | None = None, trainable: bool = True, name: str | None = None):
        super().__init__(name=name, trainable=trainable)
        self._layer_list: list[Layer] = []
        self._input_tensor: KerasTensor | None = None
        self._output_tensor: KerasTensor | None = None
        self._graph_nodes: list = []  # the nodes this model's own graph added to its layers
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layer_list)

    def add(self, layer: Any) -> None:
        """Append a layer; an ``Input(shape)`` (or InputLayer) given first sets the input shape."""
        if isinstance(layer, KerasTensor) and layer.node is not None and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._layer_list:
                raise ValueError(
                    f"An Input can only be the first element of Sequential {self.name!r}. Received it after "
                    f"{len(self._layer_list)} layer(s). Move it to the front."
                )
            self._start_graph(layer.batch_shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a cnnkit layer. Received: {layer!r} of type {type(layer).__name__}. "
                f"Wrap plain torch modules in a cnnkit Layer subclass."
            )
        if layer.name in self._modules:
            raise ValueError(
                f"All layers in a Sequential model must have unique names. Received: a second layer named "
                f"{layer.name!r}. Give it another name (name='...')."
            )
        if not self._layer_list and self._input_tensor is None and layer._input_shape_arg is not None:
            self._start_graph(layer._input_shape_arg)
        self._layer_list.append(layer)
        self._modules[layer.name] = layer
        if self._output_tensor is not None:
            self._output_tensor = layer(self._output_tensor)
            self._graph_nodes.append(self._output_tensor.node)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layer_list:
            raise IndexError(f"Sequential {self.name!r} has no layers to pop.")
        layer = self._layer_list.pop()
        del self._modules[layer.name]
        if self._input_tensor is not None:
            self._start_graph(self._input_tensor.shape, rebuild=True)
        return layer

    def _start_graph(self, batch_shape: tuple, rebuild: bool = False) -> None:
        # A rebuild (pop) drops the layers' nodes of the old graph, so `layer.output` names the live graph, as Keras.
        stale = {id(n) for n in getattr(self, "_graph_nodes", [])}
        for layer in self._layer_list:
            layer._inbound_nodes = [n for n in layer._inbound_nodes if id(n) not in stale]
        self._graph_nodes = []
        self._input_tensor = InputLayer(batch_shape=batch_shape, name=f"{self.name}_input").output
        x = self._input_tensor
        for layer in self._layer_list:
            x = layer(x)
            self._graph_nodes.append(x.node)
        self._output_tensor = x
        self.built = True
        self._build_input_shape = tuple(batch_shape)

    def build(self, input_shape: Any = None) -> None:
        """Build every layer for inputs of ``input_shape``, e.g. ``(None, 64, 64, 3)``."""
        if input_shape is None:
            self._require_built("the input shape")
            return
        if self._output_tensor is None:
            self._start_graph(_with_batch_none(input_shape))

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self._check_first_input(input_shape)
            self.build(input_shape)

    def _check_first_input(self, input_shape: Any) -> None:
        if self._layer_list and not isinstance(input_shape, list):
            self._layer_list[0]._check_input_spec(tuple(input_shape))

    def call(self, inputs, training=False):
        x = inputs
        deferred = self._relu_after_pool() if training else ()
        for i, layer in enumerate(self._layer_list):
            if i in deferred:
                if isinstance(layer, Conv2D):
                    x = layer(x, _defer_activation=True)
                # else: a plain ReLU layer, applied after the pooling below
            else:
                x = layer(x, training=training)
                if i - 1 in deferred:
                    x = F.relu(x)
        return x

    def _relu_after_pool(self) -> set[int]:
        """Indices of ReLUs that run after the ``MaxPooling2D`` following them, in training.

        These are ``Conv2D(activation='relu')`` layers (their activation moves) and plain ``ReLU()`` or
        ``Activation('relu')`` layers (the whole layer moves), each directly followed by a max pooling.
        ``max(relu(z)) == relu(max(z))`` (ReLU is monotonic), and so are the gradients, so in training the ReLU runs
        on a quarter of the values, forward and backward: about 10% of a training step of the tutorial model; in
        tutorial_bn (Conv-BN-ReLU-MaxPool) ReLU's backward went from 73 to 10 ms per 10 steps, about 7% of their CPU.
        A layer with an activity regularizer keeps its place (its loss needs its own output). Forward hooks on a
        moved layer see its pre-activation input in training.
        """
        layers = self._layer_list

        def plain_relu(layer: Any) -> bool:
            if type(layer) is Conv2D:
                return layer.activation is activations.relu and layer.data_format == "channels_last"
            if type(layer) is ReLU:
                return layer.max_value is None and layer.negative_slope == 0 and layer.threshold == 0
            return type(layer) is Activation and layer.activation is activations.relu

        return {
            i
            for i, (relu, pool) in enumerate(zip(layers, layers[1:]))
            if plain_relu(relu)
            and getattr(relu, "activity_regularizer", None) is None
            and type(pool) is MaxPooling2D
            and pool.data_format == "channels_last"
        }

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._layer_list:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def inputs(self) -> list[KerasTensor]:
        self._require_built("its inputs")
        return [self._input_tensor]

    @property
    def outputs(self) -> list[KerasTensor]:
        self._require_built("its outputs")
        return [self._output_tensor]

    @property
    def input(self) -> KerasTensor:
        return self.inputs[0]

    @property
    def output(self) -> KerasTensor:
        return self.outputs[0]

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [serialize_layer(layer) for layer in self._layer_list],
            "build_input_shape": None if self._input_tensor is None else list(self._input_tensor.shape),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Sequential:
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize_layer(layer_config, custom_objects))
        if config.get("build_input_shape") is not None:
            model.build(tuple(config["build_input_shape"]))
        return model
