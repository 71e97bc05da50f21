"""Automatic names as Keras gives them (``conv2d``, ``conv2d_1``, ``precision_1``...), from one per-session counter.

Keras draws layer, metric and optimizer names from one counter (reset by `clear_session()`), and History keys such
as `precision_1` come from it.
"""

from __future__ import annotations

import collections
import re

_UIDS: collections.Counter[str] = collections.Counter()


def to_snake_case(name: str) -> str:
    """``MaxPooling2D`` -> ``max_pooling2d``, with Keras' rules."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def unique_name(prefix: str) -> str:
    """The next free name for ``prefix`` in this session: ``prefix``, ``prefix_1``, ``prefix_2``, ..."""
    _UIDS[prefix] += 1
    count = _UIDS[prefix]
    return prefix if count == 1 else f"{prefix}_{count - 1}"


def clear_session() -> None:
    """Reset automatic names, as ``keras.backend.clear_session()`` does."""
    _UIDS.clear()


def auto_name(prefix: str) -> str:
    """The next unique name for `prefix` (snake-cased): the first use gets the bare name."""
    return unique_name(to_snake_case(prefix))
