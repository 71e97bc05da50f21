"""Layers and models to and from JSON-able configs (class name + constructor arguments), from the registry only."""

from __future__ import annotations

import json
from typing import Any

from cnnkit.layers.base import Layer
from cnnkit.layers.registry import get_layer_class


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``, which :func:`deserialize_layer` turns back into a layer.

    Example:
        >>> serialize_layer(cnnkit.layers.Dense(2))["class_name"]  # doctest: +SKIP
        'Dense'
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(data: dict[str, Any], custom_objects: dict | None = None) -> Layer:
    """A new layer (or model) from :func:`serialize_layer`'s output; classes come from cnnkit's registry or
    ``custom_objects`` only, so a config cannot name arbitrary code."""
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(
            f"Invalid layer config. Expected {{'class_name': ..., 'config': ...}}. Received: {data!r:.200}."
        )
    cls = get_layer_class(data["class_name"], custom_objects)
    if "custom_objects" in cls.from_config.__code__.co_varnames:
        return cls.from_config(data["config"], custom_objects=custom_objects)
    return cls.from_config(data["config"])


# Keras' names (``keras.saving.serialize_keras_object``); here they cover layers and models.
serialize_keras_object = serialize_layer
deserialize_keras_object = deserialize_layer


def model_from_json(json_string: str, custom_objects: dict[str, type] | None = None) -> Layer:
    """Rebuild an architecture (no weights) from ``model.to_json()``."""
    return deserialize_layer(json.loads(json_string), custom_objects)
