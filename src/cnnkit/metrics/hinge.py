"""Hinge metrics: the mean of the hinge losses."""

from __future__ import annotations

from cnnkit import losses
from cnnkit.metrics.metric import _wrapper

Hinge = _wrapper("Hinge", losses.hinge, "hinge", "Mean hinge loss.")


SquaredHinge = _wrapper("SquaredHinge", losses.squared_hinge, "squared_hinge", "Mean squared hinge loss.")


CategoricalHinge = _wrapper(
    "CategoricalHinge", losses.categorical_hinge, "categorical_hinge", "Mean categorical hinge."
)
