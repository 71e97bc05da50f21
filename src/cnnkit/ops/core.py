"""The core of ``cnnkit.ops``: tensors from anything (NumPy, Python scalars, lists), dtypes, shapes.

Keras' conversion rules on the torch backend: a Python ``int`` (or a list of them) becomes ``int32``, a Python
``float`` becomes ``float32``, a NumPy array keeps its dtype, a tensor is returned as is (on its device).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint16": torch.uint16,
    "uint32": torch.uint32,
    "uint64": torch.uint64,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def to_torch_dtype(dtype: Any) -> torch.dtype:
    """``'float32'``, ``np.float32``, ``torch.float32``... -> ``torch.float32``."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = dtype if isinstance(dtype, str) else getattr(np.dtype(dtype), "name", str(dtype))
    if name == "float":
        name = "float32"
    if name == "int":
        name = "int32"
    if name not in _DTYPES:
        raise ValueError(f"Invalid dtype. Expected one of {sorted(_DTYPES)}. Received: dtype={dtype!r}.")
    return _DTYPES[name]


def standardize_dtype(dtype: Any) -> str:
    """The Keras name of a dtype: ``torch.float32`` -> ``'float32'``."""
    return _NAMES[to_torch_dtype(dtype)]


def convert_to_tensor(
    x: Any, dtype: Any = None, sparse: bool | None = None, ragged: bool | None = None
) -> torch.Tensor:
    """A torch tensor from ``x`` with Keras' dtype rules.

    Example:
        >>> convert_to_tensor(3).dtype, convert_to_tensor([1.5, 2.0]).dtype
        (torch.int32, torch.float32)
    """
    target = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x if target is None or x.dtype == target else x.to(target)
    if hasattr(x, "value") and isinstance(getattr(x, "value", None), torch.Tensor):  # a cnnkit/Keras variable
        return convert_to_tensor(x.value, dtype)
    if isinstance(x, bool):
        t = torch.tensor(x)
    elif isinstance(x, int):
        t = torch.tensor(x, dtype=torch.int32)
    elif isinstance(x, float):
        t = torch.tensor(x, dtype=torch.float32)
    elif isinstance(x, np.ndarray) or np.isscalar(x):
        array = np.asarray(x)
        if array.dtype == object:
            raise TypeError(f"Cannot convert an object array to a tensor. Received: x of shape {array.shape}.")
        t = torch.from_numpy(np.array(array, copy=True)) if array.ndim else torch.tensor(array.item(), dtype=_np(array))
    elif isinstance(x, (list, tuple)):
        if any(isinstance(v, torch.Tensor) for v in x):
            t = torch.stack([convert_to_tensor(v) for v in x])
        else:
            array = np.asarray(x)
            if array.dtype == np.float64:
                array = array.astype(np.float32)  # Python floats are float32 in Keras
            elif array.dtype == np.int64:
                array = array.astype(np.int32)  # Python ints are int32 in Keras
            t = torch.from_numpy(np.ascontiguousarray(array))
    else:
        raise TypeError(
            f"Cannot convert to a tensor. Expected a tensor, an array, a Python number or a list of them. "
            f"Received: x of type {type(x).__name__}."
        )
    return t if target is None else t.to(target)


def _np(array: np.ndarray) -> torch.dtype:
    return torch.from_numpy(np.zeros(1, dtype=array.dtype)).dtype


def convert_to_numpy(x: Any) -> np.ndarray:
    """A NumPy array (a copy, detached, on the CPU); bfloat16 becomes float32 (NumPy has no bfloat16)."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy().copy() if not hasattr(x, "_keras_name") else x.numpy()
    return np.asarray(x)


def cast(x: Any, dtype: Any) -> torch.Tensor:
    """``x`` converted to ``dtype``."""
    return convert_to_tensor(x).to(to_torch_dtype(dtype))


def shape(x: Any) -> tuple:
    """The static shape as a tuple of ints (``None`` for unknown axes of a symbolic tensor)."""
    if hasattr(x, "shape") and not isinstance(x, torch.Tensor):
        return tuple(x.shape)
    return tuple(int(d) for d in convert_to_tensor(x).shape)


def dtype(x: Any) -> str:
    """The Keras dtype name of ``x``."""
    return standardize_dtype(convert_to_tensor(x).dtype)


def is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def stop_gradient(x: Any) -> torch.Tensor:
    return convert_to_tensor(x).detach()


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    return true_fn() if bool(convert_to_tensor(pred)) else false_fn()


def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any], init_val: Any) -> Any:
    value = init_val
    for i in range(int(lower), int(upper)):
        value = body_fun(i, value)
    return value


def slice(inputs: Any, start_indices: Any, shape: Any) -> torch.Tensor:  # noqa: A001 -- Keras' name
    x = convert_to_tensor(inputs)
    index = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return x[index]


def scatter(indices: Any, values: Any, shape: Any) -> torch.Tensor:
    """A zeros tensor of ``shape`` with ``values`` added at ``indices`` (duplicates summed), as Keras."""
    idx = convert_to_tensor(indices).long()
    vals = convert_to_tensor(values)
    out = torch.zeros(tuple(shape), dtype=vals.dtype, device=vals.device)
    out.index_put_(tuple(idx.reshape(-1, idx.shape[-1]).T), vals.reshape(-1, *out.shape[idx.shape[-1] :]), True)
    return out
