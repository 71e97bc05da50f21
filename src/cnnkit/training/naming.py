"""Keras-style automatic names for metrics, losses and optimizers: `precision`, then `precision_1`, ...

Keras draws layer, metric and optimizer names from one per-session counter (reset by `clear_session()`), and
History keys such as `precision_1` come from it, so cnnkit shares the layers' counter.
"""

from __future__ import annotations

from cnnkit.layers.naming import to_snake_case, unique_name

__all__ = ["auto_name", "to_snake_case"]


def auto_name(prefix: str) -> str:
    """The next unique name for `prefix` (snake-cased): the first use gets the bare name."""
    return unique_name(to_snake_case(prefix))
