"""Adamax with Keras 3's update rule."""

from __future__ import annotations

import torch

from cnnkit.optimizers.optimizer import _BetaOptimizer, f32


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
