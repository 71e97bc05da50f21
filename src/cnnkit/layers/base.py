"""The Layer contract, as in Keras 3: ``__init__`` stores arguments, ``build`` creates weights once the input shape
is known, ``call`` does the math, ``get_config`` returns the constructor arguments.

Layers are ``torch.nn.Module`` objects, so everything PyTorch offers (devices, hooks, ``state_dict``, DDP) works.
Weights live in the layout the fast kernel wants (a convolution kernel is (out, in, kh, kw) in channels-last
memory); ``get_weights``/``set_weights`` speak Keras' layout (kh, kw, in, out) so Keras weights map one to one.
"""

from __future__ import annotations

import difflib
import inspect
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cnnkit import initializers
from cnnkit.common.naming import to_snake_case, unique_name
from cnnkit.layers.registry import register_layer
from cnnkit.layers.symbolic import KerasTensor, Node, flatten, is_symbolic, shape_of

_CONTEXT = threading.local()  # the `training` flag of the outermost call, inherited by nested calls (as Keras)


@dataclass
class WeightInfo:
    created_trainable: bool
    layout: tuple[int, ...] | None  # permutation from Keras' layout to ours; None when they are the same
    regularizer: Any = None


@dataclass
class InputSpec:
    """What a layer accepts: a number of axes, and fixed sizes for some axes once built."""

    ndim: int | None = None
    min_ndim: int | None = None
    axes: dict[int, int] | None = None
    description: str = ""


def _unexpected_arguments(cls: type, kwargs: dict[str, Any]) -> TypeError:
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "args")]
    accepted += [p for p in ("name", "trainable", "dtype", "input_shape", "input_dim") if p not in accepted]
    parts = []
    for key in kwargs:
        close = difflib.get_close_matches(key, accepted, n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return TypeError(
        f"{cls.__name__} got unexpected keyword argument(s) {', '.join(parts)}. "
        f"Accepted arguments: {', '.join(accepted)}."
    )


class Layer(torch.nn.Module):
    """Base class of every cnnkit layer and model.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.add_weight("scale", (input_shape[-1],), initializer="ones")
        ...     def call(self, inputs):
        ...         return inputs * self.scale
    """

    _call_accepts_training = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = inspect.signature(cls.call).parameters
        cls._call_accepts_training = "training" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )

    def __init__(
        self,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype: str | None = None,
        input_shape: tuple | None = None,
        input_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if input_dim is not None:  # Keras 2 spelling, still accepted by Keras 3: Dense(32, input_dim=784)
            input_shape = (input_dim,)
        if kwargs:
            raise _unexpected_arguments(type(self), kwargs)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        if dtype not in (None, "float32"):
            raise ValueError(
                f"Unsupported dtype for layer weights. Expected 'float32' (use cnnkit.mixed_precision for "
                f"bfloat16/float16 compute). Received: dtype={dtype!r}."
            )
        self.dtype = "float32"
        self.built = False
        self.input_spec: InputSpec | None = None
        self._build_input_shape: Any = None
        self._weight_info: dict[str, WeightInfo] = {}
        self._inbound_nodes: list[Node] = []
        self._own_losses: list[torch.Tensor] = []
        self._input_shape_arg = None if input_shape is None else (None, *tuple(input_shape))

    # ----------------------------------------------------------------------------------------------- identity
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value or "." in value:
            raise ValueError(
                f"Invalid layer name. Expected a non-empty string without '.' (it is used in weight keys). "
                f"Received: name={value!r}."
            )
        self._name = value

    # ----------------------------------------------------------------------------------------------- weights
    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any = "glorot_uniform",
        trainable: bool = True,
        regularizer: Any = None,
        layout: tuple[int, ...] | None = None,
    ) -> torch.Tensor:
        """Create a weight of Keras shape ``shape``; ``layout`` permutes it to the stored layout."""
        value = initializers.get(initializer)(tuple(int(d) for d in shape), torch.float32)
        if layout is not None:
            value = value.permute(layout)
        memory_format = torch.channels_last if value.ndim == 4 else torch.contiguous_format
        value = value.contiguous(memory_format=memory_format)
        if trainable:
            setattr(self, name, torch.nn.Parameter(value, requires_grad=self._trainable))
        else:
            self.register_buffer(name, value)
        self._weight_info[name] = WeightInfo(trainable, layout, regularizer)
        return getattr(self, name)

    def _sublayers(self) -> list[Layer]:
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def _weight_entries(self) -> list[tuple[Layer, str]]:
        """(layer, weight name) pairs in Keras' order: own trainable, own non-trainable, then sublayers."""
        own = list(self._weight_info.items())
        entries = [(self, n) for n, i in own if i.created_trainable] + [
            (self, n) for n, i in own if not i.created_trainable
        ]
        seen = {id(getattr(self, n)) for n, _ in own}
        for sub in self._sublayers():
            for layer, n in sub._weight_entries():
                if id(getattr(layer, n)) not in seen:
                    seen.add(id(getattr(layer, n)))
                    entries.append((layer, n))
        return entries

    def _foreign_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters of plain torch modules placed inside a layer (a user's ``torch.nn.Conv2d``)."""
        out = []
        for m in self._modules.values():
            if m is not None and not isinstance(m, Layer):
                out.extend(m.parameters())
        return out

    @property
    def weights(self) -> list[torch.Tensor]:
        return [getattr(layer, n) for layer, n in self._weight_entries()] + self._foreign_parameters()

    @property
    def trainable_weights(self) -> list[torch.Tensor]:
        if not self._trainable:
            return []
        own = [getattr(self, n) for n, i in self._weight_info.items() if i.created_trainable]
        subs = [w for sub in self._sublayers() for w in sub.trainable_weights]
        foreign = [p for p in self._foreign_parameters() if p.requires_grad]
        return _unique(own + subs + foreign)

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        if not self._trainable:
            return self.weights
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for n, info in self._weight_info.items():
            if info.created_trainable:
                getattr(self, n).requires_grad_(self._trainable)
        for m in self._modules.values():
            if isinstance(m, Layer):
                m.trainable = value
            elif m is not None:
                m.requires_grad_(self._trainable)

    def count_params(self) -> int:
        """The number of weights (trainable and not), as Keras counts them."""
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so its weights do not exist. Expected a built layer. "
                f"Call it on data, or give the input shape: build({'(None, 64, 64, 3)'}) or input_shape=(64, 64, 3)."
            )
        return int(sum(w.numel() for w in self.weights))

    def get_weights(self) -> list[np.ndarray]:
        """Weights as NumPy arrays in Keras' layout (a conv kernel is (kh, kw, in, out))."""
        out = []
        for layer, n in self._weight_entries():
            value = getattr(layer, n).detach()
            layout = layer._weight_info[n].layout
            if layout is not None:
                value = value.permute(tuple(int(i) for i in np.argsort(layout)))
            out.append(value.cpu().numpy().copy())
        return out + [p.detach().cpu().numpy().copy() for p in self._foreign_parameters()]

    def set_weights(self, weights: list[Any]) -> None:
        """Set weights from arrays in Keras' layout, checking count and shapes first."""
        entries = self._weight_entries()
        if len(weights) != len(entries):
            names = [f"{layer.name}/{n}" for layer, n in entries]
            raise ValueError(
                f"Layer {self.name!r} expects {len(entries)} weight arrays ({', '.join(names) or 'none'}). "
                f"Received: {len(weights)} arrays. Pass the arrays in the order of get_weights()."
            )
        converted = []
        for (layer, n), array in zip(entries, weights):
            target = getattr(layer, n)
            layout = layer._weight_info[n].layout
            keras_shape = (
                tuple(target.permute(tuple(int(i) for i in np.argsort(layout))).shape)
                if layout
                else tuple(target.shape)
            )
            array = np.asarray(array)
            if tuple(array.shape) != keras_shape:
                raise ValueError(
                    f"Weight {layer.name}/{n} expects shape {keras_shape}. Received: shape={tuple(array.shape)}. "
                    f"Check that the weights come from the same architecture."
                )
            value = torch.as_tensor(array, dtype=target.dtype)
            converted.append((target, value.permute(layout) if layout else value))
        with torch.no_grad():
            for target, value in converted:
                target.copy_(value)

    # ----------------------------------------------------------------------------------------------- losses
    def add_loss(self, loss: torch.Tensor) -> None:
        """Add a loss term computed in ``call`` (activity regularization); it is summed into the training loss."""
        self._own_losses.append(loss)

    @property
    def losses(self) -> list[torch.Tensor]:
        """Losses of the last call (``add_loss``) and the weight regularization penalties, of this layer and below."""
        out: list[torch.Tensor] = []
        for m in self.modules():
            if isinstance(m, Layer):
                out.extend(m._own_losses)
                for n, info in m._weight_info.items():
                    if info.regularizer is not None:
                        out.append(info.regularizer(getattr(m, n)))
        return out

    # ----------------------------------------------------------------------------------------------- building
    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis ``None``). Layers without weights skip it."""

    def _maybe_build(self, input_shape: Any) -> None:
        if self.built:
            return
        input_shape = _with_batch_none(input_shape)
        self._check_input_spec(input_shape)
        self.build(input_shape)
        self.built = True
        self._build_input_shape = input_shape

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for ``input_shape``; the default runs the layer once on zeros of that shape."""

        def zeros(shape):
            if any(d is None for d in shape[1:]):
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) cannot infer its output shape for input shape "
                    f"{shape} with unknown axes. Override compute_output_shape(), or give a fully defined shape."
                )
            return torch.zeros((1, *shape[1:]), device=_device_of(self))

        dummy = [zeros(s) for s in input_shape] if isinstance(input_shape, list) else zeros(input_shape)
        with torch.no_grad():
            out = self(dummy)
        return [(None, *o.shape[1:]) for o in out] if isinstance(out, (list, tuple)) else (None, *out.shape[1:])

    def _check_input_spec(self, input_shape: Any) -> None:
        spec = self.input_spec
        if spec is None or isinstance(input_shape, list):
            return
        shape = tuple(input_shape)
        what = f"Layer {self.name!r} ({type(self).__name__})"
        if spec.ndim is not None and len(shape) != spec.ndim:
            hint = " Add a batch axis: x[None]." if len(shape) == spec.ndim - 1 else " Reshape the input."
            raise ValueError(
                f"{what} expects a {spec.ndim}D input {spec.description}. Received: shape={_fmt(shape)}.{hint}".replace(
                    "  ", " "
                )
            )
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError(
                f"{what} expects an input with at least {spec.min_ndim} axes {spec.description}. "
                f"Received: shape={_fmt(shape)}. Reshape the input.".replace("  ", " ")
            )
        for axis, size in (spec.axes or {}).items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(
                    f"{what} was built for inputs whose axis {axis} has size {size}. Received: shape={_fmt(shape)}. "
                    f"Feed inputs of the size it was built for, or create a new layer."
                )

    # ----------------------------------------------------------------------------------------------- calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            inputs, args = args[0], args[1:]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
        else:
            raise TypeError(f"Layer {self.name!r} was called without inputs. Call it as layer(x).")
        if is_symbolic(inputs):
            return self._call_symbolic(inputs, *args, **kwargs)
        inputs = self._convert_inputs(inputs)
        if self.input_spec is not None and isinstance(inputs, torch.Tensor):
            self._check_input_spec(inputs.shape)
        if not self.built:
            self._maybe_build(shape_of(inputs))
            self._move_to(inputs)
        training = kwargs.pop("training", None)
        if training is None:
            training = getattr(_CONTEXT, "training", False)
        if self._call_accepts_training:
            kwargs["training"] = bool(training)
        if self._own_losses:
            self._own_losses = []
        previous = getattr(_CONTEXT, "training", False)
        _CONTEXT.training = bool(training)
        try:
            return super().__call__(inputs, *args, **kwargs)
        finally:
            _CONTEXT.training = previous

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs).")

    def _convert_inputs(self, inputs: Any) -> Any:
        if isinstance(inputs, torch.Tensor):
            return inputs.float() if inputs.dtype == torch.float64 else inputs
        if isinstance(inputs, (list, tuple)) and not _is_number_list(inputs):
            return [self._convert_inputs(x) for x in inputs]
        if isinstance(inputs, dict):
            return {k: self._convert_inputs(v) for k, v in inputs.items()}
        array = np.asarray(inputs)
        if array.dtype == object:
            raise TypeError(
                f"Layer {self.name!r} expects a tensor or an array of numbers. Received: an object array of shape "
                f"{array.shape}. Stack the items into one numeric array first."
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        device = _device_of(self)
        return tensor if device.type == "cpu" else tensor.to(device)

    def _move_to(self, inputs: Any) -> None:
        leaves = [x for x in flatten(inputs) if isinstance(x, torch.Tensor)]
        if leaves and leaves[0].device.type != "cpu":
            self.to(leaves[0].device)

    def _call_symbolic(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(
                f"Layer {self.name!r}: in the functional API pass extra call arguments by keyword "
                f"(e.g. training=False). Received {len(args)} extra positional argument(s)."
            )
        input_shape = shape_of(inputs)
        self._maybe_build(input_shape)
        self._check_input_spec(input_shape)
        output_shape = self.compute_output_shape(input_shape)
        multi = isinstance(output_shape, list)
        node = Node(
            layer=self,
            inputs=flatten(inputs),
            outputs=[],
            inputs_structure="list" if isinstance(inputs, (list, tuple)) else "single",
            outputs_structure="list" if multi else "single",
            kwargs=dict(kwargs),
        )
        shapes = output_shape if multi else [output_shape]
        node.outputs = [
            KerasTensor(s, name=f"{self.name}_output_{i}", node=node, index=i) for i, s in enumerate(shapes)
        ]
        self._inbound_nodes.append(node)
        return list(node.outputs) if multi else node.outputs[0]

    # ----------------------------------------------------------------------------------------------- graph access
    def _single_node(self, what: str) -> Node:
        if len(self._inbound_nodes) != 1:
            fix = "" if self._inbound_nodes else "Give the model an input shape or call the layer on an Input first."
            raise AttributeError(
                f"Layer {self.name!r} has {len(self._inbound_nodes)} call(s) in functional graphs, so its {what} is "
                f"{'undefined' if not self._inbound_nodes else 'ambiguous'}. Expected exactly one. {fix}".rstrip()
            )
        return self._inbound_nodes[0]

    @property
    def input(self) -> Any:
        node = self._single_node("input")
        return node.pack_inputs(node.inputs) if node.inputs else node.outputs[0]

    @property
    def output(self) -> Any:
        node = self._single_node("output")
        return node.outputs[0] if node.outputs_structure == "single" else list(node.outputs)

    # ----------------------------------------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serializable, such that ``from_config(get_config())`` rebuilds it."""
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _unique(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _with_batch_none(shape: Any) -> Any:
    if isinstance(shape, list):
        return [_with_batch_none(s) for s in shape]
    shape = tuple(shape)
    return (None, *shape[1:]) if shape else shape


def _device_of(layer: torch.nn.Module) -> torch.device:
    for t in layer.parameters():
        return t.device
    for t in layer.buffers():
        return t.device
    return torch.device("cpu")


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _is_number_list(x: Any) -> bool:
    while isinstance(x, (list, tuple)) and x:
        x = x[0]
    return isinstance(x, (int, float, np.number))


__all__ = ["Layer", "InputSpec", "register_layer", "KerasTensor"]
