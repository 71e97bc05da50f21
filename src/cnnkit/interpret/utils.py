"""Helpers shared by the interpretation functions and the jobs above them: input batches, layer lookup, layouts,
probabilities."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from cnnkit.interpret.hooks import leaf_modules

# torch.nn layers whose 4D tensors are channels-first; cnnkit layers are channels-last unless they say otherwise.
_TORCH_CHANNELS_FIRST = (
    torch.nn.modules.conv._ConvNd,
    torch.nn.modules.pooling._MaxPoolNd,
    torch.nn.modules.pooling._AvgPoolNd,
    torch.nn.modules.pooling._AdaptiveAvgPoolNd,
    torch.nn.modules.pooling._AdaptiveMaxPoolNd,
    torch.nn.modules.batchnorm._BatchNorm,
)


def to_batch(image: Any) -> torch.Tensor:
    """An image ``(H, W, C)`` (or a batch of one ``(1, H, W, C)``) as a float32 tensor ``(1, H, W, C)``."""
    x = image.detach() if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(
            "Expected one image of shape (height, width, channels). "
            f"Received: image.shape={tuple(x.shape)}. Pass a single image, e.g. images[0]."
        )
    return x.to(torch.float32).contiguous()


def first_output(out: Any) -> torch.Tensor:
    if isinstance(out, (list, tuple)):
        out = out[0]
    if isinstance(out, dict):
        out = next(iter(out.values()))
    return out


def channel_axis(module: torch.nn.Module) -> int:
    """The channel axis of a module's 4D output: -1 for channels-last (cnnkit), 1 for channels-first."""
    fmt = getattr(module, "data_format", None)
    if fmt == "channels_first":
        return 1
    if fmt == "channels_last":
        return -1
    return 1 if isinstance(module, _TORCH_CHANNELS_FIRST) else -1


def to_nhwc(t: torch.Tensor, module: torch.nn.Module) -> torch.Tensor:
    return t.permute(0, 2, 3, 1) if channel_axis(module) == 1 else t


def is_conv(module: torch.nn.Module) -> bool:
    """A 2D convolution: a cnnkit Conv2D-like layer (4D ``kernel``) or a torch ``Conv2d``."""
    if isinstance(module, torch.nn.Conv2d):
        return True
    k = getattr(module, "kernel", None)
    return isinstance(k, torch.Tensor) and k.ndim == 4 and "conv" in type(module).__name__.lower()


def conv_kernel(module: torch.nn.Module) -> torch.Tensor:
    """A convolution's kernel in torch layout ``(out, in, kh, kw)``."""
    if isinstance(module, torch.nn.Conv2d):
        return module.weight
    return module.kernel


def find_layer(model: torch.nn.Module, layer: Any) -> tuple[str, torch.nn.Module]:
    """Resolves ``layer`` (a name, a module, or an index into the layers) to ``(name, module)``."""
    layers = leaf_modules(model)
    if isinstance(layer, torch.nn.Module):
        for name, m in layers:
            if m is layer:
                return name, m
        for path, m in model.named_modules():
            if m is layer:
                return getattr(m, "name", None) or path, m
        raise ValueError(
            "The layer is not part of the model. Expected a layer of the model. "
            f"Received: layer={type(layer).__name__}. Pass a layer from model.layers or its name."
        )
    if isinstance(layer, int) and not isinstance(layer, bool):
        return layers[layer]
    if isinstance(layer, str):
        for name, m in layers:
            if name == layer:
                return name, m
        for path, m in model.named_modules():
            if path == layer or getattr(m, "name", None) == layer:
                return layer, m
        names = ", ".join(n for n, _ in layers)
        raise ValueError(
            f"No layer named {layer!r} in the model. Expected one of: {names}. Received: layer={layer!r}. "
            "Check the name with model.summary()."
        )
    raise TypeError(
        f"Expected a layer name, a layer or an index. Received: layer={type(layer).__name__}. "
        "Pass e.g. layer='conv2d_1'."
    )


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Runs the block with every module in eval mode, restoring each module's previous mode afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def is_distribution(out: torch.Tensor, atol: float = 1e-3) -> bool:
    """Whether ``out`` (batch, classes) already holds probabilities (softmax or sigmoid outputs)."""
    if out.ndim != 2 or out.numel() == 0:
        return False
    if bool((out < 0).any()) or bool((out > 1).any()):
        return False
    if out.shape[1] == 1:
        return True
    return bool(torch.allclose(out.sum(dim=1), torch.ones(out.shape[0], dtype=out.dtype), atol=atol))


def probabilities(out: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(batch, classes)``: the output itself if it already is one, else softmax/sigmoid.

    A single-unit output (binary classifier) becomes two columns ``[1 - p, p]``.
    """
    out = out.detach().to(torch.float32).reshape(out.shape[0], -1)
    p = out if is_distribution(out) else (torch.sigmoid(out) if out.shape[1] == 1 else torch.softmax(out, dim=1))
    if p.shape[1] == 1:
        p = torch.cat([1 - p, p], dim=1)
    return p


def labels_to_int(labels: Any) -> np.ndarray:
    """Integer class indices from int labels, one-hot/categorical rows, or binary ``(batch, 1)`` floats."""
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    y = y.reshape(-1)
    if y.dtype.kind == "f":
        y = np.rint(y)
    return y.astype(np.int64)
