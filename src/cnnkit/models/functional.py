"""The functional API: a model defined by a graph of layer calls from ``Input`` tensors to outputs.

Layers are ordered and executed as Keras orders them: by decreasing depth in the graph, ties broken by the order
of a depth-first walk from the outputs. That order is what ``model.layers`` and ``get_weights()`` follow, so
weights match Keras' order one to one.
"""

from __future__ import annotations

from typing import Any

from cnnkit.common.naming import unique_name
from cnnkit.layers.base import Layer, _fmt
from cnnkit.layers.core import InputLayer
from cnnkit.layers.registry import register_layer
from cnnkit.layers.symbolic import KerasTensor, Node, flatten
from cnnkit.models import fusion
from cnnkit.models.model import Model
from cnnkit.saving.serialization import deserialize_layer, serialize_layer


def _walk(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> tuple[list[Node], dict[Layer, int]]:
    """Depth-first walk from the outputs: nodes in finishing order, and each layer's discovery index."""
    input_ids = {id(t) for t in inputs}
    finished: list[Node] = []
    done, in_progress, discovered = set(), set(), {}

    def visit(tensor: KerasTensor, consumer: str) -> None:
        node = tensor.node
        if node is None:
            raise ValueError(
                f"Tensor {tensor!r} was not produced by a cnnkit layer. Received it as input of {consumer}."
            )
        if id(node) in done:
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor!r} from layer {node.layer.name!r} is part of a cycle.")
        discovered.setdefault(node.layer, len(discovered))
        in_progress.add(id(node))
        if id(tensor) not in input_ids:
            if isinstance(node.layer, InputLayer):
                raise ValueError(
                    f"Graph disconnected: the model's outputs depend on input {node.layer.name!r}, which is not among "
                    f"the model's inputs. Received inputs: {', '.join(t.name or '?' for t in inputs)}. "
                    f"Pass every Input the outputs depend on."
                )
            for t in node.inputs:
                visit(t, f"layer {node.layer.name!r}")
        in_progress.discard(id(node))
        done.add(id(node))
        finished.append(node)

    for t in outputs:
        visit(t, "the model's outputs")
    return finished, discovered


def _order(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> tuple[list[Node], list[Layer]]:
    finished, discovered = _walk(inputs, outputs)
    node_depth: dict[int, int] = {}
    layer_depth: dict[Layer, int] = {}
    input_ids = {id(t) for t in inputs}
    for node in reversed(finished):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = depth
        node_depth[id(node)] = depth
        if any(id(t) in input_ids for t in node.outputs):
            continue
        for t in node.inputs:
            node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    nodes = sorted(finished, key=lambda n: -node_depth[id(n)])  # stable: keeps walk order within a depth
    layers = sorted(discovered, key=lambda layer: (-layer_depth[layer], discovered[layer]))
    return nodes, layers


@register_layer
class Functional(Model):
    """A model built with ``Model(inputs, outputs)``."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True):
        super().__init__(name=name or unique_name("functional"), trainable=trainable)
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            bad = [t for t in flatten(value) if not isinstance(t, KerasTensor)]
            if bad:
                raise TypeError(
                    f"Model {what} must be symbolic tensors from cnnkit.layers.Input and layer calls. "
                    f"Received: {bad[0]!r} of type {type(bad[0]).__name__}. Build the graph with Input(shape) first."
                )
        self._inputs_structure = "list" if isinstance(inputs, (list, tuple)) else "single"
        self._outputs_structure = "list" if isinstance(outputs, (list, tuple)) else "single"
        self._input_tensors = flatten(inputs)
        self._output_tensors = flatten(outputs)
        self._nodes, self._layer_order = _order(self._input_tensors, self._output_tensors)
        input_ids = {id(t) for t in self._input_tensors}
        self._exec_nodes = [n for n in self._nodes if not all(id(t) in input_ids for t in n.outputs)]
        for layer in self._layer_order:
            existing = self._modules.get(layer.name)
            if existing is not None and existing is not layer:
                raise ValueError(
                    f"The name {layer.name!r} is used by two different layers in model {self.name!r}. All layer names "
                    f"should be unique. Give one of them another name (name='...')."
                )
            self._modules[layer.name] = layer
        self.built = True
        shapes = [t.shape for t in self._input_tensors]
        self._build_input_shape = shapes if self._inputs_structure == "list" else shapes[0]

    @property
    def layers(self) -> list[Layer]:
        return list(self._layer_order)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._output_tensors)

    @property
    def input(self) -> Any:
        return self._input_tensors[0] if self._inputs_structure == "single" else self.inputs

    @property
    def output(self) -> Any:
        return self._output_tensors[0] if self._outputs_structure == "single" else self.outputs

    def _check_inputs(self, values: list) -> None:
        if len(values) != len(self._input_tensors):
            raise ValueError(
                f"Model {self.name!r} expects {len(self._input_tensors)} input(s). Received: {len(values)}. "
                f"Pass a list of arrays in the order of model.inputs."
            )
        for i, (value, spec) in enumerate(zip(values, self._input_tensors)):
            shape = tuple(value.shape)
            if len(shape) != len(spec.shape) or any(
                s is not None and s != d for s, d in zip(spec.shape[1:], shape[1:])
            ):
                hint = " Add a batch axis: x[None]." if len(shape) == len(spec.shape) - 1 else ""
                raise ValueError(
                    f"Input {i} of model {self.name!r} expects shape {_fmt(spec.shape)}. Received: "
                    f"shape={_fmt(shape)}.{hint}"
                )

    def call(self, inputs, training=False):
        flat = flatten(inputs)
        self._check_inputs(flat)
        values = {id(t): v for t, v in zip(self._input_tensors, flat)}
        for step in self._inference_steps() if fusion.enabled(training) else self._exec_nodes:
            if type(step) is fusion.FoldedConv:
                out = step(values) if step.usable() else None
                if out is not None:
                    values[step.output_id] = out
                    continue
                for node in step.nodes:  # the layers one by one (see fusion.FoldedConv)
                    self._run_node(node, values, training)
            else:
                self._run_node(step, values, training)
        outs = [values[id(t)] for t in self._output_tensors]
        # Keras unpacks a one-element output list (its `unpack_singleton`): Model(x, [y]) predicts an array.
        return outs[0] if self._outputs_structure == "single" or len(outs) == 1 else outs

    @staticmethod
    def _run_node(node: Node, values: dict[int, Any], training: bool) -> None:
        args = node.pack_inputs([values[id(t)] for t in node.inputs])
        kwargs = node.kwargs if "training" in node.kwargs else {**node.kwargs, "training": training}
        out = node.layer(args, **kwargs)
        if node.outputs_structure == "single":
            values[id(node.outputs[0])] = out
        else:
            for t, v in zip(node.outputs, out):
                values[id(t)] = v

    def _inference_steps(self) -> list:
        """The nodes with each Conv + BatchNormalization (+ activation / residual Add) as one folded step, made once
        (the graph never changes); the folded weights inside are cached until a weight changes (fusion.py)."""
        steps = self.__dict__.get("_fusion_steps")
        if steps is None:
            steps = fusion.plan(self._exec_nodes, self._output_tensors)
            self.__dict__["_fusion_steps"] = steps
        return steps

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        values = {id(t): tuple(s) for t, s in zip(self._input_tensors, shapes)}
        for node in self._exec_nodes:
            out = node.layer.compute_output_shape(node.pack_inputs([values[id(t)] for t in node.inputs]))
            for t, s in zip(node.outputs, out if node.outputs_structure == "list" else [out]):
                values[id(t)] = s
        outs = [values[id(t)] for t in self._output_tensors]
        return outs[0] if self._outputs_structure == "single" else outs

    # ---------------------------------------------------------------------------------------------- config
    def _node_refs(self) -> dict[int, tuple[str, int]]:
        """Each node of this model -> (layer name, index among that layer's nodes in this model)."""
        mine = {id(n) for n in self._nodes}
        refs = {}
        for layer in self._layer_order:
            own = [n for n in layer._inbound_nodes if id(n) in mine]
            for i, n in enumerate(own):
                refs[id(n)] = (layer.name, i)
        return refs

    def get_config(self) -> dict[str, Any]:
        refs = self._node_refs()

        def ref(t: KerasTensor) -> list:
            return [*refs[id(t.node)], t.index]

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [serialize_layer(layer) for layer in self._layer_order],
            "nodes": [
                {
                    "layer": n.layer.name,
                    "args": [ref(t) for t in n.inputs],
                    "structure": n.inputs_structure,
                    "kwargs": n.kwargs,
                }
                for n in self._nodes
                if n.inputs
            ],
            "inputs": [ref(t) for t in self._input_tensors],
            "outputs": [ref(t) for t in self._output_tensors],
            "inputs_structure": self._inputs_structure,
            "outputs_structure": self._outputs_structure,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Functional:
        layers = {}
        produced: dict[str, list[list[KerasTensor]]] = {}
        for layer_config in config["layers"]:
            layer = deserialize_layer(layer_config, custom_objects)
            layers[layer.name] = layer
            produced[layer.name] = [list(layer._inbound_nodes[0].outputs)] if isinstance(layer, InputLayer) else []

        def tensor(r: list) -> KerasTensor:
            return produced[r[0]][r[1]][r[2]]

        for node in config["nodes"]:
            args = [tensor(r) for r in node["args"]]
            packed = args if node["structure"] == "args" else [args[0] if node["structure"] == "single" else args]
            out = layers[node["layer"]](*packed, **node["kwargs"])  # 'args': the node was layer(a, b)
            produced[node["layer"]].append(out if isinstance(out, list) else [out])
        inputs = [tensor(r) for r in config["inputs"]]
        outputs = [tensor(r) for r in config["outputs"]]
        return cls(
            inputs[0] if config.get("inputs_structure") == "single" else inputs,
            outputs[0] if config.get("outputs_structure") == "single" else outputs,
            name=config["name"],
            trainable=config.get("trainable", True),
        )
