"""Layers and models to and from JSON-able configs (class name + constructor arguments), from the registry only."""

from __future__ import annotations

import json
from typing import Any

from cnnkit.layers.base import Layer
from cnnkit.layers.registry import get_layer_class


def serialize_layer(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(data: dict[str, Any], custom_objects: dict | None = None) -> Layer:
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(
            f"Invalid layer config. Expected {{'class_name': ..., 'config': ...}}. Received: {data!r:.200}."
        )
    cls = get_layer_class(data["class_name"], custom_objects)
    if "custom_objects" in cls.from_config.__code__.co_varnames:
        return cls.from_config(data["config"], custom_objects=custom_objects)
    return cls.from_config(data["config"])


def model_from_json(json_string: str, custom_objects: dict[str, type] | None = None) -> Layer:
    """Rebuild an architecture (no weights) from ``model.to_json()``."""
    return deserialize_layer(json.loads(json_string), custom_objects)
