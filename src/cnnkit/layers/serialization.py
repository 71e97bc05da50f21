"""``layers.serialize`` / ``layers.deserialize``: a layer as Keras' config dict and back (registered classes only)."""

from __future__ import annotations

import inspect
from typing import Any

from cnnkit.layers.base import Layer
from cnnkit.layers.registry import get_layer_class


def serialize(layer: Layer) -> dict[str, Any]:
    """``{'module': 'keras.layers', 'class_name': ..., 'config': layer.get_config(), 'registered_name': None}``.

    Example:
        >>> from cnnkit.layers import Dense
        >>> serialize(Dense(2, name="d"))["class_name"]
        'Dense'
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layers.serialize expects a Layer. Received: layer={layer!r:.200}. Pass a cnnkit layer.")
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}  # fmt: skip


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Layer:
    """A new layer from :func:`serialize`'s output; the class comes from cnnkit's registry or ``custom_objects``.

    Example:
        >>> from cnnkit.layers import Dense
        >>> deserialize(serialize(Dense(2, name="d"))).units
        2
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Invalid layer config. Expected {{'class_name': ..., 'config': ...}}. Received: config={config!r:.200}."
        )
    cls = get_layer_class(config["class_name"], custom_objects)
    inner = config.get("config") or {}
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)
