"""The one nested-structure helper: flatten and map_structure over lists, tuples and dicts."""

from __future__ import annotations

from cnnkit.common.nest import flatten, map_structure
from cnnkit.training import data_adapter


def test_flatten_order_and_none():
    data = {"b": [1, (2, None)], "a": 3}
    assert flatten(data) == [1, 2, 3]  # insertion order; None is an empty structure
    assert flatten(data, none_is_leaf=True) == [1, 2, None, 3]
    assert flatten(None) == [] and flatten(7) == [7]


def test_map_structure_keeps_containers_and_none():
    out = map_structure(lambda v: v + 1, {"x": (1, [2, None]), "y": 3})
    assert out == {"x": (2, [3, None]), "y": 4} and isinstance(out["x"], tuple)
    assert map_structure(lambda v: "seen", None, none_is_leaf=True) == "seen"


def test_training_uses_the_same_helper():
    assert data_adapter.map_structure is map_structure and data_adapter.flatten is flatten
