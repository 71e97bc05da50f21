"""SGD with momentum and Nesterov, with Keras 3's update rule (the learning rate inside the momentum buffer)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.optimizers.optimizer import Optimizer, _check_float


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
