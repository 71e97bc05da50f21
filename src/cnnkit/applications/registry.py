"""The model zoo registry: names -> builders, with each model's table of pretrained weights.

Example:
    >>> from cnnkit.applications import list_models, get_model
    >>> list_models("ResNet*")[:3]
    ['ResNet101', 'ResNet101V2', 'ResNet101_TV']
    >>> model = get_model("ResNet20", weights=None)
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cnnkit.applications.weights import WeightsEntry

__all__ = ["ModelEntry", "ModelRegistry", "register_model", "list_models", "get_model", "get_model_entry"]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its builder, family, published parameter count and named weight sets.

    ``num_params`` is the trainable count (torchvision's convention: ``nn.Parameter`` elements); ``keras_params`` is
    ``count_params()`` of Keras' ``keras.applications`` model with the same arguments (BatchNorm moving statistics
    included) where Keras has the model, ``torchvision_params`` torchvision's ``num_params`` where it has it.
    """

    name: str
    builder: Callable[..., Any]
    family: str
    num_params: int | None = None
    num_params_source: str = ""
    weights: Mapping[str, WeightsEntry] = field(default_factory=dict)
    keras_params: int | None = None
    torchvision_params: int | None = None


class ModelRegistry:
    """A name -> ModelEntry mapping. The package has one default instance; tests may make their own."""

    def __init__(self) -> None:
        self._entries: dict[str, ModelEntry] = {}

    def register(
        self,
        name: str,
        *,
        family: str = "",
        num_params: int | None = None,
        num_params_source: str = "",
        weights: Mapping[str, WeightsEntry] | None = None,
        keras_params: int | None = None,
        torchvision_params: int | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Returns a decorator that registers a builder under `name` (a duplicate name raises ValueError)."""
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"A model name must be a non-empty string. Received: name={name!r}. Pass the builder's public name."
            )

        def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                other = self._entries[name].builder
                raise ValueError(
                    f"A model named '{name}' is already registered. Each name must be unique. "
                    f"Received: name={name!r} for {builder.__module__}.{builder.__qualname__}, already used by "
                    f"{other.__module__}.{other.__qualname__}. Choose another name."
                )
            self._entries[name] = ModelEntry(
                name=name,
                builder=builder,
                family=family or builder.__module__.rsplit(".", 1)[-1],
                num_params=num_params,
                num_params_source=num_params_source,
                weights=dict(weights or {}),
                keras_params=keras_params,
                torchvision_params=torchvision_params,
            )
            return builder

        return decorator

    def list(self, pattern: str | None = None) -> list[str]:
        """Sorted registered names, optionally filtered by a case-insensitive fnmatch pattern ('ResNet*')."""
        names = sorted(self._entries)
        if pattern is None:
            return names
        return [n for n in names if fnmatch.fnmatchcase(n.lower(), pattern.lower())]

    def entry(self, name: str) -> ModelEntry:
        """The ModelEntry for `name`; an unknown name raises ValueError with close matches."""
        if name in self._entries:
            return self._entries[name]
        lowered = {n.lower(): n for n in self._entries}
        if isinstance(name, str) and name.lower() in lowered:
            hint = f"Did you mean '{lowered[name.lower()]}'? (names are case-sensitive)"
        else:
            close = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.5)
            close += [lowered[c] for c in difflib.get_close_matches(str(name).lower(), list(lowered), n=3)]
            close = list(dict.fromkeys(close))[:3]
            if close:
                hint = "Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            else:
                hint = "See cnnkit.applications.list_models() for the available names."
        raise ValueError(
            f"Unknown model name. Expected one of the {len(self._entries)} registered models. "
            f"Received: name={name!r}. {hint}"
        )

    def build(self, name: str, **kwargs: Any) -> Any:
        """Builds the model registered as `name` with the builder's keyword arguments."""
        return self.entry(name).builder(**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


_DEFAULT = ModelRegistry()


def register_model(
    name: str,
    *,
    family: str = "",
    num_params: int | None = None,
    num_params_source: str = "",
    weights: Mapping[str, WeightsEntry] | None = None,
    keras_params: int | None = None,
    torchvision_params: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a model builder in cnnkit's zoo.

    Args:
        name: Public name, e.g. ``"ResNet50"``; must be unique.
        family: Family module name (``"resnet"``); defaults to the builder's module.
        num_params: Published parameter count with the default 1000-class top (tested).
        num_params_source: Where that figure comes from.
        weights: Named pretrained weight sets, e.g. ``{"imagenet": WeightsEntry(...)}``.
        keras_params: ``count_params()`` of Keras' model of the same name and arguments, where Keras has it.
        torchvision_params: torchvision's ``num_params`` for the same architecture, where torchvision has it.
    """
    return _DEFAULT.register(
        name, family=family, num_params=num_params, num_params_source=num_params_source, weights=weights,
        keras_params=keras_params, torchvision_params=torchvision_params,
    )  # fmt: skip


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered models, filtered by an optional fnmatch pattern (case-insensitive)."""
    return _DEFAULT.list(pattern)


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry (builder, weights table, published parameter count) of a model."""
    return _DEFAULT.entry(name)


def get_model(name: str, **kwargs: Any) -> Any:
    """Builds a registered model by name, e.g. ``get_model("VGG16", weights=None, classes=10)``."""
    return _DEFAULT.build(name, **kwargs)
