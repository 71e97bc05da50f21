"""The optimizer base class: Keras 3's optimizer contract on torch tensors, updated with `torch._foreach_*` ops.

An optimizer is created unbound (`Adam(1e-3)`), bound to parameters with `build(params)`, then `step()` reads each
parameter's `.grad` and applies, in Keras' order: gradient clipping (`clipnorm` per variable, `global_clipnorm`,
`clipvalue`), decoupled weight decay (`var *= 1 - weight_decay * lr`), then the subclass' update rule. The step
counter and the learning rate live on the host (a Python int and float), so a step issues device kernels only and
never waits for the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from cnnkit.common.naming import auto_name
from cnnkit.optimizers import clipping
from cnnkit.optimizers import schedules as schedules_module

__all__ = ["LearningRateValue", "Optimizer"]

# Keras arguments cnnkit accepts only at their defaults (so Keras configs load), with those defaults.
_UNSUPPORTED_DEFAULTS = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _check_float(name: str, value: Any, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"Argument `{name}` must be a float. Expected a number{' or None' if allow_none else ''}. "
            f"Received: {name}={value!r} of type {type(value).__name__}. Pass a float such as 0.01."
        )
    return float(value)


class LearningRateValue(float):
    """The learning rate as a float that also answers the Keras variable calls tutorials make on it.

    `optimizer.learning_rate.numpy()` and `optimizer.learning_rate.assign(1e-4)` work as on Keras' float32
    variable; everything else treats it as a plain float.
    """

    def __new__(cls, value: float, optimizer: Optimizer | None = None) -> LearningRateValue:
        obj = super().__new__(cls, value)
        obj._optimizer = optimizer
        return obj

    def numpy(self) -> np.float32:
        return np.float32(self)

    def assign(self, value: Any) -> None:
        if self._optimizer is None:
            raise TypeError(
                "This learning rate is a detached value. Expected `optimizer.learning_rate.assign()`. "
                "Received: assign() on a copy. Set `optimizer.learning_rate = value` instead."
            )
        self._optimizer.learning_rate = value


class Optimizer:
    """Base class of cnnkit optimizers (Keras 3 semantics).

    Subclasses declare `_slot_names` and implement `_init_slot(name, param)` and `_update(params, grads, slots, lr,
    step)`, where `slots` maps slot names to lists aligned with `params` and `step` counts from 1.

    Example:
        >>> import cnnkit
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> opt = cnnkit.optimizers.Adam(1e-3)
        >>> opt.build([w])
        >>> (w**2).sum().backward(); opt.step(); opt.zero_grad()
        >>> w.data
        tensor([0.9990, 0.9990, 0.9990])
    """

    _slot_names: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | schedules_module.LearningRateSchedule | Callable[[], float],
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("decay", None)  # Keras 2 argument, ignored by Keras 3 as well
        for key, default in _UNSUPPORTED_DEFAULTS.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise ValueError(
                    f"Argument `{key}` is not supported by cnnkit optimizers yet. Expected {key}={default!r}. "
                    f"Received: {key}={kwargs.get(key, '<other>')!r}. Remove the argument."
                )
        if kwargs:
            raise TypeError(
                f"Argument(s) not recognized by {type(self).__name__}. Expected Keras optimizer arguments. "
                f"Received: {kwargs}. Remove or rename them."
            )
        self.weight_decay = _check_float("weight_decay", weight_decay)
        self.clipnorm = _check_float("clipnorm", clipnorm)
        self.clipvalue = _check_float("clipvalue", clipvalue)
        self.global_clipnorm = _check_float("global_clipnorm", global_clipnorm)
        given = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in given.values()) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Expected at most one. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}. "
                "Keep one of them."
            )
        self.name = name or auto_name(type(self).__name__)
        self._learning_rate: Any = None
        self.learning_rate = learning_rate
        self._iterations = 0
        self._params: list[torch.Tensor] = []
        self._slots: dict[str, list[torch.Tensor]] = {}
        self._no_decay: set[int] = set()
        self.built = False

    # ----------------------------------------------------------------- learning rate and step counter
    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at `iterations`), as a float."""
        return LearningRateValue(self._current_learning_rate(), self)

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, schedules_module.LearningRateSchedule) or callable(value):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                "constructor argument, hence its learning rate is not settable. Expected a schedule. "
                f"Received: learning_rate={value!r}. Instantiate the optimizer with a float `learning_rate` "
                "to make it settable."
            )
        if isinstance(value, LearningRateValue):
            value = float(value)
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        elif hasattr(value, "item") and not isinstance(value, (int, float)):
            value = value.item()  # NumPy scalar
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                "Argument `learning_rate` should be a float, a LearningRateSchedule or a callable. "
                "Expected e.g. learning_rate=0.001. "
                f"Received: learning_rate={value!r} of type {type(value).__name__}. Pass a float."
            )
        self._learning_rate = float(value)

    @property
    def iterations(self) -> int:
        """Number of updates applied so far (Keras' `optimizer.iterations`)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)

    # ----------------------------------------------------------------- binding and state
    def build(self, params: Iterable[torch.Tensor]) -> None:
        """Binds the optimizer to `params` (trainable tensors) and creates its state (zeros unless noted)."""
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, torch.Tensor):
                raise TypeError(
                    "Optimizer.build() needs torch tensors. Expected a list of torch.nn.Parameter. "
                    f"Received: params[{i}] of type {type(p).__name__}. Pass e.g. list(model.parameters())."
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(
                "Optimizer.build() received the same parameter twice. Expected each parameter once. "
                f"Received: {len(params)} entries for {len({id(p) for p in params})} parameters. "
                "Remove the duplicates (shared layers appear once in model.trainable_weights)."
            )
        if self.built:
            if len(params) == len(self._params) and all(a is b for a, b in zip(params, self._params, strict=True)):
                return
            raise ValueError(
                f"Optimizer '{self.name}' is already built on {len(self._params)} parameters. Expected the "
                f"same parameters again. Received: {len(params)} different parameters. "
                "Create a new optimizer for a new set of parameters."
            )
        self._params = params
        with torch.no_grad():
            self._slots = {s: [self._init_slot(s, p) for p in params] for s in self._slot_names}
        self.built = True

    def _init_slot(self, slot: str, param: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(param, memory_format=torch.preserve_format)

    @property
    def variables(self) -> list[torch.Tensor]:
        """The optimizer's state tensors, slot by slot."""
        return [t for s in self._slot_names for t in self._slots.get(s, [])]

    def exclude_from_weight_decay(self, var_list: Sequence[torch.Tensor] | None = None) -> None:
        """Exempts the given parameters (e.g. biases, BatchNormalization scales) from weight decay."""
        self._no_decay = {id(v) for v in var_list or []}

    def state_dict(self) -> dict[str, Any]:
        """Returns the state as a flat dict: tensors (`"<slot>.<index>"`) and JSON-able values.

        The tensors are contiguous copies (safetensors-ready); `"iterations"`, `"learning_rate"` (None when a
        schedule or callable drives it) and `"optimizer"` (the class name) are plain Python values.
        """
        state: dict[str, Any] = {
            "optimizer": type(self).__name__,
            "iterations": self._iterations,
            "learning_rate": self._learning_rate if isinstance(self._learning_rate, float) else None,
        }
        state.update(self._host_state())
        for slot in self._slot_names:
            for i, t in enumerate(self._slots.get(slot, [])):
                state[f"{slot}.{i}"] = t.detach().clone(memory_format=torch.contiguous_format)
        return state

    def _host_state(self) -> dict[str, Any]:
        """JSON-able scalar state a subclass keeps on the host (e.g. Nadam's momentum-schedule product)."""
        return {}

    def _load_host_state(self, state: dict[str, Any]) -> None:
        pass

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()` output into a built optimizer, bit for bit."""
        if not self.built:
            raise ValueError(
                f"Optimizer '{self.name}' is not built, so it has no state to load into. Expected a built "
                "optimizer. Received: load_state_dict() before build(). Call optimizer.build(params) first."
            )
        kind = state.get("optimizer", type(self).__name__)
        if kind != type(self).__name__:
            raise ValueError(
                f"The state belongs to another optimizer. Expected state of {type(self).__name__}. "
                f"Received: optimizer={kind!r}. Load it into a {kind} optimizer."
            )
        expected = {f"{s}.{i}" for s in self._slot_names for i in range(len(self._params))}
        found = {k for k, v in state.items() if isinstance(v, torch.Tensor)}
        if expected != found:
            missing, unexpected = sorted(expected - found), sorted(found - expected)
            raise ValueError(
                "The optimizer state does not match the parameters. Expected the keys of state_dict(). "
                f"Received: missing={missing[:5]}, unexpected={unexpected[:5]}. Build the optimizer on the "
                "same parameters, in the same order, as the one that saved the state."
            )
        for slot in self._slot_names:
            for i, t in enumerate(self._slots[slot]):
                src = state[f"{slot}.{i}"]
                if tuple(src.shape) != tuple(t.shape):
                    raise ValueError(
                        f"Optimizer state '{slot}.{i}' has the wrong shape. Expected {tuple(t.shape)}. "
                        f"Received: shape={tuple(src.shape)}. Load state saved for the same model."
                    )
        with torch.no_grad():
            for slot in self._slot_names:
                for i, t in enumerate(self._slots[slot]):
                    t.copy_(state[f"{slot}.{i}"])
        self._iterations = int(state.get("iterations", 0))
        self._load_host_state(state)
        if state.get("learning_rate") is not None and not isinstance(
            self._learning_rate, schedules_module.LearningRateSchedule
        ):
            self._learning_rate = float(state["learning_rate"])

    # ----------------------------------------------------------------- the update
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of the bound parameters."""
        for p in self._params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def step(self) -> None:
        """Applies one update from the parameters' `.grad` (parameters without a gradient are left alone)."""
        if not self.built:
            raise ValueError(
                f"Optimizer '{self.name}' is not built. Expected build(params) before step(). "
                "Received: step() on an unbound optimizer. Call optimizer.build(list(model.parameters()))."
            )
        grads = [p.grad for p in self._params]
        self._apply(grads, self._params)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None) -> int:
        """Keras form: applies `(gradient, variable)` pairs (building on first use); with no argument, `.grad`."""
        if grads_and_vars is None:
            self.step()
            return self._iterations
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        return self.apply(grads, [v for _, v in pairs])

    def apply(self, grads: Sequence[torch.Tensor | None], trainable_variables: Sequence[torch.Tensor] | None = None):
        """Keras form: applies `grads` to `trainable_variables` (default: the bound parameters)."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be built. Expected "
                    "build(params) first. Received: an unbuilt optimizer. Call optimizer.build(params)."
                )
            trainable_variables = self._params
        elif not self.built:
            self.build(trainable_variables)
        self._apply(list(grads), list(trainable_variables))
        return self._iterations

    @torch.no_grad()
    def _apply(self, grads: list[torch.Tensor | None], variables: list[torch.Tensor]) -> None:
        if len(grads) != len(variables):
            raise ValueError(
                f"Got {len(grads)} gradients for {len(variables)} variables. Expected one gradient per variable. "
                f"Received: len(grads)={len(grads)}. Pass aligned lists."
            )
        full = variables is self._params and all(g is not None for g in grads)
        if full:
            params, slots = variables, self._slots
        else:
            index = {id(p): i for i, p in enumerate(self._params)}
            keep = [(index.get(id(v)), v, g) for v, g in zip(variables, grads, strict=True) if g is not None]
            unknown = [i for i, (j, _, _) in enumerate(keep) if j is None]
            if unknown:
                raise ValueError(
                    "Some variables are unknown to the optimizer. Expected the parameters it was built with. "
                    f"Received: {len(unknown)} unknown variable(s). Build a new optimizer for these parameters."
                )
            if not keep:
                raise ValueError(
                    "No gradients provided for any variable. Expected `.grad` on at least one parameter. "
                    "Received: every gradient is None. Check that the loss depends on the model's weights "
                    "and that loss.backward() ran."
                )
            params = [v for _, v, _ in keep]
            grads = [g for _, _, g in keep]
            slots = {s: [self._slots[s][j] for j, _, _ in keep] for s in self._slot_names}
        lr = self._current_learning_rate()
        grads = self._clip_gradients(grads)
        if self.weight_decay is not None:
            decayed = [p for p in params if id(p) not in self._no_decay] if self._no_decay else params
            # Keras forms 1 - wd * lr in float32 (lr is a float32 variable there).
            f32 = np.float32
            torch._foreach_mul_(decayed, float(f32(1.0) - f32(self.weight_decay) * f32(lr)))
        self._update(params, grads, slots, lr, self._iterations + 1)
        for p in params:  # Keras projects a constrained weight (kernel_constraint=MaxNorm(2)) after each update
            constraint = getattr(p, "constraint", None)
            if constraint is not None:
                p.assign(constraint(p.value.detach()))  # a cnnkit Variable: Keras' layout, in place
        self._iterations += 1

    def _clip_gradients(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        # Keras' precedence: clipnorm, then global_clipnorm, then clipvalue (only one may be set anyway).
        if self.clipnorm and self.clipnorm > 0:
            return clipping.clip_by_norm(grads, self.clipnorm)
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clipping.clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return clipping.clip_by_value(grads, self.clipvalue)
        return grads

    def _update(
        self,
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        slots: dict[str, list[torch.Tensor]],
        lr: float,
        step: int,
    ) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update().")

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able); a schedule is written as `{"class_name", "config"}`."""
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            lr = schedules_module.serialize(lr)
        elif callable(lr):
            lr = float(lr())
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, type] | None = None) -> Optimizer:
        """Rebuilds an optimizer (without state) from `get_config()` output or a Keras optimizer config."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self._learning_rate!r}>"


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
