"""Probabilistic metrics: the mean crossentropies, KL divergence and Poisson loss."""

from __future__ import annotations

from cnnkit import losses
from cnnkit.metrics.metric import _Wrapper, _wrapper

KLDivergence = _wrapper("KLDivergence", losses.kl_divergence, "kl_divergence", "Mean KL divergence.")


Poisson = _wrapper("Poisson", losses.poisson, "poisson", "Mean Poisson loss.")


class BinaryCrossentropy(_Wrapper):
    """Mean binary crossentropy over the samples seen."""

    _fn_default = staticmethod(losses.binary_crossentropy)
    _name_default = "binary_crossentropy"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0) -> None:
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_Wrapper):
    """Mean categorical crossentropy over the samples seen."""

    _fn_default = staticmethod(losses.categorical_crossentropy)
    _name_default = "categorical_crossentropy"

    def __init__(
        self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0, axis=-1
    ) -> None:
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapper):
    """Mean sparse categorical crossentropy over the samples seen."""

    _fn_default = staticmethod(losses.sparse_categorical_crossentropy)
    _name_default = "sparse_categorical_crossentropy"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1) -> None:
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, axis=axis)
