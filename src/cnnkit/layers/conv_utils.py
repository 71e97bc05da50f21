"""Argument normalisation and Keras/TensorFlow ``same`` padding arithmetic shared by convolution and pooling."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnkit import activations, constraints
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


# oneDNN's convolution with a fused pointwise step (one pass over the output instead of two), for the activations
# whose oneDNN post-op computes Keras' function: name -> (post-op, its scalars). Sigmoid and softmax are left out
# on purpose: they tag their output with the logits the losses read (activations.py).
_POST_OPS = {
    activations.relu: ("relu", []),
    activations.relu6: ("hardtanh", [0.0, 6.0]),
    activations.silu: ("swish", []),
    activations.hard_silu: ("hardswish", []),
    activations.hard_sigmoid: ("hardsigmoid", []),
}


def post_op(activation: Any) -> tuple[str, list[float]] | None:
    """oneDNN's post-op computing ``activation`` (an activation function), or None when there is none."""
    return _POST_OPS.get(activation)


def _fused_kernel_available() -> bool:
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    except (AttributeError, RuntimeError):
        return False


_FUSED_AVAILABLE = _fused_kernel_available()


def can_fuse(x: torch.Tensor) -> bool:
    """Whether oneDNN's fused convolution may run on ``x`` (NCHW view): CPU inference in float32, channels-last."""
    return (
        _FUSED_AVAILABLE
        and not torch.is_grad_enabled()  # no autograd formula: training takes the usual path
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and x.is_contiguous(memory_format=torch.channels_last)
        # Exporters and compilers must see the standard conv2d + activation ops.
        and not torch.jit.is_tracing()
        and not torch.onnx.is_in_onnx_export()
        and not torch.compiler.is_compiling()
    )


def fused_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: Any,
    strides: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    op: tuple[str, list[float]] | None,
    residual: torch.Tensor | None = None,
    residual_op: tuple[str, list[float]] | None = None,
) -> torch.Tensor:
    """oneDNN's ``conv2d -> op`` or ``conv2d + residual -> residual_op`` in one call (``can_fuse(x)`` must hold;
    ``residual``: NCHW, the convolution's output shape, channels-last). Bit-identical to the separate steps for
    relu, hardtanh and the sum; swish/hardswish/hardsigmoid within a few float32 ulps (oneDNN's own formulas)."""
    pad = list(padding) if isinstance(padding, (tuple, list)) else [padding, padding]
    if residual is None:
        name, scalars = op or ("none", [])
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, pad, list(strides), list(dilation), groups, name, scalars, None
        )
    name, scalars = residual_op or (None, [])
    return torch.ops.mkldnn._convolution_pointwise.binary(
        x, residual, weight, bias, pad, list(strides), list(dilation), groups, "add", None, name, scalars, None
    )
