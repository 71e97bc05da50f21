"""Keras' NumPy-style ops that make, reshape and multiply arrays (the rest of ``cnnkit.ops.numpy``).

Same rules as :mod:`cnnkit.ops.numpy`: any array-like in, a tensor out, Keras' dtypes (``arange(5)`` is int32,
``ones`` float32 by default).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from cnnkit.ops.core import convert_to_tensor, to_torch_dtype

_t = convert_to_tensor
Axis = int | tuple[int, ...] | list[int] | None


def _float(x: Any) -> torch.Tensor:
    t = _t(x)
    return t if t.is_floating_point() or t.is_complex() else t.float()


def _dims(axis: Axis) -> Any:
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)


# ----------------------------------------------------------------------------------------------- creation
def ones(shape: Any, dtype: Any = None) -> torch.Tensor:
    return torch.ones(_shape(shape), dtype=to_torch_dtype(dtype or "float32"))


def zeros(shape: Any, dtype: Any = None) -> torch.Tensor:
    return torch.zeros(_shape(shape), dtype=to_torch_dtype(dtype or "float32"))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    value = _t(fill_value)
    return torch.full(_shape(shape), value.item(), dtype=to_torch_dtype(dtype) if dtype else value.dtype)


def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    return torch.ones_like(_t(x), dtype=None if dtype is None else to_torch_dtype(dtype))


def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    return torch.zeros_like(_t(x), dtype=None if dtype is None else to_torch_dtype(dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    return torch.full_like(_t(x), float(fill_value) if dtype is None else fill_value, dtype=None if dtype is None
                           else to_torch_dtype(dtype))  # fmt: skip


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803 -- Keras' names
    out = torch.zeros((N, N if M is None else M), dtype=to_torch_dtype(dtype or "float32"))
    return out + torch.ones(out.shape, dtype=out.dtype).triu(k).tril(k)


def identity(n: int, dtype: Any = None) -> torch.Tensor:
    return eye(n, dtype=dtype)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> torch.Tensor:
    """``arange(5)`` is int32; any float argument makes it float32 (Keras' rule)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, stop, step))
        dtype = "float32" if is_float else "int32"
    return torch.arange(start, stop, step, dtype=to_torch_dtype(dtype))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None) -> torch.Tensor:
    if endpoint:
        out = torch.linspace(float(start), float(stop), num, dtype=torch.float64)
    else:
        out = torch.linspace(float(start), float(stop), num + 1, dtype=torch.float64)[:-1]
    return out.to(to_torch_dtype(dtype or "float32"))


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


# ----------------------------------------------------------------------------------------------- linear algebra
def matmul(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _t(x1), _t(x2)
    if a.dtype != b.dtype:
        common = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(common), b.to(common)
    return torch.matmul(a, b)


def dot(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _t(x1), _t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return torch.multiply(a, b)
    return matmul(a, b)


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    return torch.tensordot(_t(x1), _t(x2), dims=axes)


def einsum(subscripts: str, *operands: Any) -> torch.Tensor:
    return torch.einsum(subscripts, *[_t(o) for o in operands])


def outer(x1: Any, x2: Any) -> torch.Tensor:
    return torch.outer(_t(x1).flatten(), _t(x2).flatten())


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    return torch.diagonal(_t(x), offset, axis1, axis2).sum(-1)


def tril(x: Any, k: int = 0) -> torch.Tensor:
    return torch.tril(_t(x), k)


def triu(x: Any, k: int = 0) -> torch.Tensor:
    return torch.triu(_t(x), k)


def diag(x: Any, k: int = 0) -> torch.Tensor:
    return torch.diag(_t(x), k)


# ----------------------------------------------------------------------------------------------- shapes
def reshape(x: Any, newshape: Any) -> torch.Tensor:
    return torch.reshape(_t(x), _shape(newshape))


def transpose(x: Any, axes: Any = None) -> torch.Tensor:
    t = _t(x)
    return t.permute(tuple(range(t.ndim))[::-1] if axes is None else tuple(axes))


def expand_dims(x: Any, axis: int | tuple[int, ...]) -> torch.Tensor:
    t = _t(x)
    axes = [axis] if isinstance(axis, int) else list(axis)
    out_ndim = t.ndim + len(axes)
    for a in sorted(a % out_ndim for a in axes):
        t = t.unsqueeze(a)
    return t


def squeeze(x: Any, axis: Axis = None) -> torch.Tensor:
    t = _t(x)
    if axis is None:
        return t.squeeze()
    dims = [axis] if isinstance(axis, int) else list(axis)
    for d in dims:
        if t.shape[d] != 1:
            raise ValueError(
                f"Cannot squeeze axis {d}, because the dimension is not 1. Received: shape={tuple(t.shape)}."
            )
    return t.squeeze(tuple(dims))


def concatenate(xs: Any, axis: int = 0) -> torch.Tensor:
    tensors = [_t(x) for x in xs]
    common = tensors[0].dtype
    for t in tensors[1:]:
        common = torch.promote_types(common, t.dtype)
    return torch.cat([t.to(common) for t in tensors], dim=axis)


def stack(x: Any, axis: int = 0) -> torch.Tensor:
    tensors = [_t(v) for v in x]
    return torch.stack(tensors, dim=axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    t = _t(x)
    if isinstance(indices_or_sections, int):
        return list(torch.tensor_split(t, indices_or_sections, dim=axis))
    return list(torch.tensor_split(t, list(indices_or_sections), dim=axis))


def tile(x: Any, repeats: Any) -> torch.Tensor:
    return torch.tile(_t(x), (repeats,) if isinstance(repeats, int) else tuple(repeats))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> torch.Tensor:
    return torch.repeat_interleave(_t(x), _t(repeats) if not isinstance(repeats, int) else repeats, dim=axis)


def flip(x: Any, axis: Axis = None) -> torch.Tensor:
    t = _t(x)
    dims = tuple(range(t.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    return torch.flip(t, dims)


def roll(x: Any, shift: Any, axis: Axis = None) -> torch.Tensor:
    return torch.roll(_t(x), shift, dims=_dims(axis))


def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    return torch.swapaxes(_t(x), axis1, axis2)


def moveaxis(x: Any, source: Any, destination: Any) -> torch.Tensor:
    return torch.movedim(_t(x), source, destination)


def broadcast_to(x: Any, shape: Any) -> torch.Tensor:
    return torch.broadcast_to(_t(x), _shape(shape))


def ravel(x: Any) -> torch.Tensor:
    return torch.ravel(_t(x))


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> torch.Tensor:
    t = _t(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (t.ndim, 2))
    flat = [int(v) for pair in widths[::-1] for v in pair]
    if mode == "constant":
        return torch.nn.functional.pad(t, flat, value=0 if constant_values is None else constant_values)
    return torch.nn.functional.pad(t[None, None] if t.ndim < 3 else t, flat, mode=mode)


def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    t, idx = _t(x), _t(indices).long()
    if axis is None:
        return t.flatten()[idx]
    idx = torch.where(idx < 0, idx + t.shape[axis], idx)
    return torch.index_select(t, axis, idx.flatten()).reshape(
        *t.shape[: axis % t.ndim], *idx.shape, *t.shape[axis % t.ndim + 1 :]
    )


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    t, idx = _t(x), _t(indices).long()
    if axis is None:
        return t.flatten()[idx.flatten()]
    return torch.take_along_dim(t, idx, dim=axis)


def meshgrid(*x: Any, indexing: str = "xy") -> list[torch.Tensor]:
    return list(torch.meshgrid(*[_t(v) for v in x], indexing=indexing))


def size(x: Any) -> int:
    return int(math.prod(_t(x).shape))


def ndim(x: Any) -> int:
    return _t(x).ndim


def vectorize(pyfunc: Any) -> Any:
    return torch.vmap(pyfunc)


def unique_count(x: Any) -> int:
    return int(torch.unique(_t(x)).numel())


def top_k(x: Any, k: int, sorted: bool = True) -> Any:  # noqa: A002 -- Keras' name
    """The ``k`` largest values along the last axis and their indices: ``values, indices = top_k(x, 3)``."""
    return torch.topk(_t(x), k, dim=-1, largest=True, sorted=sorted)


def norm(x: Any, ord: Any = None, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A002
    return torch.linalg.norm(_float(x), ord=ord, dim=_dims(axis), keepdim=keepdims)


# Every op defined above (aliases included), for `from cnnkit.ops.numpy import *` in the package face.
__all__ = sorted(
    name
    for name, value in list(globals().items())
    if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__
)
