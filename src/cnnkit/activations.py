"""Activations by Keras name. Each maps a tensor to a tensor; ``get`` resolves names and callables."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def relu(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x)


def relu6(x: torch.Tensor) -> torch.Tensor:
    return F.relu6(x)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    return F.leaky_relu(x, negative_slope)


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    return F.elu(x, alpha)


def selu(x: torch.Tensor) -> torch.Tensor:
    return F.selu(x)


def gelu(x: torch.Tensor, approximate: bool = False) -> torch.Tensor:
    return F.gelu(x, approximate="tanh" if approximate else "none")


def silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x)


def mish(x: torch.Tensor) -> torch.Tensor:
    return F.mish(x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


def softplus(x: torch.Tensor) -> torch.Tensor:
    return F.softplus(x)


def softsign(x: torch.Tensor) -> torch.Tensor:
    return F.softsign(x)


def exponential(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    # Keras 3 definition: relu6(x + 3) / 6, which is torch's hardsigmoid (min(max(x + 3, 0), 6) / 6, one pass over
    # the data instead of three; Keras' torch backend calls the same op).
    return F.hardsigmoid(x)


def hard_silu(x: torch.Tensor) -> torch.Tensor:
    # Keras 3 definition (also named hard_swish): x * relu6(x + 3) / 6, torch's hardswish.
    return F.hardswish(x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    out = torch.sigmoid(x)
    # Keep the logits so that a cross-entropy loss can be computed from them without the precision lost in
    # log(sigmoid(x)) for large |x| (Keras' TensorFlow backend does the same with `_keras_logits`). The losses
    # check `_keras_activation` so that softmax logits are never taken for sigmoid ones.
    out._keras_logits, out._keras_activation = x, "sigmoid"
    return out


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    out = torch.softmax(x, dim=axis)
    if axis in (-1, x.ndim - 1):  # the losses take class scores on the last axis only
        out._keras_logits, out._keras_activation = x, "softmax"
    return out


def log_softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    return torch.log_softmax(x, dim=axis)


_ACTIVATIONS: dict[str, Activation] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "silu": silu,
    "swish": silu,
    "mish": mish,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "softplus": softplus,
    "softsign": softsign,
    "exponential": exponential,
}


def get(identifier: str | Activation | None) -> Activation:
    """Resolve an activation: a Keras name, a callable, or ``None`` (linear).

    Example:
        >>> get("relu")(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _ACTIVATIONS.get(identifier)
        if fn is None:
            raise ValueError(
                f"Unknown activation {identifier!r}. Expected one of: {', '.join(sorted(_ACTIVATIONS))}. "
                f"Received: activation={identifier!r}. Pass one of these names or a callable."
            )
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(
        f"An activation must be a name or a callable. Received: activation={identifier!r} "
        f"of type {type(identifier).__name__}. Use e.g. activation='relu'."
    )


def serialize(fn: Activation) -> str | Activation:
    """The name under which ``fn`` is registered (for configs); unregistered callables are returned as is."""
    for name, registered in _ACTIVATIONS.items():
        if registered is fn:
            return name
    return getattr(fn, "__name__", fn)


swish = silu
hard_swish = hard_silu
__all__ = ["get", "serialize", *sorted(_ACTIVATIONS)]
