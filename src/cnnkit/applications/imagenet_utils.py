"""ImageNet input preprocessing and prediction decoding, as in Keras' ``imagenet_utils``.

Example:
    >>> import numpy as np
    >>> from cnnkit.applications import resnet
    >>> images = np.full((1, 224, 224, 3), 255.0, dtype="float32")
    >>> x = resnet.preprocess_input(images)           # torchvision weights: RGB, /255, mean/std
    >>> preds = np.eye(1000, dtype="float32")[[281]]  # stands in for model.predict(x): all on class 281
    >>> resnet.decode_predictions(preds, top=1)[0]
    [('n02123045', 'tabby', 1.0)]
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import numpy as np
import torch

__all__ = ["preprocess_input", "decode_predictions", "imagenet_classes", "PREPROCESSING_MODES"]

PREPROCESSING_MODES = ("caffe", "torch", "tf")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes in output order as ``(wnid, name)``, e.g. ``('n01440764', 'tench')``.

    wnids are the sorted ILSVRC2012 synset ids; names are torchvision's human-readable ones (sources in the file).
    """
    text = resources.files("cnnkit.applications").joinpath("imagenet_classes.json").read_text(encoding="utf-8")
    classes = tuple((wnid, name) for wnid, name in json.loads(text)["classes"])
    assert len(classes) == 1000, "imagenet_classes.json must list 1000 classes"
    return classes


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """Scales a batch of RGB images with values 0..255 the way a set of pretrained weights expects.

    Args:
        x: NumPy array or torch tensor, channels-last ``(..., H, W, 3)`` (or channels-first with
            ``data_format='channels_first'``), RGB, 0..255. NumPy input is returned as float32 NumPy.
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.
        mode: ``'caffe'`` (RGB->BGR, subtract the ImageNet BGR mean; Keras' VGG/ResNet files), ``'torch'``
            (/255, subtract mean, divide by std; torchvision files) or ``'tf'`` (scale to [-1, 1]).
    """
    if mode not in PREPROCESSING_MODES:
        raise ValueError(
            f"Unknown preprocessing mode. Expected one of {PREPROCESSING_MODES}. Received: mode={mode!r}. "
            "Use the mode of the weights the model was loaded with."
        )
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"Unknown data_format. Expected 'channels_last' or 'channels_first'. Received: data_format="
            f"{data_format!r}. Pass one of the two."
        )
    is_numpy = not isinstance(x, torch.Tensor)
    t = torch.as_tensor(np.asarray(x, dtype=np.float32) if is_numpy else x).float()
    axis = -1 if data_format == "channels_last" else -3
    if t.dim() < 3 or t.shape[axis] != 3:
        raise ValueError(
            f"preprocess_input expects RGB images with 3 channels on axis {axis}. Received: x with shape "
            f"{tuple(t.shape)}. Pass images shaped (batch, height, width, 3)."
        )
    shape = [1] * t.dim()
    shape[axis] = 3
    if mode == "tf":
        out = t / 127.5 - 1.0
    elif mode == "torch":
        mean = torch.tensor(_TORCH_MEAN).reshape(shape)
        std = torch.tensor(_TORCH_STD).reshape(shape)
        out = (t / 255.0 - mean) / std
    else:
        out = t.flip(axis) - torch.tensor(_CAFFE_MEAN_BGR).reshape(shape)
    return out.numpy() if is_numpy else out


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Turns ImageNet predictions into ``[(wnid, name, score), ...]`` per sample, best first (as Keras).

    Args:
        preds: ``(samples, 1000)`` scores (NumPy or torch).
        top: How many classes to return per sample.
    """
    arr = preds.detach().cpu().numpy() if isinstance(preds, torch.Tensor) else np.asarray(preds)
    if arr.ndim != 2 or arr.shape[1] != 1000:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape (samples, 1000)). "
            f"Received: preds with shape {arr.shape}. Pass the output of a 1000-class ImageNet model."
        )
    classes = imagenet_classes()
    results = []
    for row in arr:
        order = np.argsort(-row, kind="stable")[:top]
        results.append([(classes[i][0], classes[i][1], float(row[i])) for i in order])
    return results
