"""The layer-class registry: the classes ``load_model``/``from_config`` may build, by class name."""

from __future__ import annotations

import difflib

_LAYER_CLASSES: dict[str, type] = {}


def register_layer(cls: type) -> type:
    """Class decorator: make a layer known to ``load_model``/``from_config`` under its class name.

    Example:
        >>> from cnnkit.layers import Layer
        >>> @register_layer
        ... class Doubler(Layer):
        ...     def call(self, inputs):
        ...         return inputs * 2
    """
    name = cls.__name__
    if name in _LAYER_CLASSES and _LAYER_CLASSES[name] is not cls:
        existing = _LAYER_CLASSES[name]
        raise ValueError(
            f"A layer class named {name!r} is already registered ({existing.__module__}.{existing.__qualname__}). "
            f"Layer class names must be unique. Received: {cls.__module__}.{cls.__qualname__}. Rename the class."
        )
    _LAYER_CLASSES[name] = cls
    return cls


def get_layer_class(name: str, custom_objects: dict[str, type] | None = None) -> type:
    """Look a layer (or model) class up by name; never imports anything named by the caller."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _LAYER_CLASSES:
        return _LAYER_CLASSES[name]
    close = difflib.get_close_matches(name, list(_LAYER_CLASSES), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"Unknown layer class {name!r}. Expected one of cnnkit's registered layers. Received: class_name={name!r}."
        f"{hint} For a custom layer, decorate it with @cnnkit.layers.register_layer or pass "
        f"custom_objects={{{name!r}: {name}}}."
    )
