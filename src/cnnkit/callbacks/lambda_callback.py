"""LambdaCallback: a callback built from plain functions."""

from __future__ import annotations

from collections.abc import Callable

from cnnkit.callbacks.callback import Callback


class LambdaCallback(Callback):
    """Callbacks on the fly: ``on_epoch_begin/end(epoch, logs)``, ``on_train_batch_begin/end(batch, logs)``,
    ``on_train_begin/end(logs)`` (and Keras 2's ``on_batch_begin/end``).

    Example:
        >>> print_loss = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    """

    def __init__(
        self,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_begin: Callable | None = None,
        on_train_end: Callable | None = None,
        on_train_batch_begin: Callable | None = None,
        on_train_batch_end: Callable | None = None,
        **kwargs: Callable,
    ) -> None:
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        hooks["on_train_batch_begin"] = hooks["on_train_batch_begin"] or kwargs.pop("on_batch_begin", None)
        hooks["on_train_batch_end"] = hooks["on_train_batch_end"] or kwargs.pop("on_batch_end", None)
        for name, fn in {**hooks, **kwargs}.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise ValueError(
                    f"Unknown hook for LambdaCallback. Expected one of the Callback hook names such as "
                    f"'on_epoch_end'. Received: {name}. Check the spelling of the keyword argument."
                )
            if fn is not None:
                setattr(self, name, fn)
