"""``clone_model``: the same architecture with fresh weights, as Keras 3's ``keras.models.clone_model``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnkit.layers.base import Layer
from cnnkit.layers.core import InputLayer
from cnnkit.layers.symbolic import KerasTensor, flatten
from cnnkit.models.functional import Functional
from cnnkit.models.model import Model
from cnnkit.models.sequential import Sequential

__all__ = ["clone_model"]


def _clone_layer(layer: Layer) -> Layer:
    # Keras' default: a new layer from the old one's config, so the same name and arguments but new weights.
    return type(layer).from_config(layer.get_config())


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: Callable[[Layer], Layer] | None = None,
    call_function: Callable[..., Any] | None = None,
    recursive: bool = False,
    **kwargs: Any,
) -> Model:
    """A new model with the same architecture and config as ``model`` and freshly initialized weights.

    Args:
        model: A Sequential, functional or subclassed model (a subclass needs ``get_config``/``from_config``).
        input_tensors: Symbolic tensors (from ``Input``) to build the clone on, instead of new inputs.
        clone_function: ``layer -> new layer``, applied to every non-input layer (default: a fresh layer from its
            config). Return the layer itself to share it (and its weights) between the two models.
        call_function: ``(layer, *args, **kwargs) -> outputs``: how each cloned layer is called (functional
            models only), e.g. to insert layers.
        recursive: Clone nested models layer by layer with ``clone_function`` (by default a nested model is
            cloned as one layer, from its config).
        **kwargs: Nothing else is accepted (Keras raises on unknown arguments, so does cnnkit).

    Returns:
        The clone, of the same kind as ``model``; it is not compiled.

    Example:
        >>> import cnnkit
        >>> model = cnnkit.Sequential([cnnkit.layers.Input((4,)), cnnkit.layers.Dense(2, name="head")])
        >>> twin = clone_model(model)
        >>> [layer.name for layer in twin.layers], twin.layers[0] is model.layers[0]
        (['head'], False)
    """
    kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    user_fn = clone_function
    clone_function = _wrap(clone_function, call_function, recursive)
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "`call_function` argument is not supported with Sequential models.  In a Sequential model, layers "
                "aren't called at model-construction time (they're merely listed). Use `call_function` with "
                f"Functional models only. Received model of type '{type(model).__name__}', with "
                f"call_function={call_function}"
            )
        return _clone_sequential(model, clone_function, input_tensors)
    if isinstance(model, Functional) and (type(model).get_config is Functional.get_config or user_fn or input_tensors):
        return _clone_functional(model, clone_function, call_function, input_tensors)
    if user_fn or input_tensors is not None:
        raise ValueError(
            "Arguments `clone_function` and `input_tensors` are only supported for Sequential models or Functional "
            f"models. Received model of type '{type(model).__name__}', with clone_function={user_fn} and "
            f"input_tensors={input_tensors}"
        )
    if call_function is not None:
        raise ValueError(
            "Argument `call_function` is only supported for Functional models. Received model of type "
            f"'{type(model).__name__}', with call_function={call_function}"
        )
    return type(model).from_config(model.get_config())


def _wrap(clone_function: Any, call_function: Any, recursive: bool) -> Callable[[Layer], Layer]:
    base = clone_function or _clone_layer
    cache: dict[int, Layer] = {}  # a layer used twice (shared weights) is cloned once

    def wrapped(layer: Layer) -> Layer:
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(
                    layer, clone_function=clone_function, call_function=call_function, recursive=True
                )
            else:
                cache[id(layer)] = base(layer)
        return cache[id(layer)]

    return wrapped


def _check_inputs(input_tensors: Any, expected: int) -> list[KerasTensor]:
    tensors = flatten(input_tensors)
    if len(tensors) != expected or not all(isinstance(t, KerasTensor) for t in tensors):
        raise ValueError(
            f"input_tensors must be {expected} symbolic tensor(s) from cnnkit.layers.Input, one per model input. "
            f"Received: input_tensors={input_tensors!r}. Pass Input(shape=...) tensors."
        )
    return tensors


def _clone_sequential(model: Sequential, clone_function: Callable, input_tensors: Any) -> Sequential:
    layers: list[Any] = [clone_function(layer) for layer in model.layers]
    if input_tensors is not None:
        layers.insert(0, _check_inputs(input_tensors, 1)[0])
    elif model._input_tensor is not None:
        source = model._input_tensor.node.layer
        layers.insert(0, InputLayer(batch_shape=source.batch_shape, name=source.name))
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _clone_functional(model: Functional, clone_function: Callable, call_function: Any, input_tensors: Any) -> Model:
    if input_tensors is not None:
        new_inputs = _check_inputs(input_tensors, len(model.inputs))
    else:
        new_inputs = []
        for t in model.inputs:
            source = t.node.layer
            new_inputs.append(InputLayer(batch_shape=source.batch_shape, name=source.name).output)
    values = {id(old): new for old, new in zip(model.inputs, new_inputs)}
    for node in model._exec_nodes:
        layer = clone_function(node.layer)
        args = node.pack_inputs([values[id(t)] for t in node.inputs])
        out = call_function(layer, args, **node.kwargs) if call_function else layer(args, **node.kwargs)
        for t, v in zip(node.outputs, out if node.outputs_structure == "list" else [out]):
            values[id(t)] = v
    inputs = new_inputs if model._inputs_structure == "list" else new_inputs[0]
    outputs = [values[id(t)] for t in model.outputs]
    return Functional(
        inputs,
        outputs if model._outputs_structure == "list" else outputs[0],
        name=model.name,
        trainable=model.trainable,
    )
