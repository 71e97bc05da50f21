"""Argument normalisation and Keras/TensorFlow ``same`` padding arithmetic shared by convolution and pooling."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from cnnkit import constraints
from cnnkit.ops.nn import same_padding  # noqa: F401 -- TF `same` arithmetic lives in ops; layers import it from here


def normalize_tuple(value: Any, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)``; checks that each entry is a positive integer."""
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if (
        len(values) != n
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        or any(v < (0 if allow_zero else 1) for v in values)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"The `{name}` argument must be an integer or a tuple of {n} {kind} integers. Received: {name}={value!r}."
        )
    return values


def normalize_padding(value: Any) -> str:
    padding = str(value).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"Invalid padding. Expected 'valid' or 'same'. Received: padding={value!r}.")
    return padding


def output_length(length: int | None, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    """The output length along one axis, as Keras computes it."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return (length + stride - 1) // stride
    return max(0, (length - effective) // stride + 1)


def pad_same_2d(x: Any, kernel: tuple[int, int], strides: tuple[int, int], dilation: tuple[int, int]) -> tuple:
    """(input, padding argument for torch's conv) implementing TF ``same`` on an NCHW tensor.

    Symmetric padding goes to the kernel (no copy); asymmetric padding (the extra pixel bottom/right) is a ``F.pad``.
    """
    (top, bottom), (left, right) = (same_padding(x.shape[2 + i], kernel[i], strides[i], dilation[i]) for i in (0, 1))
    if top == bottom and left == right:
        return x, (top, left)
    return F.pad(x, (left, right, top, bottom)), (0, 0)


def transpose_output_length(
    length: int | None, kernel: int, stride: int, padding: str, output_padding: int | None = None, dilation: int = 1
) -> int | None:
    """Keras' output length of a transposed convolution along one axis."""
    if length is None:
        return None
    kernel = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        return length * stride + max(kernel - stride, 0) if padding == "valid" else length * stride
    pad = kernel // 2 if padding == "same" else 0
    return (length - 1) * stride + kernel - 2 * pad + output_padding


def keras_constraint_config(layer: Any, *names: str) -> dict[str, Any]:
    """``{'kernel_constraint': ..., ...}`` in Keras' config form, from the layer's attributes of those names."""
    return {name: constraints.serialize(getattr(layer, name)) for name in names}
