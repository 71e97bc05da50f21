"""The Layer contract, as in Keras 3: ``__init__`` stores arguments, ``build`` creates weights once the input shape
is known, ``call`` does the math, ``get_config`` returns the constructor arguments.

Layers are ``torch.nn.Module`` objects, so everything PyTorch offers (devices, hooks, ``state_dict``, DDP) works.
Weights live in the layout the fast kernel wants (a convolution kernel is (out, in, kh, kw) in channels-last
memory); ``get_weights``/``set_weights`` speak Keras' layout (kh, kw, in, out) so Keras weights map one to one.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

import numpy as np
import torch

from cnnkit import constraints, initializers
from cnnkit.common.naming import to_snake_case, unique_name
from cnnkit.layers.args import (
    _KERAS_ORDER,
    _LEGACY_ORDER,
    InputSpec,
    WeightInfo,
    _device_of,
    _fmt,  # noqa: F401 -- re-exported: other rooms import it from here
    _is_number_list,
    _marking_built,
    _unexpected_arguments,
    _unique,
    _with_batch_none,
    check_input_spec,
)
from cnnkit.layers.registry import register_layer
from cnnkit.layers.symbolic import KerasTensor, Node, PositionalArgs, flatten, is_symbolic, shape_of
from cnnkit.layers.variable import NonTrainableVariable, Variable, make_variable

_CONTEXT = threading.local()  # the `training` flag of the outermost call, inherited by nested calls (as Keras)


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
        if "build" in cls.__dict__ and not getattr(cls.__dict__["build"], "_marks_built", False):
            cls.build = _marking_built(cls.__dict__["build"])

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
        if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":  # Keras 3's config form
            dtype = (dtype.get("config") or {}).get("name")
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
    def add_weight(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Create a weight, with Keras 3's arguments: ``add_weight(shape=None, initializer=None, dtype=None,
        trainable=True, autocast=True, regularizer=None, constraint=None, aggregation='none', name=None)``.

        ``name`` is optional (Keras' default names: ``variable``, ``variable_1``...). A leading string is read as the
        name, in the order ``(name, shape, initializer, trainable, regularizer)`` of Keras 2 and cnnkit 0.x.
        ``layout`` (cnnkit only, keyword) permutes the Keras shape to the stored layout. The weight is a
        :class:`~cnnkit.layers.variable.Variable`: ``w.name``, ``w.path``, ``w.numpy()``, ``w.value``, ``w.assign()``.
        """
        order = _LEGACY_ORDER if args and isinstance(args[0], str) else _KERAS_ORDER
        if len(args) > len(order):
            raise TypeError(f"add_weight() takes at most {len(order)} positional arguments. Received: {len(args)}.")
        for key, value in zip(order, args):
            if key in kwargs:
                raise TypeError(f"add_weight() got multiple values for argument {key!r}. Pass it once.")
            kwargs[key] = value
        return self._create_weight(**kwargs)

    def _create_weight(
        self,
        shape: tuple[int, ...] | None = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
        layout: tuple[int, ...] | None = None,
    ) -> torch.Tensor:
        shape = () if shape is None else tuple(int(d) for d in shape)
        if name is None:
            name = unique_name("variable")
        if not isinstance(name, str) or not name.isidentifier() or name in self._weight_info:
            raise ValueError(
                f"Invalid weight name for layer {self.name!r}. Expected a new Python identifier. Received: "
                f"name={name!r}. Choose another name (each weight of a layer needs its own)."
            )
        from_keras = initializers.get("glorot_uniform" if initializer is None else initializer)
        value = from_keras(shape, torch.float32)
        if layout is not None:
            value = value.permute(layout)
        memory_format = torch.channels_last if value.ndim == 4 else torch.contiguous_format
        value = value.contiguous(memory_format=memory_format)
        weight = make_variable(value, trainable, self._trainable, name, f"{self.name}/{name}", layout)
        weight.constraint = constraints.get(constraint)  # applied by the optimizer after each step, as in Keras
        weight.regularizer = regularizer
        if trainable:
            self.register_parameter(name, weight)
        else:
            self.register_buffer(name, weight)
        self._weight_info[name] = WeightInfo(trainable, layout, regularizer, weight.constraint)
        return weight

    def __setattr__(self, name: str, value: Any) -> None:
        # `self.w = self.add_weight(name="kernel", ...)` (the Keras idiom): keep one weight under its own name and
        # make `w` an alias, so state_dict, get_weights and saving see it once.
        if isinstance(value, (Variable, NonTrainableVariable)) and "_weight_info" in self.__dict__:
            own = value.name in self._weight_info and getattr(self, value.name) is value
            if own and name == value.name:
                return
            if own:
                self.__dict__.setdefault("_weight_aliases", {})[name] = value.name
                return
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        aliases = self.__dict__.get("_weight_aliases")
        if aliases and name in aliases:
            return getattr(self, aliases[name])
        return super().__getattr__(name)

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        # .to(device)/.half() may replace a weight with a plain tensor: wrap it again so it keeps its Keras face.
        result = super()._apply(fn, recurse)
        for n, info in self._weight_info.items():
            t = getattr(self, n)
            if isinstance(t, (Variable, NonTrainableVariable)):
                continue
            path = f"{self.name}/{n}"
            if info.created_trainable:
                self._parameters[n] = Variable(t.data, t.requires_grad, name=n, path=path, layout=info.layout)
            else:
                self._buffers[n] = NonTrainableVariable(t, name=n, path=path, layout=info.layout)
            getattr(self, n).constraint = info.constraint
        return result

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

    def compute_output_shape(self, input_shape: Any, *more_shapes: Any) -> Any:
        """The output shape for ``input_shape``; the default runs the layer once on zeros of that shape.

        A layer whose ``call`` takes several tensors (``layer(a, b)``) gets one shape per tensor.
        """
        if isinstance(input_shape, PositionalArgs):
            input_shape, more_shapes = input_shape[0], (*input_shape[1:], *more_shapes)

        def zeros(shape):
            if isinstance(shape, list):
                return [zeros(s) for s in shape]
            if any(d is None for d in shape[1:]):
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) cannot infer its output shape for input shape "
                    f"{shape} with unknown axes. Override compute_output_shape(), or give a fully defined shape."
                )
            return torch.zeros((1, *shape[1:]), device=_device_of(self))

        with torch.no_grad():
            out = self(zeros(input_shape), *(zeros(s) for s in more_shapes))
        return [(None, *o.shape[1:]) for o in out] if isinstance(out, (list, tuple)) else (None, *out.shape[1:])

    def _check_input_spec(self, input_shape: Any) -> None:
        check_input_spec(self, input_shape)

    # ----------------------------------------------------------------------------------------------- calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            inputs, args = args[0], args[1:]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
        else:
            raise TypeError(f"Layer {self.name!r} was called without inputs. Call it as layer(x).")
        if type(inputs) is PositionalArgs:  # a functional node of `layer(a, b)` replays its positional tensors
            inputs, args = inputs[0], (*inputs[1:], *args)
        if is_symbolic(inputs) or (args and is_symbolic(list(args))):
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
        positional = bool(args)
        if positional and not all(isinstance(a, KerasTensor) for a in (inputs, *args)):
            raise TypeError(
                f"Layer {self.name!r}: in the functional API the positional arguments of a call must all be symbolic "
                f"tensors (layer(a, b)). Received {len(args)} extra positional argument(s), not all symbolic. Pass "
                f"other call arguments by keyword (e.g. training=False)."
            )
        input_shape = shape_of(inputs)
        self._maybe_build(input_shape)
        self._check_input_spec(input_shape)
        if positional:
            output_shape = self.compute_output_shape(input_shape, *(shape_of(a) for a in args))
        else:
            output_shape = self.compute_output_shape(input_shape)
        multi = isinstance(output_shape, list)
        structure = "args" if positional else "list" if isinstance(inputs, (list, tuple)) else "single"
        node = Node(
            layer=self,
            inputs=flatten([inputs, *args]) if positional else flatten(inputs),
            outputs=[],
            inputs_structure=structure,
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


__all__ = ["Layer", "InputSpec", "register_layer", "KerasTensor"]
