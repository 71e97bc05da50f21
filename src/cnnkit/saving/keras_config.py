"""Models and layers to and from Keras 3's config form (the ``config.json`` of a ``.keras`` file).

Writing: a layer's cnnkit config is Keras' constructor arguments already (the layer contract); nested objects get
Keras' ``module``/``registered_name`` keys, and a Sequential or functional model gets Keras' model layout (an
``InputLayer`` entry, ``inbound_nodes`` of ``__keras_tensor__`` references, ``input_layers``/``output_layers``).

Reading: each layer is built from cnnkit's registry (or the custom objects) and the graph is replayed by calling the
layers on symbolic tensors, node by node, as Keras' ``functional_from_config`` does. The model classes come from the
layer registry by name (``saving/`` sits below ``models/``).
"""

from __future__ import annotations

from typing import Any

from cnnkit import initializers, regularizers
from cnnkit.layers.base import Layer
from cnnkit.layers.core import InputLayer
from cnnkit.layers.registry import get_layer_class
from cnnkit.layers.symbolic import KerasTensor
from cnnkit.saving import object_registration as reg
from cnnkit.saving.serialization import _from_config, deserialize_keras_object, keras_args

__all__ = ["compile_args_from_config", "compile_config_to_keras", "layer_from_keras", "layer_to_keras"]

_NESTED_KINDS = (("initializers", initializers._BY_CLASS), ("regularizers", regularizers._BY_NAME))


def _kerasify(value: Any, kind: str | None = None) -> Any:
    """A cnnkit config value in Keras' form: ``{"class_name", "config"}`` dicts get ``module`` and
    ``registered_name``; tuples become lists."""
    if isinstance(value, (list, tuple)):
        return [_kerasify(v, kind) for v in value]
    if not isinstance(value, dict):
        return value
    if "class_name" in value and "config" in value and "module" not in value:
        name = value["class_name"]
        custom = reg._GLOBAL_CUSTOM_OBJECTS.get(value.get("registered_name") or "")
        registered = value.get("registered_name") or next(
            (r for r, obj in reg._GLOBAL_CUSTOM_OBJECTS.items() if getattr(obj, "__name__", None) == name), None
        )
        if custom is None and registered is not None:
            custom = reg._GLOBAL_CUSTOM_OBJECTS[registered]
        found = kind or next((k for k, objects in _NESTED_KINDS if name in objects), None)
        return {
            "module": custom.__module__ if custom is not None else f"keras.{found or 'layers'}",
            "class_name": name,
            "config": _kerasify(value["config"]),
            "registered_name": registered if custom is not None else None,
        }
    return {k: _kerasify(v, kind) for k, v in value.items()}


def _entry(layer: Layer) -> dict[str, Any]:
    registered = reg._GLOBAL_CUSTOM_NAMES.get(type(layer))
    return {
        "module": type(layer).__module__ if registered else "keras.layers",
        "class_name": type(layer).__name__,
        "config": _kerasify(layer.get_config()),
        "registered_name": registered,
    }


def _shape(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_shape(s) for s in shape]
    return shape


def _input_entry(layer: InputLayer) -> dict[str, Any]:
    config = {"batch_shape": list(layer.batch_shape), "dtype": "float32", "sparse": False, "ragged": False}
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {**config, "name": layer.name},
        "registered_name": None,
    }


def layer_to_keras(layer: Layer) -> dict[str, Any]:
    """A layer or model as Keras 3 serializes it (``keras.saving.serialize_keras_object``)."""
    if isinstance(layer, InputLayer):
        return _input_entry(layer)
    if hasattr(layer, "_layer_list"):
        return _sequential_to_keras(layer)
    if hasattr(layer, "_exec_nodes"):
        return _functional_to_keras(layer)
    entry = _entry(layer)
    if layer.built and layer._build_input_shape is not None:
        entry["build_config"] = {"input_shape": _shape(layer._build_input_shape)}
    return entry


def _sequential_to_keras(model: Any) -> dict[str, Any]:
    layers = [layer_to_keras(layer) for layer in model.layers]
    shape = None
    if model._input_tensor is not None:
        shape = list(model._input_tensor.shape)
        layers.insert(0, _input_entry(model._input_tensor.node.layer))
    config = {"name": model.name, "trainable": model.trainable, "dtype": "float32", "layers": layers}
    config["build_input_shape"] = shape
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": config,
        "registered_name": None,
        "build_config": {"input_shape": shape},
    }


def _functional_to_keras(model: Any) -> dict[str, Any]:
    refs = model._node_refs()

    def tensor(t: KerasTensor) -> dict[str, Any]:
        history = [*refs[id(t.node)], t.index]
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": "float32", "keras_history": history},
        }

    mine = {id(n) for n in model._nodes}
    layers = []
    for layer in model.layers:
        entry = layer_to_keras(layer)
        nodes = []
        for node in layer._inbound_nodes:
            if id(node) not in mine or not node.inputs:
                continue
            args = tensor(node.inputs[0]) if node.inputs_structure == "single" else [tensor(t) for t in node.inputs]
            nodes.append({"args": [args], "kwargs": dict(node.kwargs)})
        layers.append({**entry, "name": layer.name, "inbound_nodes": nodes})

    def endpoints(tensors: list[KerasTensor], structure: str) -> list:
        out = [[*refs[id(t.node)], t.index] for t in tensors]
        return out[0] if structure == "single" else out

    config = {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": endpoints(model._input_tensors, model._inputs_structure),
        "output_layers": endpoints(model._output_tensors, model._outputs_structure),
    }
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": config,
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
    }


# ------------------------------------------------------------------------------------------------------ reading
def layer_from_keras(cls: type, config: dict[str, Any], custom_objects: dict | None, safe_mode: bool) -> Layer:
    """A cnnkit layer or model from its Keras 3 config (``cls`` already looked up from cnnkit's registries)."""
    inner = config["config"]
    if config["class_name"] == "Sequential" and cls is get_layer_class("Sequential"):
        return _sequential_from_keras(inner, custom_objects, safe_mode)
    if "input_layers" in inner and "layers" in inner:
        return _functional_from_keras(inner, custom_objects, safe_mode)
    return _from_config(cls, keras_args(cls, inner, custom_objects, safe_mode), custom_objects)


def _sequential_from_keras(config: dict[str, Any], custom_objects: dict | None, safe_mode: bool) -> Layer:
    model = get_layer_class("Sequential")(name=config.get("name"), trainable=config.get("trainable", True))
    for entry in config.get("layers", []):
        model.add(deserialize_keras_object(entry, custom_objects, safe_mode=safe_mode, _where="a layer"))
    shape = config.get("build_input_shape")
    if not model.built and shape is not None:
        model.build(tuple(shape))
    return model


def _functional_from_keras(config: dict[str, Any], custom_objects: dict | None, safe_mode: bool) -> Layer:
    layers: dict[str, Layer] = {}
    produced: dict[str, list[list[KerasTensor]]] = {}
    pending: dict[str, list[dict]] = {}
    for entry in config["layers"]:
        name = entry.get("name") or entry["config"].get("name")
        spec = {k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")}
        layer = deserialize_keras_object(spec, custom_objects, safe_mode=safe_mode, _where=f"layer {name!r}")
        layers[name] = layer
        produced[name] = [list(layer._inbound_nodes[0].outputs)] if isinstance(layer, InputLayer) else []
        pending[name] = list(entry.get("inbound_nodes") or [])

    def ready(value: Any) -> bool:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node, index = value["config"]["keras_history"]
            return name in produced and node < len(produced[name]) and index < len(produced[name][node])
        if isinstance(value, (list, tuple)):
            return all(ready(v) for v in value)
        if isinstance(value, dict):
            return all(ready(v) for v in value.values())
        return True

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node, index = value["config"]["keras_history"]
            return produced[name][node][index]
        if isinstance(value, (list, tuple)):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    # Layers may come in any order and be shared: call each node once its inputs exist, until none is left.
    progress = True
    while progress and any(pending.values()):
        progress = False
        for name, nodes in pending.items():
            while nodes and ready(nodes[0]):
                node = nodes.pop(0)
                kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if not (k == "mask" and v is None)}
                out = layers[name](*resolve(node.get("args") or []), **resolve(kwargs))
                produced[name].append(out if isinstance(out, list) else [out])
                progress = True
    stuck = [name for name, nodes in pending.items() if nodes]
    if stuck:
        raise ValueError(
            f"The model config is not a connected graph: the inputs of layer(s) {', '.join(map(repr, stuck))} are "
            f"never produced. Expected every keras_history to name an earlier layer call. Save the model again."
        )

    def endpoints(refs: list) -> Any:
        if refs and isinstance(refs[0], str):
            return produced[refs[0]][refs[1]][refs[2]]
        return [endpoints(r) for r in refs]

    functional = get_layer_class("Functional")
    return functional(
        endpoints(config["input_layers"]),
        endpoints(config["output_layers"]),
        name=config.get("name"),
        trainable=config.get("trainable", True),
    )


# ---------------------------------------------------------------------------------------------------- compiling
_COMPILE_KINDS = {"optimizer": "optimizers", "loss": "losses", "metrics": "metrics", "weighted_metrics": "metrics"}


def compile_config_to_keras(config: dict[str, Any]) -> dict[str, Any]:
    """cnnkit's ``get_compile_config()`` in Keras' form (Keras' ``compile`` has no ``dtype_policy``)."""
    out = {k: _kerasify(v, _COMPILE_KINDS.get(k)) for k, v in config.items() if k != "dtype_policy"}
    out.setdefault("run_eagerly", False)
    out.setdefault("steps_per_execution", 1)
    return out


_COMPILE_ARGS = (*_COMPILE_KINDS, "loss_weights", "run_eagerly", "steps_per_execution", "jit_compile", "dtype_policy")


def _resolve(value: Any, kind: str, custom_objects: dict | None, safe_mode: bool) -> Any:
    if isinstance(value, list):
        return [_resolve(v, kind, custom_objects, safe_mode) for v in value]
    if not isinstance(value, dict):
        return value
    if "class_name" not in value or "config" not in value:  # one entry per output of a multi-output model
        return {k: _resolve(v, kind, custom_objects, safe_mode) for k, v in value.items()}
    if "module" in value:  # Keras' form: the module names the room
        return deserialize_keras_object(value, custom_objects, safe_mode=safe_mode, _where=f"compile {kind}")
    custom = reg.all_custom_objects(custom_objects)
    cls = custom.get(value.get("registered_name") or "") or custom.get(value["class_name"])
    if isinstance(cls, type):
        return _from_config(cls, value["config"], custom_objects)
    pkg = reg.package(kind)
    if pkg is None or pkg.get is None:
        raise ValueError(
            f"Cannot read the compile {kind} {value['class_name']!r}: cnnkit.{kind} is not imported. Expected "
            f"'import cnnkit' before loading. Received: {value!r:.200}. Import cnnkit first."
        )
    return pkg.get(value)


def compile_args_from_config(
    config: dict[str, Any], custom_objects: dict | None = None, safe_mode: bool = True
) -> dict[str, Any]:
    """``compile()`` keyword arguments from a saved compile config (cnnkit's or Keras' form): loss, metric and
    optimizer configs become objects of their room, so a loss saved as an object comes back as one.

    Example:
        >>> import cnnkit
        >>> args = compile_args_from_config({"loss": {"class_name": "Huber", "config": {"delta": 2.0}}})
        >>> args["loss"].get_config()["delta"]
        2.0
    """
    return {
        key: _resolve(value, _COMPILE_KINDS[key], custom_objects, safe_mode) if key in _COMPILE_KINDS else value
        for key, value in config.items()
        if key in _COMPILE_ARGS
    }
