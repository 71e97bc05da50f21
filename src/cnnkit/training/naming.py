"""Keras-style automatic object names: `precision`, then `precision_1`, `precision_2`, ... per process."""

from __future__ import annotations

import collections
import re

__all__ = ["auto_name", "to_snake_case"]

# Keras keeps one name counter per process (reset by `keras.backend.clear_session()`); History keys such as
# `precision_1` come from it, so cnnkit counts the same way.
_NAME_UIDS: collections.defaultdict[str, int] = collections.defaultdict(int)


def to_snake_case(name: str) -> str:
    """`"SparseCategoricalAccuracy"` -> `"sparse_categorical_accuracy"`, `"AUC"` -> `"auc"`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(prefix: str) -> str:
    """The next unique name for `prefix` (snake-cased): the first use gets the bare name."""
    base = to_snake_case(prefix)
    count = _NAME_UIDS[base]
    _NAME_UIDS[base] += 1
    return base if count == 0 else f"{base}_{count}"
