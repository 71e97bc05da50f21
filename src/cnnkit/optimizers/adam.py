"""Adam and AdamW with Keras 3's update rules (epsilon added after the bias corrections are folded into the step)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.optimizers.optimizer import Optimizer, _check_float


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
        if _can_fuse(params, grads, m, v, slots.get("velocity_hat")):
            # One pass over memory instead of six (torch's fused Adam kernel, the one torch.optim.Adam(fused=True)
            # runs). It applies lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) with bc = 1 - beta**step; an infinite
            # step makes both corrections exactly 1, so with lr = alpha it is Keras' m * alpha / (sqrt(v) + eps),
            # and its m and v updates are the ones below (lerp; v * beta_2 + (1 - beta_2) g^2).
            torch._fused_adam_(
                params, grads, m, v, slots.get("velocity_hat", []), [_NO_BIAS_CORRECTION] * len(params),
                lr=alpha, beta1=self.beta_1, beta2=self.beta_2, weight_decay=0.0, eps=self.epsilon,
                amsgrad=self.amsgrad, maximize=False,
            )  # fmt: skip
            return
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


_NO_BIAS_CORRECTION = torch.tensor(
    float("inf"), dtype=torch.float32
)  # the fused kernel's step count: 1 - beta**inf == 1


def _can_fuse(*groups: list[torch.Tensor] | None) -> bool:
    """The fused kernel walks each parameter and its gradient and slots as one flat array: they must be float32
    CPU tensors, dense, laid out alike (same strides)."""
    if not hasattr(torch, "_fused_adam_"):
        return False
    lists = [g for g in groups if g is not None]
    for tensors in zip(*lists, strict=True):
        first = tensors[0]
        if first.device.type != "cpu" or not (
            first.is_contiguous() or (first.dim() == 4 and first.is_contiguous(memory_format=torch.channels_last))
        ):
            return False
        for t in tensors:
            if t is None or t.dtype != torch.float32 or t.is_sparse or t.stride() != first.stride():
                return False
            if t.device != first.device or t.shape != first.shape:
                return False
    return True


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
