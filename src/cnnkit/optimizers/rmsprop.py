"""RMSprop with Keras 3's update rule (epsilon inside the square root)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.optimizers.optimizer import Optimizer, _check_float


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
