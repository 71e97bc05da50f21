"""Image preprocessing and augmentation layers with Keras 3's names, arguments and defaults.

Random layers act only when ``training=True`` (identity otherwise) and draw per-image parameters from a
``torch.Generator``: their own (seeded) one, torch's global one when ``seed=None``, or, inside a dataset pipeline
(``image_dataset_from_directory(augment=...)`` or ``dataset.map``), one derived from (seed, epoch, batch), so
pipeline augmentation is reproducible and resumable. ``Resizing``, ``CenterCrop`` (and ``Normalization`` in
``preprocessing_normalization.py``) always act. Inputs are (batch, H, W, C) or a single (H, W, C) image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.data import augment as A
from cnnkit.data.seeding import scoped_generator
from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer


def _check_data_format(data_format: str | None) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "cnnkit preprocessing layers are channels-last. Expected data_format=None or 'channels_last'. "
            f"Received: data_format={data_format!r}. Drop the argument."
        )


def _range(factor: Any, name: str, bounds: tuple[float, float], layer: str) -> tuple[float, float]:
    """Keras' factor rule: a number f means (-f, f) (clipped to bounds), a pair means (lower, upper)."""
    lo, hi = bounds
    if isinstance(factor, (int, float)) and not isinstance(factor, bool) and abs(factor) <= max(abs(lo), abs(hi)):
        return max(-abs(float(factor)), lo), min(abs(float(factor)), hi)
    if (
        isinstance(factor, (list, tuple))
        and len(factor) == 2
        and all(isinstance(v, (int, float)) and lo <= v <= hi for v in factor)
    ):
        lower, upper = sorted(float(v) for v in factor)
        return lower, upper
    raise ValueError(
        f"{layer} {name} is invalid. Expected a number or a (lower, upper) pair within [{lo}, {hi}]. "
        f"Received: {name}={factor!r}. Pass e.g. {name}=0.2."
    )


def _check_choice(value: str, choices: tuple[str, ...], name: str, layer: str) -> str:
    if value not in choices:
        raise ValueError(
            f"{layer} got an unknown {name}. Expected one of {list(choices)}. Received: {name}={value!r}. "
            "Pick one of those."
        )
    return value


class _ImageLayer(Layer):
    """Shared plumbing: unbatched inputs, float casting, the random generator."""

    def __init__(self, seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        _check_data_format(data_format)
        super().__init__(**kwargs)
        self.seed = seed
        self._generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    def _rng(self) -> torch.Generator | None:
        scoped = scoped_generator(self.seed)
        return scoped if scoped is not None else self._generator

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        x = inputs if inputs.is_floating_point() else inputs.float()
        if x.ndim == 3:
            return self.transform(x[None], bool(training))[0]
        return self.transform(x, bool(training))

    def transform(self, images: torch.Tensor, training: bool) -> torch.Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


def _fusable(layer: _ImageLayer, base: type) -> bool:
    """The pipeline may run ``layer`` through its draw: it acts as ``base`` does and nothing hooks its call."""
    cls = type(layer)
    return (
        cls.transform is base.transform
        and cls.call is _ImageLayer.call
        and cls.forward is Layer.forward
        and cls.__call__ is Layer.__call__
        and not (layer._forward_hooks or layer._forward_pre_hooks)
    )


@register_layer
class RandomFlip(_ImageLayer):
    """Flip images left-right and/or up-down at random (``mode``: "horizontal", "vertical",
    "horizontal_and_vertical")."""

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.mode = _check_choice(mode, ("horizontal", "vertical", "horizontal_and_vertical"), "mode", "RandomFlip")

    def transform(self, images, training):
        return A.random_flip(images, self.mode, self._rng()) if training else images

    def draw_geometry(self, batch: int, height: int, width: int) -> tuple | None:
        """This batch's flips for the pipeline's fused geometry (None if a subclass changed how it acts)."""
        if not _fusable(self, RandomFlip):
            return None
        return ("flip", A.flip_masks(batch, self.mode, self._rng()))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(_ImageLayer):
    def __init__(self, fill_mode: str, interpolation: str, seed: int | None, fill_value: float, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        name = type(self).__name__
        self.fill_mode = _check_choice(fill_mode, A.FILL_MODES, "fill_mode", name)
        self.interpolation = _check_choice(interpolation, A.AFFINE_INTERPOLATIONS, "interpolation", name)
        self.fill_value = float(fill_value)

    def transforms(self, batch: int, height: int, width: int, gen: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def transform(self, images, training):
        if not training:
            return images
        t = self.transforms(images.shape[0], images.shape[1], images.shape[2], self._rng())
        return A.affine_sample(images, t, self.interpolation, self.fill_mode, self.fill_value)

    def draw_geometry(self, batch: int, height: int, width: int) -> tuple | None:
        """This batch's transforms for the pipeline's fused geometry (None if a subclass changed how it acts)."""
        if not _fusable(self, _AffineLayer):
            return None
        t = self.transforms(batch, height, width, self._rng())
        return ("affine", t, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        base = super().get_config()
        return {**base, "fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value}


@register_layer
class RandomRotation(_AffineLayer):
    """Rotate by a random angle of ``factor`` x 360 degrees (a number f: [-f, f]); positive is counter-clockwise."""

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = _range(factor, "factor", (-1.0, 1.0), "RandomRotation")

    def transforms(self, batch, height, width, gen):
        angles = A.uniform((batch,), self.factor[0] * 360.0, self.factor[1] * 360.0, gen)
        return A.rotation_transforms(angles, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


@register_layer
class RandomZoom(_AffineLayer):
    """Zoom by a random amount: ``height_factor`` 0.2 means [-20%, +20%] (positive zooms out, negative in).
    ``width_factor=None`` keeps the aspect ratio (the width zoom equals the height zoom)."""

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _range(height_factor, "height_factor", (-1.0, 1.0), "RandomZoom")
        self.width_factor = None if width_factor is None else _range(width_factor, "width_factor", (-1.0, 1.0),
                                                                       "RandomZoom")  # fmt: skip

    def transforms(self, batch, height, width, gen):
        hz = A.uniform((batch,), 1.0 + self.height_factor[0], 1.0 + self.height_factor[1], gen)
        wz = hz if self.width_factor is None else A.uniform((batch,), 1 + self.width_factor[0],
                                                            1 + self.width_factor[1], gen)  # fmt: skip
        return A.zoom_transforms(hz, wz, height, width)

    def get_config(self):
        wf = None if self.width_factor is None else list(self.width_factor)
        return {**super().get_config(), "height_factor": list(self.height_factor), "width_factor": wf}


@register_layer
class RandomTranslation(_AffineLayer):
    """Shift by a random fraction of the height/width (0.1 means [-10%, +10%]; positive moves down / right)."""

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _range(height_factor, "height_factor", (-1.0, 1.0), "RandomTranslation")
        self.width_factor = _range(width_factor, "width_factor", (-1.0, 1.0), "RandomTranslation")

    def transforms(self, batch, height, width, gen):
        dy = A.uniform((batch,), self.height_factor[0], self.height_factor[1], gen) * height
        dx = A.uniform((batch,), self.width_factor[0], self.width_factor[1], gen) * width
        return A.translation_transforms(dx, dy)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": list(self.width_factor)}  # fmt: skip


@register_layer
class RandomContrast(_ImageLayer):
    """Scale each image's deviation from its per-channel mean by a random factor in [1 - lower, 1 + upper]
    (a number f means lower = upper = f, as Keras documents), then clip to ``value_range``."""

    def __init__(self, factor: Any, value_range: tuple[float, float] = (0, 255), seed: int | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(seed=seed, **kwargs)
        pair = [factor, factor] if isinstance(factor, (int, float)) else factor  # a number: lower = upper
        self.factor = _range(pair, "factor", (0.0, 1.0), "RandomContrast")
        self.value_range = tuple(float(v) for v in value_range)

    def transform(self, images, training):
        if not training:
            return images
        factors = A.uniform((images.shape[0],), 1.0 - self.factor[0], 1.0 + self.factor[1], self._rng())
        return A.adjust_contrast(images, factors, self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


@register_layer
class RandomBrightness(_ImageLayer):
    """Add a random ``factor`` x (value_range span) to each image (0.2 means [-20%, +20%]), then clip."""

    def __init__(self, factor: Any, value_range: tuple[float, float] = (0, 255), seed: int | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(seed=seed, **kwargs)
        self.factor = _range(factor, "factor", (-1.0, 1.0), "RandomBrightness")
        self.value_range = tuple(float(v) for v in value_range)

    def transform(self, images, training):
        if not training:
            return images
        deltas = A.uniform((images.shape[0],), self.factor[0], self.factor[1], self._rng())
        return A.adjust_brightness(images, deltas * (self.value_range[1] - self.value_range[0]), self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


@register_layer
class RandomCrop(_ImageLayer):
    """Training: a random (height, width) window per image. Inference: the central window with the target's aspect
    ratio, resized to (height, width) (Keras' documented behaviour)."""

    def __init__(self, height: int, width: int, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.height, self.width = int(height), int(width)

    def transform(self, images, training):
        if training:
            return A.random_crop(images, self.height, self.width, self._rng())
        return A.resize(images, (self.height, self.width), crop_to_aspect_ratio=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@register_layer
class Resizing(_ImageLayer):
    """Resize to (height, width) as Keras' torch backend does (also in inference)."""

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False, fill_mode: str = "constant", fill_value: float = 0.0,
                 antialias: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.interpolation = _check_choice(interpolation, ("bilinear", "nearest", "bicubic", "area"),
                                           "interpolation", "Resizing")  # fmt: skip
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Resizing: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True. Expected at most "
                "one. Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True. Set one of them to False."
            )
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)
        self.fill_mode = _check_choice(fill_mode, ("constant",), "fill_mode", "Resizing")
        self.fill_value, self.antialias = float(fill_value), bool(antialias)

    def _convert_inputs(self, inputs: Any) -> Any:
        # Keras keeps an integer image's dtype (a uint8 batch resizes to uint8): do not make NumPy input float32.
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "ui" and inputs.dtype != np.uint64:
            return torch.from_numpy(np.ascontiguousarray(inputs))
        return super()._convert_inputs(inputs)

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        out = super().call(inputs, training)
        if inputs.is_floating_point() or out.dtype == inputs.dtype:
            return out
        # As Keras: round, clamp to the integer range (a saturating cast), then cast back.
        info = torch.iinfo(inputs.dtype)
        return out.round().clamp(info.min, info.max).to(inputs.dtype)

    def transform(self, images, training):
        return A.resize(images, (self.height, self.width), self.interpolation, self.crop_to_aspect_ratio,
                        self.pad_to_aspect_ratio, self.fill_value, self.antialias)  # fmt: skip

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], self.height, self.width, input_shape[-1])

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "seed"}
        return {**config, "height": self.height, "width": self.width, "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}  # fmt: skip


@register_layer
class CenterCrop(_ImageLayer):
    """The central (height, width) window (smaller images are resized with Keras' smart_resize), always."""

    def __init__(self, height: int, width: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)

    def transform(self, images, training):
        return A.center_crop(images, self.height, self.width)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], self.height, self.width, input_shape[-1])

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "seed"}
        return {**config, "height": self.height, "width": self.width}
