"""Adadelta with Keras 3's update rule."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.optimizers.optimizer import Optimizer, _check_float, f32


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as `keras.optimizers.Adadelta` (the learning rate scales the update).

    Example:
        >>> opt = Adadelta(learning_rate=1.0)
    """

    _slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.rho = _check_float("rho", rho, allow_none=False)
        self.epsilon = _check_float("epsilon", epsilon, allow_none=False)

    def _update(self, params, grads, slots, lr, step):
        acc_grad, acc_delta = slots["accumulated_grad"], slots["accumulated_delta_var"]
        torch._foreach_mul_(acc_grad, self.rho)
        torch._foreach_addcmul_(acc_grad, grads, grads, value=1.0 - self.rho)
        # step = rms(acc_delta) * g / rms(acc_grad); the variable moves by -lr * step.
        delta = torch._foreach_add(acc_delta, self.epsilon)
        torch._foreach_sqrt_(delta)
        torch._foreach_mul_(delta, grads)
        rms_grad = torch._foreach_add(acc_grad, self.epsilon)
        torch._foreach_sqrt_(rms_grad)
        torch._foreach_div_(delta, rms_grad)
        torch._foreach_mul_(acc_delta, self.rho)
        torch._foreach_addcmul_(acc_delta, delta, delta, value=1.0 - self.rho)
        torch._foreach_add_(params, delta, alpha=-float(f32(lr)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
