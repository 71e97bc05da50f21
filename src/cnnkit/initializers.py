"""Weight initializers by Keras name, with Keras' fan computation (shapes are given in Keras layout)."""

from __future__ import annotations

import math
from typing import Any

import torch

# Keras scales the truncated normal so that its variance equals the requested one: the standard deviation of a
# unit normal truncated to [-2, 2] is 0.87962566103423978.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out as Keras computes them (kernel (kh, kw, in, out): receptive field times in/out)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``init(shape, dtype)`` returns a new tensor."""

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=torch.float32):
        return torch.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=torch.float32):
        return torch.ones(shape, dtype=dtype)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=torch.float32):
        return torch.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=torch.float32):
        return torch.empty(shape, dtype=dtype).normal_(self.mean, self.stddev, generator=_generator(self.seed))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=torch.float32):
        return torch.empty(shape, dtype=dtype).uniform_(self.minval, self.maxval, generator=_generator(self.seed))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=torch.float32):
        out = torch.empty(shape, dtype=dtype)
        return torch.nn.init.trunc_normal_(
            out,
            self.mean,
            self.stddev,
            self.mean - 2 * self.stddev,
            self.mean + 2 * self.stddev,
            generator=_generator(self.seed),
        )

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: the family behind glorot_*, he_* and lecun_*."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", seed: int | None = None
    ):
        if mode not in self._MODES:
            raise ValueError(f"Invalid mode. Expected one of {self._MODES}. Received: mode={mode!r}.")
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Invalid distribution. Expected one of {self._DISTRIBUTIONS}. Received: distribution={distribution!r}."
            )
        if scale <= 0:
            raise ValueError(f"scale must be positive. Received: scale={scale}.")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=torch.float32):
        fan_in, fan_out = compute_fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        gen = _generator(self.seed)
        out = torch.empty(shape, dtype=dtype)
        if self.distribution == "truncated_normal":
            std = math.sqrt(scale) / _TRUNCATED_STD
            return torch.nn.init.trunc_normal_(out, 0.0, std, -2 * std, 2 * std, generator=gen)
        if self.distribution == "untruncated_normal":
            return out.normal_(0.0, math.sqrt(scale), generator=gen)
        limit = math.sqrt(3.0 * scale)
        return out.uniform_(-limit, limit, generator=gen)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _variance(name: str, scale: float, mode: str, distribution: str) -> type[VarianceScaling]:
    def __init__(self, seed: int | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})


GlorotUniform = _variance("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance("LecunNormal", 1.0, "fan_in", "truncated_normal")

_BY_NAME: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def get(identifier: str | Initializer | dict | Any) -> Initializer:
    """Resolve an initializer from a Keras name (``'he_normal'``), a class name, a config dict or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_CLASS.get(identifier.get("class_name", "")) or _BY_NAME.get(identifier.get("class_name", ""))
        if cls is None:
            raise ValueError(f"Unknown initializer config. Received: {identifier!r}.")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _BY_CLASS.get(identifier)
        if cls is None:
            raise ValueError(
                f"Unknown initializer {identifier!r}. Expected one of: {', '.join(_BY_NAME)}. "
                f"Received: initializer={identifier!r}."
            )
        return cls()
    if callable(identifier):
        return identifier
    raise TypeError(f"An initializer must be a name, a config or an Initializer. Received: {identifier!r}.")


def serialize(init: Initializer) -> str | dict:
    """A Keras-style config for ``init`` (the plain name when it has no arguments worth keeping)."""
    config = init.get_config() if hasattr(init, "get_config") else {}
    if not any(v is not None for v in config.values()):
        for name, cls in _BY_NAME.items():
            if type(init) is cls:
                return name
    return {"class_name": type(init).__name__, "config": config}


__all__ = ["get", "serialize", "compute_fans", "Initializer", *_BY_CLASS]
