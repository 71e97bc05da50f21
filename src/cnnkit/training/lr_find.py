"""``model.lr_find``: the learning-rate range test (fastai's ``Learner.lr_find``) over ``fit`` and ``LRFinder``."""

from __future__ import annotations

import math
from typing import Any

from cnnkit.callbacks.lr_finder import LRFinder, LRFinderResult
from cnnkit.training import data_adapter as da

__all__ = ["lr_find"]


def lr_find(
    model: Any,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    stop_div: bool = True,
    verbose: int | str = 0,
) -> LRFinderResult:
    """Sweeps the learning rate exponentially over ``num_iter`` batches and returns the loss curve and a suggestion.

    The model must be compiled (the sweep uses its optimizer and loss). It trains for as many epochs as ``num_iter``
    batches need, then the weights, the optimizer's state and learning rate, and the step counters are restored
    exactly: the model is as it was before the call.

    Args:
        model: a compiled model.
        x: inputs (arrays) or a dataset yielding ``(x, y)`` batches, as for ``fit``.
        y: targets when ``x`` is arrays.
        batch_size: batch size for arrays (default 32).
        start_lr: the first learning rate.
        end_lr: the last learning rate.
        num_iter: number of batches in the sweep.
        stop_div: stop early when the smoothed loss diverges (passes 4x its best, or NaN).
        verbose: ``fit``'s verbosity (silent by default).

    Returns:
        An :class:`~cnnkit.callbacks.LRFinderResult`: ``lrs``, smoothed ``losses``, ``suggestion`` (fastai's valley)
        and ``suggestions`` by name.

    Example:
        >>> result = model.lr_find(x_train, y_train, num_iter=100)  # doctest: +SKIP
        >>> model.optimizer.learning_rate = result.suggestion  # doctest: +SKIP
    """
    trainer = getattr(model, "trainer", None)
    if trainer is None or not trainer.compiled:
        raise ValueError(
            "The model must be compiled before calling lr_find(). Expected model.compile(optimizer=..., loss=...) "
            "first. Received: an uncompiled model. Call model.compile(optimizer='sgd', loss=...) before "
            "model.lr_find()."
        )
    finder = LRFinder(start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, stop_div=stop_div)
    if da.is_array_like(x):
        steps = da.adapt(x, y, None, batch_size or 32).steps
    else:
        steps = len(x) if hasattr(x, "__len__") else None
    # As many epochs as the sweep needs; the finder stops training after num_iter batches (or on divergence).
    epochs = math.ceil(num_iter / steps) if steps else num_iter
    trainer.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[finder], verbose=verbose)
    assert finder.result is not None  # set in on_train_end
    return finder.result
