"""Layout converters between torchvision / Keras weights and cnnkit layers, and checked copying into a model.

cnnkit keeps weights in torch layouts inside (``Conv2D.kernel`` is ``(out, in, kh, kw)``) but follows Keras for
``Dense.kernel`` ``(in, out)`` and for ``Flatten`` order ``(H, W, C)``. The functions here are pure: arrays in,
arrays out, each with the reason for its transformation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from cnnkit.saving.weights import assign_weights

__all__ = [
    "torchvision_to_cnnkit",
    "tv_module_to_layer",
    "linear_chw_to_hwc",
    "keras_layer_arrays",
    "fold_bias_into_batchnorm",
    "assign_weights",
]

_BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def tv_module_to_layer(module_path: str) -> str:
    """torchvision module path -> cnnkit layer name: ``layer1.0.conv1`` -> ``layer1_0_conv1``.

    Dots separate the model name from the weight name in cnnkit state-dict keys, so layer names use '_'.
    """
    return module_path.replace(".", "_")


def linear_chw_to_hwc(weight: torch.Tensor, chw: tuple[int, int, int]) -> torch.Tensor:
    """The first Linear after a flatten: torchvision flattens NCHW maps in (C, H, W) order, cnnkit's Flatten
    (as Keras') in (H, W, C) order, so the input columns are permuted; then (out, in) -> Dense's (in, out)."""
    c, h, w = chw
    out_features = weight.shape[0]
    if weight.shape[1] != c * h * w:
        raise ValueError(
            f"The Linear weight does not match the flattened feature map. Expected {c}*{h}*{w}={c * h * w} input "
            f"features. Received: weight with shape {tuple(weight.shape)}. Build the model at the input size the "
            "weights were trained at (224x224)."
        )
    return weight.reshape(out_features, c, h, w).permute(0, 2, 3, 1).reshape(out_features, -1).t().contiguous()


def torchvision_to_cnnkit(
    state: Mapping[str, torch.Tensor],
    special: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """Maps a torchvision state dict onto cnnkit keys and layouts.

    - Conv weights ``(out, in, kh, kw)`` already equal cnnkit's internal ``Conv2D.kernel`` layout: copied as is.
    - Linear weights ``(out, in)`` are transposed to ``Dense.kernel`` ``(in, out)``.
    - BatchNorm ``weight/bias/running_mean/running_var`` become ``gamma/beta/moving_mean/moving_variance``;
      ``num_batches_tracked`` is dropped (only used by torch for momentum=None). The zoo builds its BN layers with
      torchvision's epsilon 1e-5, so the same numbers come out.
    - `special` maps a full torchvision key to a custom transform (e.g. the first Linear after a flatten).
    """
    special = dict(special or {})
    bn_modules = {k.rsplit(".", 1)[0] for k in state if k.endswith(".running_mean")}
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        module, param = key.rsplit(".", 1)
        layer = tv_module_to_layer(module)
        if param == "num_batches_tracked":
            continue
        if module in bn_modules:
            out[f"{layer}.{_BN_NAMES.get(param, param)}"] = value
        elif key in special:
            out[f"{layer}.kernel"] = special[key](value)
        elif param == "weight" and value.dim() == 2:
            out[f"{layer}.kernel"] = value.t().contiguous()
        elif param == "weight":
            out[f"{layer}.kernel"] = value
        else:
            out[f"{layer}.{param}"] = value
    return out


def keras_layer_arrays(kind: str, arrays: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """One Keras layer's variables -> cnnkit weight names and layouts.

    Keras stores conv kernels as (kh, kw, in, out); cnnkit keeps torch's (out, in, kh, kw) inside, so they are
    permuted. Dense kernels are (in, out) in both. BatchNormalization is [gamma, beta, moving_mean, moving_variance].
    """
    t = [torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in arrays]
    if kind == "conv":
        named = {"kernel": t[0].permute(3, 2, 0, 1).contiguous()}
        if len(t) > 1:
            named["bias"] = t[1]
        return named
    if kind == "dense":
        return {"kernel": t[0], "bias": t[1]} if len(t) > 1 else {"kernel": t[0]}
    if kind == "bn":
        return dict(zip(("gamma", "beta", "moving_mean", "moving_variance"), t, strict=True))
    raise ValueError(f"Unknown Keras layer kind. Expected 'conv', 'dense' or 'bn'. Received: kind={kind!r}.")


def fold_bias_into_batchnorm(conv_bias: torch.Tensor, moving_mean: torch.Tensor) -> torch.Tensor:
    """A conv bias b followed by BatchNorm: BN(z + b) normalises (z + b - mean), which equals z - (mean - b).

    So a bias-free conv with moving_mean' = mean - b gives identical outputs in inference; in training the batch
    mean absorbs b exactly as well. This is how Keras' ResNet50 (biased convs) loads into bias-free convs, exactly.
    """
    return moving_mean - conv_bias
