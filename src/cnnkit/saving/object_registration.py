"""Which classes and functions a saved config may name: Keras 3's registration API, and the rooms' registries.

A config names a class (``"Dense"``, ``"my_package>Scale"``); loading looks it up here, never imports a module a file
names. Lookups go: the ``custom_objects`` passed in, the active :class:`CustomObjectScope`\\ s, the objects registered
with :func:`register_keras_serializable` (or put into :func:`get_custom_objects`), then cnnkit's own rooms.

The rooms above ``saving/`` (losses, metrics, optimizers) register their objects here when they are imported
(:func:`register_package`); the rooms below it (layers, activations, initializers, regularizers) are read directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "register_package",
]

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPES = threading.local()  # each thread's stack of custom_object_scope dicts, as Keras keeps one per thread


class _Package:
    """A room's objects as configs name them: ``objects`` by name, ``base`` (the room's base class, to find the room
    of an object when serializing), and ``get``, the room's own resolver for names and configs."""

    def __init__(self, module: str, objects: dict[str, Any], base: type | None, get: Callable[[Any], Any] | None):
        self.module, self.objects, self.base, self.get = module, objects, base, get


_PACKAGES: dict[str, _Package] = {}


def register_package(
    kind: str,
    objects: dict[str, Any],
    base: type | None = None,
    get: Callable[[Any], Any] | None = None,
) -> None:
    """A room makes its public objects known to deserialization (called once, when the room is imported).

    Args:
        kind: the room, as the last part of its Keras module: ``"losses"``, ``"metrics"``, ``"optimizers"``...
        objects: the classes and functions a config may name, by name.
        base: the room's base class (``Loss``); an instance of it is serialized with ``module="keras.<kind>"``.
        get: the room's resolver (``losses.get``), used for the names and configs ``objects`` does not hold.

    Example:
        >>> register_package("my_things", {"double": lambda x: 2 * x})  # doctest: +SKIP
    """
    _PACKAGES[kind] = _Package(f"keras.{kind}", dict(objects), base, get)


def package(kind: str) -> _Package | None:
    """The registered room ``kind``, or None if it was not imported (or does not exist)."""
    return _PACKAGES.get(kind)


def packages() -> dict[str, _Package]:
    return dict(_PACKAGES)


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable[[Any], Any]:
    """Class or function decorator: saved configs may name the object as ``'<package>>'<name>'`` (Keras' rule).

    Args:
        package: the package part of the registered name.
        name: the name part; the object's ``__name__`` when None.

    Raises:
        ValueError: when a class without ``get_config()`` is registered, or the registered name is taken by another
            object.

    Example:
        >>> import cnnkit
        >>> @register_keras_serializable(package="Docs")
        ... class Doubler(cnnkit.layers.Layer):
        ...     def call(self, x):
        ...         return 2 * x
        >>> get_registered_name(Doubler)
        'Docs>Doubler'
    """

    def decorator(arg: Any) -> Any:
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if isinstance(arg, type) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"Cannot register a class that does not have a get_config() method. Expected a class with "
                f"get_config(). Received: {arg.__qualname__}. Add get_config() returning its constructor arguments."
            )
        existing = _GLOBAL_CUSTOM_OBJECTS.get(registered_name)
        if existing is not None and getattr(existing, "__qualname__", None) != getattr(arg, "__qualname__", None):
            raise ValueError(
                f"The name {registered_name!r} is already registered to {existing!r}. Expected a unique "
                f"package>name. Received: {arg!r}. Pass another package= or name=."
            )
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_custom_objects() -> dict[str, Any]:
    """The global dict of registered custom objects (Keras' ``get_custom_objects``); updating it registers objects.

    Example:
        >>> get_custom_objects().clear()  # doctest: +SKIP
    """
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` is registered under, or its ``__name__`` when it is not registered."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def _scope_stack() -> list[dict[str, Any]]:
    if not hasattr(_SCOPES, "stack"):
        _SCOPES.stack = []
    return _SCOPES.stack


class CustomObjectScope:
    """Within ``with CustomObjectScope({"Scale": Scale}):``, configs may name these objects.

    Example:
        >>> with CustomObjectScope({"double": abs}):
        ...     get_registered_object("double") is abs
        True
    """

    def __init__(self, *custom_objects: dict[str, Any] | None) -> None:
        self.custom_objects = {}
        for objects in custom_objects:
            if objects is not None and not isinstance(objects, dict):
                raise TypeError(
                    f"custom_object_scope takes dicts of name -> object. Received: {objects!r} of type "
                    f"{type(objects).__name__}. Pass e.g. {{'Scale': Scale}}."
                )
            self.custom_objects.update(objects or {})

    def __enter__(self) -> CustomObjectScope:
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc: Any) -> None:
        _scope_stack().remove(self.custom_objects)


custom_object_scope = CustomObjectScope


def all_custom_objects(custom_objects: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every custom object visible now: registered, then scoped, then passed (a later source wins)."""
    merged = dict(_GLOBAL_CUSTOM_OBJECTS)
    for scope in _scope_stack():
        merged.update(scope)
    merged.update(custom_objects or {})
    return merged


def get_registered_object(
    name: str, custom_objects: dict[str, Any] | None = None, module_objects: dict[str, Any] | None = None
) -> Any:
    """The object registered, scoped or passed under ``name`` (then ``module_objects[name]``); None if none is."""
    found = all_custom_objects(custom_objects).get(name)
    if found is None and module_objects is not None:
        found = module_objects.get(name)
    return found
