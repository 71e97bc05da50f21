"""Forward and backward hooks as context managers that always remove themselves.

The idea follows fastai's ``callback/hook.py``: a hook is an object that registers itself on a module, stores what
the hook function returns, and is removed when the ``with`` block ends, even when the block raises. Nothing is left
behind on the model, so Grad-CAM or feature-map extraction never changes what a later forward pass does.

Example:
    >>> with Hook(model.get_layer("conv2d")) as h:
    ...     _ = model(images)
    >>> h.stored.shape
    torch.Size([2, 62, 62, 32])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

__all__ = ["Hook", "Hooks", "hook_output", "hook_outputs", "leaf_modules", "module_name", "registered_hook_count"]


def _store_output(module: torch.nn.Module, inputs: Any, output: Any) -> Any:
    return output


class Hook:
    """Registers ``hook_fn(module, inputs, outputs)`` on ``module`` and keeps its result in ``stored``.

    Args:
        module: the module to hook.
        hook_fn: called as ``hook_fn(module, inputs, outputs)``; its return value is kept in ``self.stored``.
            Defaults to keeping the output itself.
        backward: hook the backward pass (``register_full_backward_hook``); ``inputs``/``outputs`` are then the
            gradients with respect to the module's inputs and outputs.
        detach: detach stored tensors from the autograd graph (keep ``False`` to differentiate through them).
    """

    def __init__(
        self,
        module: torch.nn.Module,
        hook_fn: Callable[..., Any] = _store_output,
        backward: bool = False,
        detach: bool = False,
    ) -> None:
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                "Hooks can only be registered on a torch.nn.Module. "
                f"Received: module={type(module).__name__}. Pass a layer or model."
            )
        self.module = module
        self.hook_fn = hook_fn
        self.detach = detach
        self.stored: Any = None
        self.calls = 0
        register = module.register_full_backward_hook if backward else module.register_forward_hook
        self._handle = register(self._hook)
        self.removed = False

    def _hook(self, module: torch.nn.Module, inputs: Any, outputs: Any) -> None:
        if self.detach:
            inputs = _detach(inputs)
            outputs = _detach(outputs)
        self.stored = self.hook_fn(module, inputs, outputs)
        self.calls += 1

    def remove(self) -> None:
        """Removes the hook from the module (safe to call twice)."""
        if not self.removed:
            self._handle.remove()
            self.removed = True

    def __enter__(self) -> Hook:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()

    def __del__(self) -> None:  # a forgotten hook must not outlive its owner
        try:
            self.remove()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class Hooks:
    """A list of :class:`Hook` on several modules, removed together.

    Example:
        >>> with Hooks(convs) as hooks:
        ...     _ = model(images)
        >>> [h.stored.shape for h in hooks]
        [torch.Size([2, 62, 62, 32]), torch.Size([2, 29, 29, 64])]
    """

    def __init__(
        self,
        modules: Iterable[torch.nn.Module],
        hook_fn: Callable[..., Any] = _store_output,
        backward: bool = False,
        detach: bool = False,
    ) -> None:
        self.hooks: list[Hook] = []
        try:
            for m in modules:
                self.hooks.append(Hook(m, hook_fn, backward=backward, detach=detach))
        except BaseException:
            self.remove()
            raise

    def __getitem__(self, i: int) -> Hook:
        return self.hooks[i]

    def __len__(self) -> int:
        return len(self.hooks)

    def __iter__(self) -> Iterator[Hook]:
        return iter(self.hooks)

    @property
    def stored(self) -> list[Any]:
        return [h.stored for h in self.hooks]

    def remove(self) -> None:
        for h in self.hooks:
            h.remove()

    def __enter__(self) -> Hooks:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()


def hook_output(module: torch.nn.Module, detach: bool = True, grad: bool = False) -> Hook:
    """A :class:`Hook` that keeps the module's output (or, with ``grad=True``, the gradient of its output)."""
    if grad:
        return Hook(module, lambda m, gi, go: go[0], backward=True, detach=detach)
    return Hook(module, _store_output, detach=detach)


def hook_outputs(modules: Iterable[torch.nn.Module], detach: bool = True, grad: bool = False) -> Hooks:
    """:class:`Hooks` keeping the outputs (or output gradients) of several modules."""
    if grad:
        return Hooks(modules, lambda m, gi, go: go[0], backward=True, detach=detach)
    return Hooks(modules, _store_output, detach=detach)


def _detach(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, (list, tuple)):
        return type(x)(_detach(v) for v in x)
    return x


def module_name(module: torch.nn.Module, fallback: str = "") -> str:
    """The Keras-style ``name`` of a cnnkit layer, else ``fallback`` (e.g. its path in ``named_modules``)."""
    name = getattr(module, "name", None)
    return name if isinstance(name, str) and name else fallback


def leaf_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``(name, module)`` for the "layers" of a network, in definition order, nested models walked through.

    For a cnnkit model these are the entries of ``model.layers`` (recursing into a nested model such as a
    pretrained base inside a classifier); for a plain torch module, the modules without children.
    """
    layers = getattr(model, "layers", None)
    if isinstance(layers, (list, tuple)) and all(isinstance(m, torch.nn.Module) for m in layers):
        out = []
        for m in layers:
            if isinstance(getattr(m, "layers", None), (list, tuple)):
                out.extend(leaf_modules(m))
            else:
                out.append((module_name(m, type(m).__name__.lower()), m))
        return out
    out = []
    for path, m in model.named_modules():
        if m is not model and next(iter(m.children()), None) is None:
            out.append((module_name(m, path), m))
    return out


def registered_hook_count(model: torch.nn.Module) -> int:
    """How many forward/backward hooks are registered on ``model`` and all its submodules (for tests)."""
    n = 0
    for m in model.modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            n += len(getattr(m, attr, {}) or {})
    return n
