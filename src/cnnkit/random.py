"""Keras' ``keras.random`` on torch: seeded draws are reproducible, a ``SeedGenerator`` advances.

The seeding follows Keras' torch backend exactly, so the same seed gives the same numbers as Keras on the CPU: an
integer ``seed`` always draws from a ``torch.Generator`` seeded with it; a ``SeedGenerator(seed)`` holds the state
``[seed, counter]`` and each draw uses ``seed + counter`` and then advances the counter; ``seed=None`` draws from a
global ``SeedGenerator`` created on first use.

Example:
    >>> from cnnkit import random
    >>> bool((random.normal((3,), seed=42) == random.normal((3,), seed=42)).all())
    True
    >>> gen = random.SeedGenerator(1337)
    >>> bool((random.uniform((3,), seed=gen) == random.uniform((3,), seed=gen)).all())
    False
"""

from __future__ import annotations

import random as python_random
from typing import Any

import torch
import torch.nn.functional as F

from cnnkit.common.naming import unique_name
from cnnkit.ops.core import convert_to_tensor, to_torch_dtype


class SeedGenerator:
    """A random state that advances with each draw: pass it as ``seed=`` to the functions of this module.

    Args:
        seed: The initial seed (an int); ``None`` picks one at random.
        name: An optional name (Keras' ``seed_generator``, ``seed_generator_1``...).
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name or unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = python_random.randint(1, int(1e9))
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.state = torch.tensor([_as_int32(seed), 0], dtype=torch.int32)

    def next(self, ordered: bool = True) -> torch.Tensor:
        """The current ``[seed, counter]``, then advance (Keras' rule, also for the unordered global generator)."""
        value = self.state.clone()
        if ordered:
            self.state = self.state + torch.tensor([0, 1], dtype=torch.int32)
        else:
            self.state = (self.state + 1) * 5387 % 933199
        return value

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)


_GLOBAL: list[SeedGenerator] = []


def _as_int32(seed: int) -> int:
    return (seed & 0xFFFFFFFF ^ 0x80000000) - 0x80000000


def draw_seed(seed: Any) -> torch.Tensor:
    """``[seed, counter]`` for an int, a SeedGenerator or ``None`` (the global generator)."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, int) and not isinstance(seed, bool):
        return torch.tensor([_as_int32(seed), 0], dtype=torch.int32)
    if seed is None:
        if not _GLOBAL:
            _GLOBAL.append(SeedGenerator())
        return _GLOBAL[0].next(ordered=False)
    raise ValueError(
        f"Argument `seed` must be either an integer or an instance of `SeedGenerator`. Received: seed={seed} "
        f"(of type {type(seed)})"
    )


def _generator(seed: Any) -> torch.Generator:
    first, second = (int(v) for v in draw_seed(seed))
    return torch.Generator().manual_seed((first + second) & 0xFFFFFFFF)


def _dtype(dtype: Any) -> torch.dtype:
    return to_torch_dtype(dtype or "float32")


def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Draws from N(mean, stddev²)."""
    return torch.normal(mean, stddev, size=tuple(shape), generator=_generator(seed), dtype=_dtype(dtype))


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Draws from U[minval, maxval)."""
    requested = tuple(shape)
    draw = torch.rand(size=requested or (1,), generator=_generator(seed), dtype=_dtype(dtype))
    out = (maxval - minval) * draw + minval
    return out[0] if not requested else out


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Integers in [minval, maxval)."""
    return torch.randint(
        low=minval, high=maxval, size=tuple(shape), generator=_generator(seed), dtype=to_torch_dtype(dtype)
    )


def truncated_normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> torch.Tensor:
    """Normal draws within two standard deviations (Keras' method: the first of four draws that falls inside)."""
    x = normal((*tuple(shape), 4), mean=0, stddev=1, dtype=dtype, seed=seed)
    valid = (x > -2) & (x < 2)
    indexes = valid.max(-1, keepdim=True)[1]
    return x.gather(-1, indexes).squeeze(-1) * stddev + mean


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Class indices drawn from ``softmax(logits)``, ``num_samples`` per row."""
    probs = torch.softmax(convert_to_tensor(logits), dim=-1)
    out = torch.multinomial(probs, num_samples, replacement=True, generator=_generator(seed))
    return out.to(to_torch_dtype(dtype))


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> torch.Tensor:
    """Zero a fraction ``rate`` of ``inputs`` and scale the rest by ``1 / (1 - rate)``."""
    x = convert_to_tensor(inputs)
    if rate == 1.0:
        return torch.zeros_like(x)
    if rate == 0.0:
        return x
    seeded = seed is not None and not (isinstance(seed, SeedGenerator) and seed._initial_seed is None)
    if seeded or noise_shape is not None:
        keep = 1.0 - rate
        shape = x.shape if noise_shape is None else [x.shape[i] if d is None else d for i, d in enumerate(noise_shape)]
        mask = torch.bernoulli(torch.full(tuple(shape), keep), generator=_generator(seed)).bool().to(x.device)
        return torch.where(torch.broadcast_to(mask, x.shape), x / keep, torch.zeros_like(x))
    return F.dropout(x, p=rate, training=True)


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> torch.Tensor:
    """``x`` shuffled along ``axis`` (the same permutation for every slice of the axes after it)."""
    t = convert_to_tensor(x)
    perm = torch.rand(t.shape[: axis + 1], generator=_generator(seed)).argsort(axis).to(t.device)
    for _ in range(t.ndim - axis - 1):
        perm = perm.unsqueeze(-1)
    perm = perm.repeat(*[1] * (axis + 1), *t.shape[axis + 1 :])
    return t.gather(axis, perm)


__all__ = [
    "SeedGenerator",
    "categorical",
    "dropout",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]
