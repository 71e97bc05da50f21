"""Keras' ``ops.nn`` on torch tensors: activations, convolutions and pooling in Keras' layouts, one_hot, moments.

Convolution ops take Keras' layouts: inputs ``channels_last`` (batch, *spatial, channels) by default and kernels
(*spatial, in, out); ``padding='same'`` is TensorFlow's (the extra pixel at the end, bottom/right).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from cnnkit.ops.core import convert_to_tensor, to_torch_dtype

_t = convert_to_tensor


def _float(x: Any) -> torch.Tensor:
    t = _t(x)
    return t if t.is_floating_point() else t.float()


# ----------------------------------------------------------------------------------------------- activations
def relu(x: Any) -> torch.Tensor:
    return F.relu(_t(x))


def relu6(x: Any) -> torch.Tensor:
    return F.relu6(_t(x))


def sigmoid(x: Any) -> torch.Tensor:
    return torch.sigmoid(_float(x))


def hard_sigmoid(x: Any) -> torch.Tensor:
    return F.hardsigmoid(_float(x))


def log_sigmoid(x: Any) -> torch.Tensor:
    return F.logsigmoid(_float(x))


def softplus(x: Any) -> torch.Tensor:
    return F.softplus(_float(x))


def softsign(x: Any) -> torch.Tensor:
    return F.softsign(_float(x))


def silu(x: Any) -> torch.Tensor:
    return F.silu(_float(x))


swish = silu


def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    """Keras' default is the tanh approximation (``approximate=True``)."""
    return F.gelu(_float(x), approximate="tanh" if approximate else "none")


def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    return F.elu(_float(x), alpha)


def selu(x: Any) -> torch.Tensor:
    return F.selu(_float(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    return F.leaky_relu(_float(x), negative_slope)


def softmax(x: Any, axis: int | tuple[int, ...] = -1) -> torch.Tensor:
    t = _float(x)
    if isinstance(axis, int):
        return F.softmax(t, dim=axis)
    return torch.exp(t - torch.logsumexp(t, dim=axis, keepdim=True))


def log_softmax(x: Any, axis: int | tuple[int, ...] = -1) -> torch.Tensor:
    t = _float(x)
    if isinstance(axis, int):
        return F.log_softmax(t, dim=axis)
    return t - torch.logsumexp(t, dim=axis, keepdim=True)


# ----------------------------------------------------------------------------------------------- encodings
def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> torch.Tensor:
    """Float32 one-hot rows; out-of-range labels (e.g. -1) give a zero row, as in Keras."""
    labels = _t(x).long()
    valid = (labels >= 0) & (labels < num_classes)
    out = F.one_hot(torch.where(valid, labels, 0), num_classes) * valid.unsqueeze(-1)
    out = out.to(to_torch_dtype(dtype or "float32"))
    return out if axis == -1 else torch.movedim(out, -1, axis)


def multi_hot(inputs: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> torch.Tensor:
    encoded = one_hot(inputs, num_classes, dtype=dtype)
    out = encoded.amax(dim=-2) if encoded.ndim > 1 else encoded
    return out if axis == -1 else torch.movedim(out, -1, axis)


def moments(x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (biased) variance over ``axes``."""
    t = _float(x)
    dims = [axes] if isinstance(axes, int) else list(axes)
    mean = t.mean(dim=dims, keepdim=True)
    variance = (t - mean).square().mean(dim=dims, keepdim=True)
    if not keepdims:
        mean, variance = mean.squeeze(dims), variance.squeeze(dims)
    return mean, variance


def batch_normalization(
    x: Any, mean: Any, variance: Any, axis: int, offset: Any = None, scale: Any = None, epsilon: float = 1e-3
) -> torch.Tensor:
    t = _float(x)
    shape = [1] * t.ndim
    shape[axis] = t.shape[axis]
    inv = torch.rsqrt(_float(variance).reshape(shape) + epsilon)
    if scale is not None:
        inv = inv * _float(scale).reshape(shape)
    out = (t - _float(mean).reshape(shape)) * inv
    return out if offset is None else out + _float(offset).reshape(shape)


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> torch.Tensor:
    t = _float(x)
    norm = torch.linalg.vector_norm(t, ord=order, dim=axis, keepdim=True)
    return t / torch.clamp(norm, min=1e-12 if epsilon is None else epsilon)


# ----------------------------------------------------------------------------------------------- losses
def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> torch.Tensor:
    y, p = _float(target), _float(output)
    if from_logits:
        return -(y * F.log_softmax(p, dim=axis)).sum(dim=axis)
    p = p / p.sum(dim=axis, keepdim=True)
    return -(y * torch.log(p.clamp(1e-7, 1 - 1e-7))).sum(dim=axis)


def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> torch.Tensor:
    p = _float(output)
    return categorical_crossentropy(one_hot(target, p.shape[axis], axis=axis), p, from_logits, axis)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> torch.Tensor:
    y, p = _float(target), _float(output)
    if from_logits:
        return F.binary_cross_entropy_with_logits(p, y, reduction="none")
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


# ----------------------------------------------------------------------------------------------- convolution
def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``same`` padding along one axis: (before, after), the extra pixel at the end."""
    effective = (kernel - 1) * dilation + 1
    out = (length + stride - 1) // stride
    total = max(0, (out - 1) * stride + effective - length)
    return total // 2, total - total // 2


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    return (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)


def _channels_first(x: torch.Tensor, data_format: str | None) -> torch.Tensor:
    return x if data_format == "channels_first" else torch.movedim(x, -1, 1)


def _restore(x: torch.Tensor, data_format: str | None) -> torch.Tensor:
    return x if data_format == "channels_first" else torch.movedim(x, 1, -1)


def _pad_same(x: torch.Tensor, kernel: tuple, strides: tuple, dilation: tuple, value: float = 0.0) -> torch.Tensor:
    pads: list[int] = []
    for i in reversed(range(len(kernel))):
        pads += list(same_padding(x.shape[2 + i], kernel[i], strides[i], dilation[i]))
    return F.pad(x, pads, value=value) if any(pads) else x


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """N-D convolution; ``kernel`` is Keras' (*spatial, in / groups, out) (groups inferred from the channels)."""
    x, k = _float(inputs), _float(kernel)
    n = k.ndim - 2
    x = _channels_first(x, data_format)
    strides, dilation = _tuple(strides, n), _tuple(dilation_rate, n)
    weight = torch.movedim(torch.movedim(k, -1, 0), -1, 1)  # (out, in, *spatial)
    groups = x.shape[1] // weight.shape[1]
    if padding.lower() == "same":
        x = _pad_same(x, tuple(weight.shape[2:]), strides, dilation)
    return _restore(_CONV[n](x, weight, None, strides, 0, dilation, groups), data_format)


def depthwise_conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """Depthwise convolution; ``kernel`` is Keras' (*spatial, in, depth_multiplier)."""
    k = _float(kernel)
    channels, multiplier = k.shape[-2], k.shape[-1]
    grouped = k.reshape(*k.shape[:-2], 1, channels * multiplier)  # channel c*dm+m from input channel c
    return conv(inputs, grouped, strides, padding, data_format, dilation_rate)


def separable_conv(
    inputs: Any,
    depthwise_kernel: Any,
    pointwise_kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format)


def conv_transpose(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    output_padding: Any = None,
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """Transposed convolution; ``kernel`` is Keras' (*spatial, out, in). Keras' output length rule."""
    x, k = _float(inputs), _float(kernel)
    n = k.ndim - 2
    x = _channels_first(x, data_format)
    strides, dilation = _tuple(strides, n), _tuple(dilation_rate, n)
    pads = (None,) * n if output_padding is None else _tuple(output_padding, n)
    weight = torch.movedim(torch.movedim(k, -1, 0), -1, 1)  # (in, out, *spatial)
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[n]
    full = fn(x, weight, None, strides, 0, 0, 1, dilation)
    index: list[Any] = [slice(None), slice(None)]
    grow: list[int] = []
    for i in range(n):
        length, size, s, d = x.shape[2 + i], weight.shape[2 + i], strides[i], dilation[i]
        eff = (size - 1) * d + 1
        if pads[i] is None:
            target = length * s + max(eff - s, 0) if padding == "valid" else length * s
        else:
            target = (length - 1) * s + eff - 2 * (eff // 2 if padding == "same" else 0) + pads[i]
        start = max((length - 1) * s + eff - target, 0) // 2 if padding == "same" else 0
        index.append(slice(start, start + target))
        grow.append(max(target - (full.shape[2 + i] - start), 0))
    out = full[tuple(index)]
    if any(grow):
        out = F.pad(out, [v for g in reversed(grow) for v in (0, g)])
    return _restore(out, data_format)


# ----------------------------------------------------------------------------------------------- pooling
def _pool(inputs: Any, pool_size: Any, strides: Any, padding: str, data_format: str | None, mode: str) -> torch.Tensor:
    x = _float(inputs)
    n = x.ndim - 2
    x = _channels_first(x, data_format)
    size = _tuple(pool_size, n)
    strides = size if strides is None else _tuple(strides, n)
    fn = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("max", 3): F.max_pool3d,
          ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d, ("avg", 3): F.avg_pool3d}[(mode, n)]  # fmt: skip
    if padding.lower() != "same":
        return _restore(fn(x, size, strides), data_format)
    if mode == "max":  # padded positions never win
        return _restore(fn(_pad_same(x, size, strides, (1,) * n, -math.inf), size, strides), data_format)
    # Average only the real pixels of each window (TensorFlow's rule).
    summed = fn(_pad_same(x, size, strides, (1,) * n), size, strides)
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    counts = fn(_pad_same(ones, size, strides, (1,) * n), size, strides)
    return _restore(summed / counts, data_format)


def max_pool(
    inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid", data_format: str | None = None
) -> torch.Tensor:
    return _pool(inputs, pool_size, strides, padding, data_format, "max")


def average_pool(
    inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid", data_format: str | None = None
) -> torch.Tensor:
    return _pool(inputs, pool_size, strides, padding, data_format, "avg")
