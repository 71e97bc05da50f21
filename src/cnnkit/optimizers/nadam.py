"""Nadam with Keras 3's update rule (its PyTorch backend's `torch_nadam.py`)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.optimizers.optimizer import _BetaOptimizer, f32


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
