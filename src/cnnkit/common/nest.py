"""Nested structures (lists, tuples, dicts of leaves): the one ``flatten`` and ``map_structure``.

As in optree (which Keras' ``tree`` uses), ``None`` is by default an empty structure, not a leaf: ``flatten`` drops
it and ``map_structure`` keeps it as ``None`` without calling ``fn`` (a missing ``sample_weight`` stays missing).
Pass ``none_is_leaf=True`` to treat it as a value. Dicts are walked in insertion order.

Example:
    >>> flatten({"a": [1, 2], "b": (3, None)})
    [1, 2, 3]
    >>> map_structure(lambda v: v * 10, {"a": [1, 2], "b": (3, None)})
    {'a': [10, 20], 'b': (30, None)}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["flatten", "map_structure"]


def flatten(structure: Any, *, none_is_leaf: bool = False) -> list:
    """The leaves of nested lists/tuples/dicts, in order."""
    if isinstance(structure, dict):
        return [leaf for v in structure.values() for leaf in flatten(v, none_is_leaf=none_is_leaf)]
    if isinstance(structure, (list, tuple)):
        return [leaf for v in structure for leaf in flatten(v, none_is_leaf=none_is_leaf)]
    return [] if structure is None and not none_is_leaf else [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any, *, none_is_leaf: bool = False) -> Any:
    """``structure`` with ``fn`` applied to every leaf; containers keep their type (and dicts their keys)."""
    if isinstance(structure, dict):
        return {k: map_structure(fn, v, none_is_leaf=none_is_leaf) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v, none_is_leaf=none_is_leaf) for v in structure)
    return None if structure is None and not none_is_leaf else fn(structure)
