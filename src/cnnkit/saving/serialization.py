"""Objects to and from JSON-able configs, in cnnkit's native form and in Keras 3's form.

* Native (``.cnnkit`` files, ``model.to_json()``): ``{"class_name": ..., "config": layer.get_config()}``.
* Keras 3 (``.keras`` files, :func:`serialize_keras_object`): ``{"module", "class_name", "config",
  "registered_name", "build_config"}``, nested objects serialized the same way.

:func:`deserialize_keras_object` reads both. Classes and functions come from cnnkit's registries and the registered,
scoped or passed custom objects only (:mod:`cnnkit.saving.object_registration`): a ``module`` a file names is read as
a hint to which room to look in, never imported. Python bytecode (a ``Lambda``'s ``__lambda__`` config) is refused
unless ``safe_mode=False``, as in Keras.
"""

from __future__ import annotations

import inspect
import json
import types
from typing import Any

import numpy as np
import torch

from cnnkit import activations, constraints, initializers, regularizers
from cnnkit.layers.base import Layer
from cnnkit.layers.lambda_layer import deserialize_function
from cnnkit.layers.registry import _LAYER_CLASSES, get_layer_class
from cnnkit.saving import object_registration as reg

__all__ = [
    "deserialize_keras_object",
    "deserialize_layer",
    "model_from_json",
    "serialize_keras_object",
    "serialize_layer",
]

reg.register_package("activations", dict(activations._ACTIVATIONS), None, activations.get)
reg.register_package("initializers", dict(initializers._BY_CLASS), initializers.Initializer, initializers.get)
reg.register_package("regularizers", dict(regularizers._BY_NAME), regularizers.Regularizer, regularizers.get)
reg.register_package("constraints", dict(constraints._BY_NAME), constraints.Constraint, constraints.get)

# Arguments Keras 3 writes that cnnkit's classes do not take, with the value that means "not used": a file that
# gives them this value loads; any other value is refused by name (rather than silently ignored).
_KERAS_ONLY_DEFAULTS = {
    "kernel_constraint": None, "bias_constraint": None, "beta_constraint": None, "gamma_constraint": None,
    "depthwise_constraint": None, "pointwise_constraint": None, "quantization_config": None, "lora_rank": None,
    "lora_alpha": None, "synchronized": False, "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,
    "data_format": "channels_last", "sparse": False, "ragged": False, "optional": False, "input_axes": None,
    "output_axes": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None, "autocast": True,
}  # fmt: skip

_LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda (Python bytecode in the model file). Loading it would run code "
    "from the file, so cnnkit refuses it by default. Expected a config without '__lambda__' objects. Received: a "
    "{where} holding bytecode. If you trust the source of the file, pass safe_mode=False to the loading function."
)


# ------------------------------------------------------------------------------------------------ native form
def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}`` (cnnkit's native form), read by :func:`deserialize_layer`.

    Example:
        >>> import cnnkit
        >>> serialize_layer(cnnkit.layers.Dense(2))["class_name"]
        'Dense'
    """
    out = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = reg._GLOBAL_CUSTOM_NAMES.get(type(layer))
    if registered is not None:
        out["registered_name"] = registered
    return out


def deserialize_layer(data: dict[str, Any], custom_objects: dict | None = None, safe_mode: bool = True) -> Layer:
    """A new layer (or model) from a native or a Keras config; classes come from cnnkit's registry or registered and
    passed custom objects only, so a config cannot name arbitrary code.

    Example:
        >>> import cnnkit
        >>> deserialize_layer({"class_name": "Dense", "config": {"units": 3}}).units
        3
    """
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(
            f"Invalid layer config. Expected {{'class_name': ..., 'config': ...}}. Received: {data!r:.200}."
        )
    if "module" in data:  # Keras 3's form
        return deserialize_keras_object(data, custom_objects, safe_mode=safe_mode)
    cls = layer_class(data, custom_objects)
    return _from_config(cls, data["config"], custom_objects)


def layer_class(data: dict[str, Any], custom_objects: dict | None = None) -> type:
    """The class a layer config names: a registered or custom object first (by registered name, then class name),
    then cnnkit's layer registry."""
    merged = reg.all_custom_objects(custom_objects)
    for key in (data.get("registered_name"), data["class_name"]):
        if isinstance(key, str) and isinstance(merged.get(key), type):
            return merged[key]
    return get_layer_class(data["class_name"], custom_objects)


def _from_config(cls: type, config: dict[str, Any], custom_objects: dict | None) -> Any:
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)


def model_from_json(json_string: str, custom_objects: dict[str, type] | None = None) -> Layer:
    """Rebuild an architecture (no weights) from ``model.to_json()``."""
    return deserialize_layer(json.loads(json_string), custom_objects)


# ------------------------------------------------------------------------------------------------ Keras' form
def _package_of(obj: Any) -> str | None:
    for kind, pkg in reg.packages().items():
        if pkg.base is not None and isinstance(obj, pkg.base):
            return kind
    return None


def _entry(obj: Any, kind: str, config: Any) -> dict[str, Any]:
    registered = reg._GLOBAL_CUSTOM_NAMES.get(type(obj))
    return {
        "module": type(obj).__module__ if registered else f"keras.{kind}",
        "class_name": type(obj).__name__,
        "config": config,
        "registered_name": registered,
    }


def serialize_keras_object(obj: Any) -> Any:
    """``obj`` in Keras 3's config form, which ``keras.saving.deserialize_keras_object`` reads.

    Layers, models, losses, metrics, optimizers, initializers, regularizers and activations; registered custom
    objects keep their registered name; lists, dicts and plain values pass through.

    Example:
        >>> import cnnkit
        >>> serialize_keras_object(cnnkit.initializers.Zeros())["module"]
        'keras.initializers'
    """
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(o) for o in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, (np.ndarray, np.generic, torch.Tensor)):
        array = obj.detach().cpu().numpy() if isinstance(obj, torch.Tensor) else np.asarray(obj)
        return {"class_name": "__numpy__", "config": {"value": array.tolist(), "dtype": str(array.dtype)}}
    if isinstance(obj, Layer):
        from cnnkit.saving.keras_config import layer_to_keras  # inside: keras_config builds on this module

        return layer_to_keras(obj)
    if isinstance(obj, types.FunctionType) or callable(obj) and not hasattr(obj, "get_config"):
        registered = reg._GLOBAL_CUSTOM_NAMES.get(obj)
        name = activations.serialize(obj) if registered is None else registered.split(">", 1)[1]
        builtin = registered is None and name in activations._ACTIVATIONS
        return {
            "module": "keras.activations" if builtin else getattr(obj, "__module__", None),
            "class_name": "function",
            "config": name,
            "registered_name": registered or name,
        }
    kind = _package_of(obj)
    if kind is None and type(obj) not in reg._GLOBAL_CUSTOM_NAMES:
        raise TypeError(
            f"Cannot serialize {obj!r}: it is not a cnnkit layer, loss, metric, optimizer, initializer, regularizer "
            f"or activation, nor a registered custom object. Expected one of these. Received: object of type "
            f"{type(obj).__name__}. Register its class with @cnnkit.saving.register_keras_serializable()."
        )
    return _entry(obj, kind or "custom", serialize_keras_object(obj.get_config()))


def _kind_of(module: Any) -> str | None:
    """The room a Keras module path points to (``keras.src.losses.losses`` -> ``losses``); never imported."""
    if not isinstance(module, str) or not module.startswith("keras"):
        return None
    parts = module.split(".")
    kinds = (
        "layers",
        "models",
        "schedules",
        "losses",
        "metrics",
        "optimizers",
        "initializers",
        "regularizers",
        "constraints",
    )
    for kind in kinds:
        if kind in parts:
            return "optimizers" if kind == "schedules" else kind
    return "activations" if "activations" in parts else "layers"


def _keras_only(cls: type) -> set[str] | None:
    """The argument names ``cls`` accepts (following ``**kwargs`` up the class chain); None when any is accepted."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass in (object, torch.nn.Module):
            return None
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if klass is Layer or not any(p.kind is p.VAR_KEYWORD for p in params):
            return names  # Layer's own **kwargs are refused there, so its named arguments are all it takes
    return names


def keras_args(cls: type, config: dict[str, Any], custom_objects: dict | None, safe_mode: bool) -> dict[str, Any]:
    """A Keras config made fit for ``cls``: nested Keras objects made cnnkit objects, Keras-only arguments at their
    "unused" value dropped, any other argument ``cls`` does not take refused by name."""
    out = dict(config)
    accepted = _keras_only(cls)
    for key in [k for k in out if accepted is not None and k not in accepted]:
        value = out.pop(key)
        if value is None or value == _KERAS_ONLY_DEFAULTS.get(key, None):
            continue
        raise ValueError(
            f"The file sets {key}={value!r} for a {cls.__name__}, which cnnkit's {cls.__name__} does not support. "
            f"Expected {key}={_KERAS_ONLY_DEFAULTS.get(key)!r} (Keras' default) or no {key}. Received: "
            f"{key}={value!r}. Save the model in Keras without {key}, or rebuild that layer in cnnkit."
        )
    return {k: _value(v, custom_objects, safe_mode, f"argument {k!r} of {cls.__name__}") for k, v in out.items()}


def check_safe_mode(config: Any, safe_mode: bool) -> None:
    """Refuse a config holding Python bytecode (a ``__lambda__`` object) when ``safe_mode`` is on, before anything in
    it is built: the refusal must not depend on which classes the config names."""
    if not safe_mode:
        return
    stack = [(config, "the config")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            if value.get("class_name") == "__lambda__":
                raise ValueError(_LAMBDA_REFUSED.format(where=where))
            if isinstance(value.get("config"), dict) and isinstance(value["config"].get("name"), str):
                where = f"layer {value['config']['name']!r}"
            stack.extend((v, where) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, where) for v in value)


def _value(value: Any, custom_objects: dict | None, safe_mode: bool, where: str) -> Any:
    """A config value read from Keras' form: nested objects rebuilt; plain values (and shapes) kept."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if value["class_name"] == "DTypePolicy" or value["class_name"] == "DTypePolicyMap":
            return (value.get("config") or {}).get("name", "float32")
        return deserialize_keras_object(value, custom_objects, safe_mode=safe_mode, _where=where)
    if isinstance(value, dict):
        return {k: _value(v, custom_objects, safe_mode, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v, custom_objects, safe_mode, where) for v in value]
    return value


def _special(class_name: str, inner: Any, safe_mode: bool, where: str) -> Any:
    """Keras' ``__tuple__``/``__numpy__``/``__bytes__``/``__lambda__`` values."""
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError(_LAMBDA_REFUSED.format(where=where))
        return deserialize_function({"class_name": "__lambda__", "config": inner}, None, safe_mode=False)
    if class_name == "__tuple__":
        return tuple(inner["value"])
    if class_name in ("__numpy__", "__tensor__"):
        dtype = np.dtype(inner["dtype"])
        if dtype.hasobject:  # an object array would hold Python objects, not numbers
            raise ValueError(f"Refused an array of dtype {dtype} in the file ({where}). Expected a numeric dtype.")
        array = np.array(inner["value"], dtype=dtype)
        return torch.as_tensor(array) if class_name == "__tensor__" else array
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    raise ValueError(
        f"Unsupported object {class_name!r} in the file ({where}). Expected layers, losses, metrics, optimizers, "
        f"initializers, regularizers or activations. Received: class_name={class_name!r}."
    )


def _unknown(class_name: str, registered: Any, where: str) -> ValueError:
    name = registered if isinstance(registered, str) and ">" in registered else class_name
    return ValueError(
        f"Unknown object {name!r} in the file ({where}). Expected one of cnnkit's layers, losses, metrics, "
        f"optimizers, initializers, regularizers or activations, or a registered custom object. Received: "
        f"class_name={class_name!r}. Decorate the class with @cnnkit.saving.register_keras_serializable(), or pass "
        f"custom_objects={{{class_name!r}: {class_name}}}."
    )


def deserialize_keras_object(
    config: Any, custom_objects: dict[str, Any] | None = None, safe_mode: bool = True, **kwargs: Any
) -> Any:
    """The object a config describes (Keras 3's or cnnkit's form), from cnnkit's registries and custom objects only.

    Args:
        config: a config dict, a name, a list of them, or None.
        custom_objects: extra classes and functions by name.
        safe_mode: when True (the default), a config holding Python bytecode (a ``Lambda``) is refused.
        **kwargs: ``module_objects``, a dict of the objects a bare name may resolve to (Keras' argument).

    Example:
        >>> import cnnkit
        >>> type(deserialize_keras_object({"module": "keras.losses", "class_name": "Huber", "config": {}})).__name__
        'Huber'
    """
    module_objects = kwargs.get("module_objects")
    where = kwargs.get("_where", "the config")
    if "_where" not in kwargs:  # a call from outside: look for bytecode once, before building anything
        check_safe_mode(config, safe_mode)
    if config is None:
        return None
    merged = reg.all_custom_objects(custom_objects)
    if isinstance(config, str):
        found = merged.get(config)
        if found is None and module_objects is not None:
            found = module_objects.get(config)
        return config if found is None else found
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(c, custom_objects, safe_mode, **kwargs) for c in config]
    if not isinstance(config, dict):
        return config
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode, **kwargs) for k, v in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if not isinstance(class_name, str):
        raise ValueError(
            f"Invalid config in the file ({where}). Expected a string class_name. Received: {class_name!r}."
        )
    if class_name.startswith("__"):
        return _special(class_name, inner, safe_mode, where)
    registered = config.get("registered_name")
    kind = _kind_of(config.get("module"))
    if class_name == "function":
        fn = merged.get(registered) if isinstance(registered, str) else None
        pkg = reg.package(kind or "activations")
        fn = fn or merged.get(inner) or (pkg.objects.get(inner) if pkg else None)
        if fn is None:
            raise _unknown(str(inner), registered, where)
        return fn
    found = merged.get(registered) if isinstance(registered, str) else None
    found = found or merged.get(class_name)
    if found is None and module_objects is not None:
        found = module_objects.get(class_name)
    if found is None and (kind in (None, "layers", "models") or class_name in _LAYER_CLASSES):
        if class_name in _LAYER_CLASSES:
            found = _LAYER_CLASSES[class_name]
    if found is None and kind is not None:
        pkg = reg.package(kind)
        found = pkg.objects.get(class_name) if pkg else None
    if found is None:
        raise _unknown(class_name, registered, where)
    if not isinstance(found, type):
        return found
    if not isinstance(inner, dict):
        raise ValueError(f"Invalid config for {class_name} ({where}). Expected a dict. Received: {inner!r:.200}.")
    if issubclass(found, Layer) and "module" in config:
        from cnnkit.saving.keras_config import layer_from_keras  # inside: keras_config builds on this module

        return layer_from_keras(found, config, custom_objects, safe_mode)
    if "module" in config:
        inner = keras_args(found, inner, custom_objects, safe_mode)
    return _from_config(found, inner, custom_objects)
