"""The Lambda layer, and Keras' safe mode: Python bytecode in a config is never run unless the caller says so.

A ``Lambda`` holding a Python ``lambda`` serializes it as Keras does (marshalled bytecode, base64): the only way to
save an anonymous function. Loading such a config runs code from the file, so :meth:`Lambda.from_config` refuses it
unless ``safe_mode=False`` is passed, or the loader opened a :func:`safe_mode_scope` with ``False`` (what
``load_model(..., safe_mode=False)`` does). A named function is saved by name and found again only among the
``custom_objects``, ``cnnkit.activations`` or ``cnnkit.ops``: never imported from a module named in the file.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import marshal
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from cnnkit import activations, ops
from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer

_SCOPE = threading.local()

LAMBDA_REFUSED = (
    "Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. This carries a potential "
    "risk of arbitrary code execution and thus it is disallowed by default. If you trust the source of the artifact, "
    "you can override this error by passing `safe_mode=False` to the loading function."
)


@contextlib.contextmanager
def safe_mode_scope(safe_mode: bool | None = True) -> Iterator[None]:
    """Within the block, configs are deserialized with ``safe_mode`` (``None`` keeps the surrounding setting).

    Example:
        >>> with safe_mode_scope(False):
        ...     in_safe_mode()
        False
    """
    previous = getattr(_SCOPE, "value", None)
    _SCOPE.value = previous if safe_mode is None else bool(safe_mode)
    try:
        yield
    finally:
        _SCOPE.value = previous


def in_safe_mode() -> bool:
    """Whether deserialization refuses Python bytecode now (``True`` outside any scope: it fails closed)."""
    return getattr(_SCOPE, "value", None) is not False


@register_layer
class Lambda(Layer):
    """Wrap a function of tensors as a layer: ``Lambda(lambda x: x ** 2)``.

    Example:
        >>> import torch
        >>> Lambda(lambda x, k: x * k, arguments={"k": 3})(torch.ones(1, 2)).tolist()
        [[3.0, 3.0]]
    """

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Lambda expects a callable. Expected a function of tensors. Received: function={function!r}. "
                f"Pass a function or a lambda."
            )
        self.function, self.mask, self.arguments = function, mask, dict(arguments or {})
        self._output_shape = output_shape

    def call(self, inputs, *args, **kwargs):
        kwargs.pop("training", None)  # Keras passes `training`/`mask` only when the function takes them
        return self.function(inputs, *args, **self.arguments)

    def compute_output_shape(self, input_shape, *more_shapes):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape, *more_shapes)
        if callable(self._output_shape):
            return self._output_shape(input_shape, *more_shapes)
        shape = tuple(self._output_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch, *shape)

    def get_config(self):
        config = {**super().get_config(), "function": serialize_function(self.function), "arguments": self.arguments}
        if self._output_shape is not None:
            shape = self._output_shape
            config["output_shape"] = serialize_function(shape) if callable(shape) else list(shape)
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None, safe_mode: bool | None = None
    ) -> Lambda:
        """Rebuild from :meth:`get_config`; a Python lambda in it is refused unless ``safe_mode=False``."""
        safe = in_safe_mode() if safe_mode is None else safe_mode is not False
        config = dict(config)
        config["function"] = deserialize_function(config["function"], custom_objects, safe)
        if isinstance(config.get("output_shape"), dict):
            config["output_shape"] = deserialize_function(config["output_shape"], custom_objects, safe)
        config.pop("mask", None)
        return cls(**config)


def serialize_function(fn: Callable[..., Any]) -> dict[str, Any]:
    """Keras' config form of a function: bytecode for a ``lambda``, the name for a named function."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"Invalid input type for serialization. Received: {fn} of type {type(fn)}.")
    return {"module": fn.__module__, "class_name": "function", "config": name, "registered_name": name}


def deserialize_function(config: Any, custom_objects: dict[str, Any] | None, safe_mode: bool) -> Callable[..., Any]:
    """The function of a config from :func:`serialize_function` (bytecode only when ``safe_mode`` is False)."""
    if callable(config):  # already rebuilt by the loader (cnnkit.saving resolves nested objects first)
        return config
    if not isinstance(config, dict):
        raise ValueError(f"Invalid function config. Expected a dict. Received: function={config!r:.200}.")
    if config.get("class_name") == "__lambda__":
        if safe_mode:
            raise ValueError(LAMBDA_REFUSED)
        inner = config["config"]
        code = marshal.loads(base64.b64decode(inner["code"] if "code" in inner else inner["value"][0]))
        closure = tuple(types.CellType(v) for v in inner["closure"]) if inner.get("closure") else None
        defaults = tuple(inner["defaults"]) if inner.get("defaults") else None
        # The bytecode's globals: the names a Keras lambda usually reaches for, mapped to cnnkit's.
        globs = {"__builtins__": builtins, "ops": ops, "np": np, "numpy": np, "torch": torch}
        return types.FunctionType(code, globs, name=code.co_name, argdefs=defaults, closure=closure)
    name = config.get("registered_name") or config.get("config")
    for key in (name, config.get("config")):
        if custom_objects and key in custom_objects:
            return custom_objects[key]
    module = str(config.get("module", ""))
    if "activations" in module and isinstance(config.get("config"), str):
        return activations.get(config["config"])
    if module.split(".")[-1] in ("ops", "numpy", "nn") and hasattr(ops, str(config.get("config"))):
        return getattr(ops, config["config"])
    raise ValueError(
        f"Could not locate function {name!r}. Expected it among custom_objects, cnnkit.activations or cnnkit.ops. "
        f"Received: module={module!r}, name={name!r}. Pass custom_objects={{{name!r}: {name}}} (or register it)."
    )
