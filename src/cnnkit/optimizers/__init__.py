"""Optimizers, as ``keras.optimizers`` (one per module, Keras 3's update rules), and ``optimizers.schedules``.

Example:
    >>> import cnnkit
    >>> cnnkit.optimizers.get("rmsprop").learning_rate
    0.001
"""

from __future__ import annotations

import difflib
from typing import Any

from cnnkit.optimizers import schedules
from cnnkit.optimizers.adadelta import Adadelta
from cnnkit.optimizers.adagrad import Adagrad
from cnnkit.optimizers.adam import Adam, AdamW
from cnnkit.optimizers.adamax import Adamax
from cnnkit.optimizers.nadam import Nadam
from cnnkit.optimizers.optimizer import Optimizer
from cnnkit.optimizers.rmsprop import RMSprop
from cnnkit.optimizers.sgd import SGD
from cnnkit.saving.object_registration import register_package

_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam)}


def get(identifier: str | dict[str, Any] | Optimizer) -> Optimizer:
    """Resolves `'adam'`, `{'class_name': 'Adam', 'config': {...}}` or an optimizer object (returned as is).

    Example:
        >>> get("rmsprop").learning_rate
        0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _OPTIMIZERS:
        return _OPTIMIZERS[identifier.lower()]()
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in _OPTIMIZERS:
        cls = _OPTIMIZERS[str(identifier["class_name"]).lower()]
        return cls.from_config(dict(identifier.get("config") or {}))
    names = ", ".join(repr(n) for n in sorted(_OPTIMIZERS))
    error = ValueError if isinstance(identifier, (str, dict)) else TypeError
    close = difflib.get_close_matches(str(identifier).lower(), list(_OPTIMIZERS), n=1)
    hint = f"Did you mean {close[0]!r}? Or pass" if close else "Check the spelling or pass"
    raise error(
        f"Could not interpret optimizer identifier. Expected one of {names}, an Optimizer instance or a "
        f"config dict {{'class_name': ..., 'config': ...}}. Received: optimizer={identifier!r}. "
        f"{hint} an optimizer object such as cnnkit.optimizers.Adam(learning_rate=1e-3)."
    )


# The room's objects as saved configs name them (saving/ sits below optimizers/ and reads them from here).
register_package(
    "optimizers", {**{c.__name__: c for c in _OPTIMIZERS.values()}, **schedules._SCHEDULES}, Optimizer, get
)


__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer", "RMSprop", "get", "schedules"]
