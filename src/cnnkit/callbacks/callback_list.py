"""CallbackList: dispatches hooks to callbacks, skipping those that do not override a hook (no per-step cost)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from cnnkit.callbacks.callback import Callback
from cnnkit.callbacks.history import History
from cnnkit.callbacks.progbar_logger import ProgbarLogger

_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class LazyLogs(Mapping):
    """Batch logs computed on first access: reading metric values syncs with the device, so only do it when asked."""

    def __init__(self, compute: Callable[[], dict[str, float]]) -> None:
        self._compute, self._values = compute, None

    def _get(self) -> dict[str, float]:
        if self._values is None:
            self._values = self._compute()
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


class CallbackList:
    """Holds callbacks (adding History and ProgbarLogger like Keras) and calls their hooks."""

    def __init__(
        self,
        callbacks: Iterable[Callback] | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "Invalid callback. Expected instances of cnnkit.callbacks.Callback. "
                    f"Received: {cb!r} of type {type(cb).__name__}. Subclass Callback or use LambdaCallback."
                )
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        # Callbacks that snapshot training state (BackupAndRestore) run after the others, History included.
        self.callbacks.sort(key=lambda cb: bool(getattr(cb, "_run_last", False)))
        self.set_model(model)
        self.set_params(params)
        # Which callbacks override each hook: a hook nobody overrides costs one attribute lookup per step.
        self._active = {h: [getattr(cb, h) for cb in self.callbacks if _overrides(cb, h)] for h in _HOOKS}
        for alias, hook in (("on_batch_begin", "on_train_batch_begin"), ("on_batch_end", "on_train_batch_end")):
            self._active[hook] += self._active.pop(alias)

    def set_model(self, model: Any) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        if len(args) < (2 if "batch" in hook or "epoch" in hook else 1):
            args = (*args, {})  # Keras always passes logs; user lambdas expect the argument
        for fn in self._active[hook]:
            fn(*args)

    def __getattr__(self, hook: str) -> Callable[..., None]:
        if hook.startswith("on_") and hook in _HOOKS:
            return lambda *args: self._call(hook, *args)
        raise AttributeError(hook)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)


def _overrides(cb: Callback, hook: str) -> bool:
    return hook in vars(cb) or getattr(type(cb), hook, None) is not getattr(Callback, hook)
