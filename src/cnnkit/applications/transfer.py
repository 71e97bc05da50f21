"""Transfer learning done for you: train a new head on a frozen base, then unfreeze the top blocks at a lower
learning rate, with BatchNorm kept in inference mode throughout (the trap that costs users days).

Example:
    >>> import cnnkit, numpy as np
    >>> base = cnnkit.applications.LeNet5(include_top=False)  # in practice a pretrained base: ResNet18(weights=...)
    >>> x, y = np.random.rand(8, 32, 32, 1).astype("float32"), np.arange(8) % 2
    >>> model, (head, tuned) = cnnkit.applications.fine_tune(
    ...     base, x, y, classes=2, head_epochs=1, fine_tune_epochs=1, verbose=0
    ... )
    >>> len(head.history["loss"]), len(tuned.history["loss"])
    (1, 1)
"""

from __future__ import annotations

from typing import Any

from cnnkit import optimizers
from cnnkit.layers import (
    Add,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
)
from cnnkit.models import Model

__all__ = ["fine_tune", "split_blocks"]


def split_blocks(base: Any) -> list[list[Any]]:
    """The base's layers cut into blocks: a block ends at a merge (a residual Add) or a pooling layer, which is
    where the zoo's families end theirs (ResNet residual blocks; VGG/AlexNet/LeNet conv groups)."""
    ends = (Add, Concatenate, MaxPooling2D, AveragePooling2D)
    blocks: list[list[Any]] = [[]]
    for layer in base.layers:
        blocks[-1].append(layer)
        if isinstance(layer, ends):
            blocks.append([])
    return [b for b in blocks if any(layer.weights for layer in b)]


def _find_base(model: Any) -> Any:
    nested = [layer for layer in model.layers if isinstance(layer, Model)]
    if not nested:
        raise ValueError(
            "fine_tune could not find the pretrained base in the model. Expected a model containing a nested model, "
            f"e.g. Sequential([base, GlobalAveragePooling2D(), Dense(n)]). Received: model={model.name!r} with layers "
            f"{[layer.name for layer in model.layers][:6]}. Pass the base itself with classes=..., or base=."
        )
    return nested[0]


def _optimizer(name: str, learning_rate: float) -> Any:
    return type(optimizers.get(name))(learning_rate=learning_rate)


def fine_tune(
    model_or_base: Any,
    x: Any = None,
    y: Any = None,
    *,
    classes: int | None = None,
    base: Any = None,
    head_epochs: int = 5,
    fine_tune_epochs: int = 5,
    unfreeze_blocks: int = 1,
    head_learning_rate: float = 1e-3,
    fine_tune_learning_rate: float = 1e-5,
    optimizer: str = "adam",
    loss: Any = "sparse_categorical_crossentropy",
    metrics: Any = ("accuracy",),
    dropout: float = 0.0,
    **fit_kwargs: Any,
) -> tuple[Any, tuple[Any, Any]]:
    """Two-phase transfer learning (Keras' recipe): head on a frozen base, then the top blocks unfrozen.

    Args:
        model_or_base: A base without top (then give `classes`: a head of global average pooling, optional
            Dropout and a softmax Dense is added, calling the base with ``training=False``), or a full model that
            contains the base as a nested model.
        x, y: Training data, as for ``fit`` (arrays, or a dataset in `x`).
        classes: Number of classes of the new head (only with a base).
        base: The pretrained part of a full model, when it is not its first nested model.
        head_epochs: Epochs with the whole base frozen.
        fine_tune_epochs: Epochs with the top `unfreeze_blocks` blocks trainable (0: skip).
        unfreeze_blocks: How many blocks of the base (see ``split_blocks``) to unfreeze, from the top.
        head_learning_rate, fine_tune_learning_rate: Learning rates of the two phases (the second much lower, so
            the pretrained features are adjusted, not destroyed).
        optimizer: Optimizer name (a fresh one per phase).
        loss, metrics: As for ``compile``.
        dropout: Dropout rate before the new head's Dense (only with a base).
        **fit_kwargs: Passed to both ``fit`` calls (batch_size, validation_data, callbacks, verbose...).

    Returns:
        ``(model, (head_history, fine_tune_history))``; the second history is None when skipped. BatchNorm layers
        stay frozen (inference mode, moving statistics untouched) in both phases.
    """
    if classes is not None:
        base = model_or_base
        inputs = Input(shape=tuple(base.inputs[0].shape[1:]))
        features = GlobalAveragePooling2D(name="head_pool")(base(inputs, training=False))
        if dropout:
            features = Dropout(dropout, name="head_dropout")(features)
        model = Model(inputs, Dense(classes, activation="softmax", name="head")(features), name=f"{base.name}_tuned")
    else:
        model = model_or_base
        base = base if base is not None else _find_base(model)
    if not isinstance(unfreeze_blocks, int) or unfreeze_blocks < 0:
        raise ValueError(
            f"`unfreeze_blocks` must be a non-negative integer. Received: unfreeze_blocks={unfreeze_blocks!r}. "
            "Pass e.g. 1 to fine-tune the last block."
        )

    base.trainable = False
    model.compile(optimizer=_optimizer(optimizer, head_learning_rate), loss=loss, metrics=list(metrics))
    head_history = model.fit(x, y, epochs=head_epochs, **fit_kwargs)
    if fine_tune_epochs == 0 or unfreeze_blocks == 0:
        return model, (head_history, None)

    base.trainable = True
    blocks = split_blocks(base)
    top = {id(layer) for block in blocks[len(blocks) - unfreeze_blocks :] for layer in block}
    for layer in base.layers:
        layer.trainable = id(layer) in top and not isinstance(layer, BatchNormalization)
    model.compile(optimizer=_optimizer(optimizer, fine_tune_learning_rate), loss=loss, metrics=list(metrics))
    tuned_history = model.fit(x, y, epochs=head_epochs + fine_tune_epochs, initial_epoch=head_epochs, **fit_kwargs)
    return model, (head_history, tuned_history)
