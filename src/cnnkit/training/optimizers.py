"""SGD, Adam, AdamW, RMSprop and Adagrad with Keras 3's update rules and defaults, plus `get()`.

The rules are those of Keras 3's PyTorch backend (`keras/src/backend/torch/optimizers/torch_*.py`), which differ
from `torch.optim` in places that change the numbers:

- Adam adds `epsilon` to `sqrt(v)` *after* folding both bias corrections into the step size
  (`alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`); torch adds it to `sqrt(v / (1 - beta_2**t))`.
- SGD keeps `m = momentum * m - lr * g` (the learning rate inside the buffer); Nesterov then adds
  `momentum * m - lr * g`.
- RMSprop adds `epsilon` inside the square root; Adagrad starts its accumulator at 0.1.
- Weight decay is decoupled for every optimizer (`var *= 1 - weight_decay * lr`, see `Optimizer`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.training.optimizer import Optimizer, _check_float
from cnnkit.training.optimizers_extra import Adadelta, Adamax, Nadam

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer", "RMSprop", "get"]


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as `keras.optimizers.SGD`.

    Example:
        >>> opt = SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    """

    def __init__(
        self,
        learning_rate: Any = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        momentum = _check_float("momentum", momentum, allow_none=False)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(
                "Argument `momentum` must be in the range [0, 1]. Expected e.g. momentum=0.9. "
                f"Received: momentum={momentum}. Pass a value between 0 and 1."
            )
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self._slot_names = ("momentum",) if momentum != 0 else ()

    def _update(self, params, grads, slots, lr, step):
        if self.momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        bufs = slots["momentum"]
        torch._foreach_mul_(bufs, self.momentum)
        torch._foreach_add_(bufs, grads, alpha=-lr)  # m = momentum * m - lr * g
        if self.nesterov:
            torch._foreach_add_(params, grads, alpha=-lr)
            torch._foreach_add_(params, bufs, alpha=self.momentum)
        else:
            torch._foreach_add_(params, bufs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014) in Keras' form, with optional AMSGrad.

    Example:
        >>> opt = Adam(learning_rate=1e-3, amsgrad=True)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1 = _check_float("beta_1", beta_1, allow_none=False)
        self.beta_2 = _check_float("beta_2", beta_2, allow_none=False)
        self.epsilon = _check_float("epsilon", epsilon, allow_none=False)
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("momentum", "velocity", "velocity_hat") if amsgrad else ("momentum", "velocity")

    def _update(self, params, grads, slots, lr, step):
        m, v = slots["momentum"], slots["velocity"]
        # Keras forms the bias corrections in float32; `1 - beta_2**t` loses ~1e-5 relative there (float32(0.999)
        # is off by 1.3e-8), which shows at large learning rates, so compute them the same way.
        f32 = np.float32
        alpha = float(
            f32(lr) * np.sqrt(f32(1) - f32(self.beta_2) ** f32(step)) / (f32(1) - f32(self.beta_1) ** f32(step))
        )
        torch._foreach_lerp_(m, grads, 1.0 - self.beta_1)  # m += (g - m) * (1 - beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - self.beta_2)
        if self.amsgrad:
            torch._foreach_maximum_(slots["velocity_hat"], v)
            v = slots["velocity_hat"]
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, self.epsilon)
        torch._foreach_addcdiv_(params, m, denom, value=-alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), Keras' default `weight_decay=0.004`.

    Example:
        >>> opt = AdamW(learning_rate=1e-3, weight_decay=0.01)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Expected e.g. weight_decay=0.004. "
                "Received: weight_decay=None. Pass a float, or use Adam for no weight decay."
            )
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue, global_clipnorm,
            name, **kwargs,
        )  # fmt: skip


class RMSprop(Optimizer):
    """RMSprop as `keras.optimizers.RMSprop` (optionally centered, with momentum).

    Example:
        >>> opt = RMSprop(learning_rate=1e-3, centered=True)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.rho = _check_float("rho", rho, allow_none=False)
        self.momentum = _check_float("momentum", momentum, allow_none=False)
        self.epsilon = _check_float("epsilon", epsilon, allow_none=False)
        self.centered = bool(centered)
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        self._slot_names = tuple(names)

    def _update(self, params, grads, slots, lr, step):
        v = slots["velocity"]
        torch._foreach_mul_(v, self.rho)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - self.rho)
        denom = torch._foreach_add(v, self.epsilon)
        if self.centered:
            avg = slots["average_gradient"]
            torch._foreach_lerp_(avg, grads, 1.0 - self.rho)  # avg = rho * avg + (1 - rho) * g
            torch._foreach_addcmul_(denom, avg, avg, value=-1.0)
        torch._foreach_sqrt_(denom)
        if self.momentum > 0:
            mom = slots["momentum"]
            torch._foreach_mul_(mom, self.momentum)
            torch._foreach_addcdiv_(mom, grads, denom, value=lr)
            torch._foreach_sub_(params, mom)
        else:
            torch._foreach_addcdiv_(params, grads, denom, value=-lr)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad as `keras.optimizers.Adagrad` (accumulators start at `initial_accumulator_value`).

    Example:
        >>> opt = Adagrad(learning_rate=0.01)
    """

    _slot_names = ("accumulator",)

    def __init__(
        self,
        learning_rate: Any = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.initial_accumulator_value = _check_float(
            "initial_accumulator_value", initial_accumulator_value, allow_none=False
        )
        self.epsilon = _check_float("epsilon", epsilon, allow_none=False)

    def _init_slot(self, slot: str, param: torch.Tensor) -> torch.Tensor:
        return torch.full_like(param, self.initial_accumulator_value, memory_format=torch.preserve_format)

    def _update(self, params, grads, slots, lr, step):
        acc = slots["accumulator"]
        torch._foreach_addcmul_(acc, grads, grads)
        denom = torch._foreach_add(acc, self.epsilon)
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


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
    raise error(
        f"Could not interpret optimizer identifier. Expected one of {names}, an Optimizer instance or a "
        f"config dict {{'class_name': ..., 'config': ...}}. Received: optimizer={identifier!r}. "
        "Check the spelling or pass an optimizer object such as cnnkit.optimizers.Adam(learning_rate=1e-3)."
    )
