"""Argument normalisation and Keras/TensorFlow ``same`` padding arithmetic shared by convolution and pooling."""

from __future__ import annotations

from typing import Any


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


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``same`` padding: the total is split with the extra pixel at the end (bottom/right)."""
    effective = (kernel - 1) * dilation + 1
    out = (length + stride - 1) // stride
    total = max(0, (out - 1) * stride + effective - length)
    return total // 2, total - total // 2
