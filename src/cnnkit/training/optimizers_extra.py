"""Nadam, Adamax and Adadelta with Keras 3's update rules (its PyTorch backend's `torch_*.py`) and defaults."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.training.optimizer import Optimizer, _check_float

__all__ = ["Adadelta", "Adamax", "Nadam"]

f32 = np.float32  # Keras forms the scalar factors in float32; so do we, on the host


class _BetaOptimizer(Optimizer):
    """Shared constructor of the Adam-family optimizers below."""

    _slot_names = ("momentum", "velocity")

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
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

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(_BetaOptimizer):
    """Adam with Nesterov momentum (Dozat, 2015), as `keras.optimizers.Nadam` (momentum decay 0.96).

    Example:
        >>> opt = Nadam(learning_rate=2e-3)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._u_product = f32(1.0)  # product of the momentum schedule, a float32 scalar as in Keras

    def _host_state(self) -> dict[str, Any]:
        return {"u_product": float(self._u_product)}

    def _load_host_state(self, state: dict[str, Any]) -> None:
        self._u_product = f32(state.get("u_product", 1.0))

    def _update(self, params, grads, slots, lr, step):
        m, v = slots["momentum"], slots["velocity"]
        beta_1, beta_2, decay = f32(self.beta_1), f32(self.beta_2), f32(0.96)
        u_t = beta_1 * (f32(1.0) - f32(0.5) * decay ** f32(step))
        u_t_1 = beta_1 * (f32(1.0) - f32(0.5) * decay ** f32(step + 1))
        u_product_t = self._u_product * u_t
        u_product_t_1 = u_product_t * u_t_1
        self._u_product = u_product_t
        torch._foreach_lerp_(m, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - self.beta_2)
        # m_hat = m * u_t_1 / (1 - u_product_t_1) + g * (1 - u_t) / (1 - u_product_t)
        m_hat = torch._foreach_mul(m, float(u_t_1 / (f32(1.0) - u_product_t_1)))
        torch._foreach_add_(m_hat, grads, alpha=float((f32(1.0) - u_t) / (f32(1.0) - u_product_t)))
        denom = torch._foreach_div(v, float(f32(1.0) - beta_2 ** f32(step)))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, self.epsilon)
        torch._foreach_addcdiv_(params, m_hat, denom, value=-float(f32(lr)))


class Adamax(_BetaOptimizer):
    """Adam's infinity-norm variant (Kingma & Ba, section 7), as `keras.optimizers.Adamax`.

    Example:
        >>> opt = Adamax(learning_rate=2e-3)
    """

    _slot_names = ("m", "u")

    def _update(self, params, grads, slots, lr, step):
        m, u = slots["m"], slots["u"]
        torch._foreach_lerp_(m, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(u, self.beta_2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))  # u = max(beta_2 * u, |g|)
        denom = torch._foreach_add(u, self.epsilon)
        torch._foreach_mul_(denom, float(f32(1.0) - f32(self.beta_1) ** f32(step)))
        torch._foreach_addcdiv_(params, m, denom, value=-float(f32(lr)))


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
