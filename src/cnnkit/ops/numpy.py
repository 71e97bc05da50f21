"""Keras' NumPy-style ops on torch tensors, with Keras 3's names, arguments and dtype rules.

Every op accepts tensors, NumPy arrays and Python scalars and returns a tensor. The dtype rules follow Keras on the
torch backend: float-valued ops (``exp``, ``sqrt``, ``mean``, ``divide``...) of integers give ``float32``; ``sum``
of small integers gives ``int32``; index ops (``argmax``, ``argmin``, ``argsort``) give ``int32``; a Python scalar
does not widen a tensor's dtype (``int32 tensor + 1`` stays ``int32``, ``+ 1.5`` becomes ``float32``).
"""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.ops.arrays import *  # noqa: F403 -- creation, shapes and linear algebra are ops.numpy too
from cnnkit.ops.arrays import __all__ as _ARRAY_OPS
from cnnkit.ops.core import cast, convert_to_tensor

_t = convert_to_tensor
Axis = int | tuple[int, ...] | list[int] | None


def _float(x: Any) -> torch.Tensor:
    """``x`` as a tensor, integers and bools made float32 (Keras' rule for float-valued ops)."""
    t = _t(x)
    return t if t.is_floating_point() or t.is_complex() else t.float()


def _operand(x: Any) -> Any:
    # Python scalars stay scalars: torch then treats them as "weak" types, as Keras does.
    return x if isinstance(x, (bool, int, float)) else _t(x)


def _binary(x1: Any, x2: Any) -> tuple[Any, Any]:
    a, b = _operand(x1), _operand(x2)
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        a = _t(a)
    return a, b


def _dims(axis: Axis) -> Any:
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)


def _reduce(fn: Any, x: torch.Tensor, axis: Axis, keepdims: bool) -> torch.Tensor:
    dims = _dims(axis)
    if dims is None:
        out = fn(x)
        return out.reshape([1] * x.ndim) if keepdims else out
    return fn(x, dim=dims, keepdim=keepdims)


# ----------------------------------------------------------------------------------------------- element-wise
def add(x1: Any, x2: Any) -> torch.Tensor:
    return torch.add(*_binary(x1, x2))


def subtract(x1: Any, x2: Any) -> torch.Tensor:
    return torch.subtract(*_binary(x1, x2))


def multiply(x1: Any, x2: Any) -> torch.Tensor:
    return torch.multiply(*_binary(x1, x2))


def divide(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _binary(x1, x2)
    out = torch.true_divide(a, b)
    return out


true_divide = divide


def floor_divide(x1: Any, x2: Any) -> torch.Tensor:
    return torch.floor_divide(*_binary(x1, x2))


def mod(x1: Any, x2: Any) -> torch.Tensor:
    return torch.remainder(*_binary(x1, x2))


def power(x1: Any, x2: Any) -> torch.Tensor:
    return torch.pow(*_binary(x1, x2))


def maximum(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _binary(x1, x2)
    a, b = (a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=b.dtype)), b
    b = b if isinstance(b, torch.Tensor) else torch.tensor(b, dtype=a.dtype)
    return torch.maximum(a, b)


def minimum(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _binary(x1, x2)
    a = a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=b.dtype)
    b = b if isinstance(b, torch.Tensor) else torch.tensor(b, dtype=a.dtype)
    return torch.minimum(a, b)


def negative(x: Any) -> torch.Tensor:
    return torch.negative(_t(x))


def abs(x: Any) -> torch.Tensor:  # noqa: A001 -- Keras' name
    return torch.abs(_t(x))


absolute = abs


def square(x: Any) -> torch.Tensor:
    t = _t(x)
    return torch.square(t.to(torch.int32) if t.dtype == torch.bool else t)


def sign(x: Any) -> torch.Tensor:
    return torch.sign(_t(x))


def exp(x: Any) -> torch.Tensor:
    return torch.exp(_float(x))


def expm1(x: Any) -> torch.Tensor:
    return torch.expm1(_float(x))


def log(x: Any) -> torch.Tensor:
    return torch.log(_float(x))


def log1p(x: Any) -> torch.Tensor:
    return torch.log1p(_float(x))


def log2(x: Any) -> torch.Tensor:
    return torch.log2(_float(x))


def log10(x: Any) -> torch.Tensor:
    return torch.log10(_float(x))


def sqrt(x: Any) -> torch.Tensor:
    return torch.sqrt(_float(x))


def rsqrt(x: Any) -> torch.Tensor:
    return torch.rsqrt(_float(x))


def reciprocal(x: Any) -> torch.Tensor:
    return torch.reciprocal(_float(x))


def sin(x: Any) -> torch.Tensor:
    return torch.sin(_float(x))


def cos(x: Any) -> torch.Tensor:
    return torch.cos(_float(x))


def tan(x: Any) -> torch.Tensor:
    return torch.tan(_float(x))


def tanh(x: Any) -> torch.Tensor:
    return torch.tanh(_float(x))


def arctan2(x1: Any, x2: Any) -> torch.Tensor:
    return torch.atan2(_float(x1), _float(x2))


def floor(x: Any) -> torch.Tensor:
    return torch.floor(_float(x))


def ceil(x: Any) -> torch.Tensor:
    return torch.ceil(_float(x))


def round(x: Any, decimals: int = 0) -> torch.Tensor:  # noqa: A001 -- Keras' name
    return torch.round(_t(x), decimals=decimals)


def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    t = _t(x)
    t = t.to(torch.int32) if t.dtype == torch.bool else t
    return torch.clamp(t, x_min, x_max)


def isnan(x: Any) -> torch.Tensor:
    return torch.isnan(_t(x))


def isinf(x: Any) -> torch.Tensor:
    return torch.isinf(_t(x))


def isfinite(x: Any) -> torch.Tensor:
    return torch.isfinite(_t(x))


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> torch.Tensor:
    return torch.nan_to_num(_t(x), nan=nan, posinf=posinf, neginf=neginf)


# ----------------------------------------------------------------------------------------------- comparison
def equal(x1: Any, x2: Any) -> torch.Tensor:
    return torch.eq(*_binary(x1, x2))


def not_equal(x1: Any, x2: Any) -> torch.Tensor:
    return torch.ne(*_binary(x1, x2))


def greater(x1: Any, x2: Any) -> torch.Tensor:
    return torch.gt(*_binary(x1, x2))


def greater_equal(x1: Any, x2: Any) -> torch.Tensor:
    return torch.ge(*_binary(x1, x2))


def less(x1: Any, x2: Any) -> torch.Tensor:
    return torch.lt(*_binary(x1, x2))


def less_equal(x1: Any, x2: Any) -> torch.Tensor:
    return torch.le(*_binary(x1, x2))


def logical_and(x1: Any, x2: Any) -> torch.Tensor:
    return torch.logical_and(_t(x1), _t(x2))


def logical_or(x1: Any, x2: Any) -> torch.Tensor:
    return torch.logical_or(_t(x1), _t(x2))


def logical_not(x: Any) -> torch.Tensor:
    return torch.logical_not(_t(x))


def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """``x1`` where ``condition`` else ``x2``; with one argument, the indices of the true entries (a tuple)."""
    cond = _t(condition).bool()
    if x1 is None and x2 is None:
        return torch.nonzero(cond, as_tuple=True)
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have non-None value.")
    a, b = _binary(x1, x2)
    return torch.where(cond, a, b)


# ----------------------------------------------------------------------------------------------- reductions
def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 -- Keras' name
    t = _t(x)
    if t.dtype in (torch.bool, torch.uint8, torch.int8, torch.int16):
        t = t.to(torch.int32)  # Keras sums small integers in int32
    return _reduce(torch.sum, t, axis, keepdims).to(t.dtype)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.mean, _float(x), axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:  # noqa: A001
    t = _t(x)
    out = _reduce(torch.amax, t, axis, keepdims)
    return out if initial is None else torch.clamp(out, min=initial)


def min(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:  # noqa: A001
    t = _t(x)
    out = _reduce(torch.amin, t, axis, keepdims)
    return out if initial is None else torch.clamp(out, max=initial)


amax, amin = max, min


def prod(x: Any, axis: Axis = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    t = _t(x) if dtype is None else cast(x, dtype)
    dims = _dims(axis)
    if dims is None:
        out = torch.prod(t)
        return out.reshape([1] * t.ndim) if keepdims else out
    for d in sorted([dims] if isinstance(dims, int) else [a % t.ndim for a in dims], reverse=True):
        t = torch.prod(t, dim=d, keepdim=keepdims)
    return t


def var(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    t = _float(x)
    return _reduce(lambda v, **k: torch.var(v, unbiased=False, **k), t, axis, keepdims)


def std(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return torch.sqrt(var(x, axis, keepdims))


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 -- Keras' name
    return (
        _reduce(torch.all, _t(x).bool(), axis, keepdims) if axis is None else _reduce_each(torch.all, x, axis, keepdims)
    )


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 -- Keras' name
    return (
        _reduce(torch.any, _t(x).bool(), axis, keepdims) if axis is None else _reduce_each(torch.any, x, axis, keepdims)
    )


def _reduce_each(fn: Any, x: Any, axis: Axis, keepdims: bool) -> torch.Tensor:
    t = _t(x).bool()
    dims = [axis] if isinstance(axis, int) else list(axis)  # type: ignore[arg-type]
    for d in sorted((a % t.ndim for a in dims), reverse=True):
        t = fn(t, dim=d, keepdim=keepdims)
    return t


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    return torch.argmax(_t(x), dim=axis, keepdim=keepdims).to(torch.int32)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    return torch.argmin(_t(x), dim=axis, keepdim=keepdims).to(torch.int32)


def argsort(x: Any, axis: int = -1) -> torch.Tensor:
    return torch.argsort(_t(x), dim=axis, stable=True).to(torch.int32)


def sort(x: Any, axis: int = -1) -> torch.Tensor:
    return torch.sort(_t(x), dim=axis, stable=True).values


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    t = _t(x) if dtype is None else cast(x, dtype)
    return torch.cumsum(t.flatten() if axis is None else t, dim=0 if axis is None else axis)


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    t = _t(x) if dtype is None else cast(x, dtype)
    return torch.cumprod(t.flatten() if axis is None else t, dim=0 if axis is None else axis)


def count_nonzero(x: Any, axis: Axis = None) -> torch.Tensor:
    return torch.count_nonzero(_t(x), dim=_dims(axis)).to(torch.int32)


def average(x: Any, axis: int | None = None, weights: Any = None) -> torch.Tensor:
    t = _float(x)
    if weights is None:
        return mean(t, axis)
    w = _float(weights)
    if axis is not None and w.ndim == 1:
        shape = [1] * t.ndim
        shape[axis] = -1
        w = w.reshape(shape)
    return torch.sum(t * w, dim=axis) / torch.sum(w * torch.ones_like(t), dim=axis) if axis is not None else (
        torch.sum(t * w) / torch.sum(w * torch.ones_like(t)))  # fmt: skip


# Every op defined here and in arrays.py (aliases included), for `from cnnkit.ops.numpy import *` in the package face.
__all__ = sorted(
    [*_ARRAY_OPS]
    + [
        name
        for name, value in list(globals().items())
        if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__
    ]
)
