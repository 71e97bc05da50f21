"""Adagrad with Keras 3's update rule (the accumulator starts at 0.1)."""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.optimizers.optimizer import Optimizer, _check_float


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
