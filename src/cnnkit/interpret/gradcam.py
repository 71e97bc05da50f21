"""Grad-CAM (Selvaraju et al., 2017): where in the image a convolutional network looks to score a class.

The class score is differentiated with respect to the activations ``A`` of a convolutional layer; each channel is
weighted by the mean of its gradient over space, and the heat map is ``relu(sum_k w_k * A_k)``, upsampled to the
image size and scaled to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.interpret.hooks import Hooks, leaf_modules
from cnnkit.interpret.utils import (
    eval_mode,
    find_layer,
    first_output,
    is_conv,
    is_distribution,
    to_batch,
    to_nhwc,
)

__all__ = ["grad_cam", "default_cam_layer"]


def _forward_with_outputs(model: torch.nn.Module, x: torch.Tensor, modules: list[torch.nn.Module]) -> tuple:
    order: list[int] = []

    def keep(m: torch.nn.Module, inputs: Any, out: Any) -> Any:
        order.append(id(m))
        return out

    with Hooks(modules, keep) as hooks:
        out = first_output(model(x))
    return out, {id(h.module): h.stored for h in hooks}, order


def default_cam_layer(model: torch.nn.Module, image: Any) -> tuple[str, torch.nn.Module]:
    """The layer Grad-CAM uses by default: the last layer whose output is 4D with the spatial size of the last
    convolution's output (the convolution itself, or the activation/normalisation/addition right after it).
    """
    layers = leaf_modules(model)
    modules = [m for _, m in layers]
    with torch.no_grad(), eval_mode(model):
        _, outputs, order = _forward_with_outputs(model, to_batch(image), modules)
    by_id = {id(m): (n, m) for n, m in layers}
    run = [by_id[i] for i in order if i in by_id]
    fourd = [(n, m) for n, m in run if isinstance(outputs.get(id(m)), torch.Tensor) and outputs[id(m)].ndim == 4]
    if not fourd:
        raise ValueError(
            "Grad-CAM needs a layer with a 4D output (a convolution). Expected a convolutional model. "
            f"Received: a model whose layers are {[n for n, _ in layers]}. Pass layer=... explicitly."
        )
    convs = [(n, m) for n, m in fourd if is_conv(m)]
    if not convs:
        return fourd[-1]

    def hw(m: torch.nn.Module) -> tuple:
        return tuple(to_nhwc(outputs[id(m)], m).shape[1:3])

    last_conv = convs[-1]
    size = hw(last_conv[1])
    idx = fourd.index(last_conv)
    chosen = last_conv
    for n, m in fourd[idx + 1 :]:
        if hw(m) == size:
            chosen = (n, m)
    return chosen


def _class_score(out: torch.Tensor, class_index: int | None) -> tuple[torch.Tensor, int]:
    """The scalar to differentiate: the class logit, as in the paper. A cnnkit softmax/sigmoid output keeps its
    logits (``_keras_logits``), which are used when present; other probabilities are turned into log-probabilities
    (a saturated softmax would give no gradient at all); logits are used as they are."""
    logits = getattr(out, "_keras_logits", None)
    if isinstance(logits, torch.Tensor) and logits.shape == out.shape:
        out, probs = logits.reshape(logits.shape[0], -1)[0], False
    else:
        out = out.reshape(out.shape[0], -1)[0]
        probs = is_distribution(out[None])
    if out.numel() == 1:  # binary classifier with one unit: class 1 is the unit, class 0 its complement
        p = out[0]
        if class_index is None:
            class_index = int((p > 0.5) if probs else (p > 0))
        if class_index not in (0, 1):
            raise ValueError(
                "class_index is out of range for a binary (one-unit) classifier. Expected 0 or 1. "
                f"Received: class_index={class_index}. Pass 0 or 1."
            )
        if probs:
            p = p.clamp(1e-7, 1 - 1e-7)
            return (torch.log(p) if class_index == 1 else torch.log1p(-p)), class_index
        return (p if class_index == 1 else -p), class_index
    if class_index is None:
        class_index = int(out.argmax())
    if not 0 <= class_index < out.numel():
        raise ValueError(
            f"class_index is out of range. Expected 0 <= class_index < {out.numel()}. "
            f"Received: class_index={class_index}. Pass the index of one of the model's classes."
        )
    score = out[class_index]
    return (torch.log(score.clamp_min(1e-12)) if probs else score), class_index


def grad_cam(
    model: torch.nn.Module,
    image: Any,
    class_index: int | None = None,
    layer: Any = None,
    return_class: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """Grad-CAM heat map of ``model`` for one image.

    Args:
        model: a cnnkit model (Sequential, functional or nested) or a torch module taking channels-last images.
        image: one image ``(height, width, channels)`` as the model expects it (same scale as in training).
        class_index: the class to explain; defaults to the predicted class.
        layer: the layer (name, layer object or index) whose activations are used; defaults to
            :func:`default_cam_layer` (the last convolution, or what follows it at the same resolution).
        return_class: also return the class index that was explained.

    Returns:
        A float32 array ``(height, width)`` in [0, 1] (upsampled to the image size), and the class index if
        ``return_class``.

    Example:
        >>> heat = cnnkit.interpret.grad_cam(model, x_val[0])
        >>> heat.shape, float(heat.max())
        ((64, 64), 1.0)
    """
    x = to_batch(image)
    name, target = default_cam_layer(model, x) if layer is None else find_layer(model, layer)
    # The input requires grad so that activations stay in the graph even when the layers are frozen.
    x = x.clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad(), Hooks([target]) as hooks:
        out = first_output(model(x))
        acts = hooks[0].stored
        if not isinstance(acts, torch.Tensor) or acts.ndim != 4:
            shape = None if not isinstance(acts, torch.Tensor) else tuple(acts.shape)
            raise ValueError(
                "Grad-CAM needs a layer with a 4D output (batch, height, width, channels). "
                f"Received: layer={name!r} with output shape {shape}. Pass a convolutional layer."
            )
        score, class_index = _class_score(out, class_index)
        (grads,) = torch.autograd.grad(score, acts, allow_unused=True)
    if grads is None:
        grads = torch.zeros_like(acts)
    a = to_nhwc(acts.detach(), target)[0].to(torch.float32)  # (h, w, c)
    g = to_nhwc(grads.detach(), target)[0].to(torch.float32)
    weights = g.mean(dim=(0, 1))  # (c,)
    cam = torch.relu((a * weights).sum(dim=-1))  # (h, w)
    height, width = x.shape[1], x.shape[2]
    cam = torch.nn.functional.interpolate(cam[None, None], size=(height, width), mode="bilinear", align_corners=False)
    cam = cam[0, 0].clamp_min(0)
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else torch.zeros_like(cam)
    heat = cam.numpy().astype(np.float32)
    return (heat, class_index) if return_class else heat
