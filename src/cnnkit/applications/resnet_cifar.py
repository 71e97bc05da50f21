"""The CIFAR-10 ResNets of He et al. 2015 (arXiv:1512.03385, section 4.2): ResNet20/32/44/56/110.

Architecture (the paper's): a 3x3 conv with 16 filters, then three stages of n basic blocks (two 3x3 convs with
BatchNorm) on 32x32, 16x16 and 8x8 maps with 16, 32 and 64 filters (depth = 6n + 2), global average pooling and a
10-way fully connected layer. Shortcuts are identities everywhere; where the shape changes, option A: the input is
subsampled by taking every second pixel and the new channels are zeros (no parameters). The paper's table gives
0.27M / 0.46M / 0.66M / 0.85M / 1.7M parameters; the exact counts are 269,722 / 464,154 / 658,586 / 853,018 /
1,727,962 (convs without bias + BN gamma/beta + the 650-parameter classifier; BN moving statistics, which Keras'
``count_params`` also counts, are buffers, not parameters). Strided convs pad 1 on every side like the torch
reference implementations. BatchNorm: epsilon 1e-5, momentum 0.9; convs use He normal initialisation as in the
paper. No pretrained weights (they train in minutes: see ``examples/transfer_learning.py``).

Example:
    >>> import cnnkit
    >>> model = cnnkit.applications.ResNet20(input_shape=(32, 32, 3), classes=10)
    >>> model(torch.zeros(1, 32, 32, 3)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

from typing import Any

import torch

from cnnkit.applications import _builder
from cnnkit.applications.registry import register_model
from cnnkit.layers import (
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    Layer,
    ReLU,
    ZeroPadding2D,
    register_layer,
)
from cnnkit.models import Model

__all__ = ["ResNet20", "ResNet32", "ResNet44", "ResNet56", "ResNet110", "ShortcutA"]

DEPTHS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
_SOURCE = "He et al. 2015 Table 6 (0.27M/0.46M/0.66M/0.85M/1.7M); exact count derived in resnet_cifar.py"


@register_layer
class ShortcutA(Layer):
    """Option A shortcut: subsample by `strides` and zero-pad the channels to `filters` (no weights).

    Example:
        >>> ShortcutA(32, strides=2)(torch.zeros(1, 32, 32, 16)).shape
        torch.Size([1, 16, 16, 32])
    """

    def __init__(self, filters: int, strides: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"`filters` must be a positive integer. Received: filters={filters!r}. Pass e.g. 32.")
        if not isinstance(strides, int) or strides < 1:
            raise ValueError(f"`strides` must be a positive integer. Received: strides={strides!r}. Pass e.g. 2.")
        self.filters, self.strides = filters, strides

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        x = inputs[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        if extra < 0:
            raise ValueError(
                f"ShortcutA cannot reduce channels. Expected at most {self.filters} input channels. Received: "
                f"{x.shape[-1]} channels. Use a projection (1x1 conv) shortcut instead."
            )
        # zeros split evenly before/after the existing channels, as the torch reference implementations do
        return torch.nn.functional.pad(x, (extra // 2, extra - extra // 2))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, h, w, _ = input_shape
        h = None if h is None else -(-h // self.strides)
        w = None if w is None else -(-w // self.strides)
        return (batch, h, w, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def _conv_bn(x: Any, filters: int, strides: int, name: str, bn_name: str, relu: str | None) -> Any:
    if strides > 1:
        x = ZeroPadding2D(1, name=f"{name}_pad")(x)
    padding = "valid" if strides > 1 else "same"
    x = Conv2D(filters, 3, strides=strides, padding=padding, use_bias=False, kernel_initializer="he_normal",
               name=name)(x)  # fmt: skip
    x = BatchNormalization(epsilon=1e-5, momentum=0.9, name=bn_name)(x)
    return ReLU(name=relu)(x) if relu else x


def _cifar_resnet(depth: int, include_top: bool, weights: Any, input_tensor: Any, input_shape: Any, pooling: Any,
                  classes: int, classifier_activation: Any, name: str) -> Any:  # fmt: skip
    _builder.check_arguments(weights, {}, include_top, classes, pooling)
    inputs = _builder.make_input(input_shape, input_tensor, (32, 32, 3), 8, require_default=False)
    n = (depth - 2) // 6
    x = _conv_bn(inputs, 16, 1, "conv1", "bn1", "relu")
    channels = 16
    for stage, filters in enumerate((16, 32, 64), start=1):
        for i in range(n):
            strides, p = (2 if (i == 0 and stage > 1) else 1), f"layer{stage}_{i}"
            y = _conv_bn(x, filters, strides, f"{p}_conv1", f"{p}_bn1", f"{p}_relu1")
            y = _conv_bn(y, filters, 1, f"{p}_conv2", f"{p}_bn2", None)
            if strides != 1 or channels != filters:
                x = ShortcutA(filters, strides, name=f"{p}_shortcut")(x)
            x = ReLU(name=f"{p}_relu")(Add(name=f"{p}_add")([y, x]))
            channels = filters
    if include_top:
        x = GlobalAveragePooling2D(name="avgpool")(x)
        x = Dense(classes, activation=classifier_activation, name="fc")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model, weights, {}, include_top=include_top, top_layers=("fc",), from_torchvision=None, from_keras=None
    )
    return model


def _make(depth: int):
    public = f"ResNet{depth}"

    def builder(
        include_top: bool = True,
        weights: str | None = None,
        input_tensor: Any = None,
        input_shape: tuple[int, int, int] | None = None,
        pooling: str | None = None,
        classes: int = 10,
        classifier_activation: Any = "softmax",
        name: str = public.lower(),
    ) -> Any:
        return _cifar_resnet(depth, include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)  # fmt: skip

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = f"""Builds the CIFAR {public} of He et al. 2015 ({DEPTHS[depth]:,} parameters, 10 classes).

    Args:
        include_top: Whether to include global average pooling and the ``fc`` classifier.
        weights: ``None`` or a path to a cnnkit ``.safetensors``/``.cnnkit`` file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, channels)``, default 32x32x3 (Fashion-MNIST: pad to 32x32x1).
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (default 10).
        classifier_activation: Activation of ``fc``; ``None`` returns logits.
        name: Model name.
    """
    return register_model(public, family="resnet_cifar", num_params=DEPTHS[depth], num_params_source=_SOURCE)(builder)


ResNet20, ResNet32, ResNet44, ResNet56, ResNet110 = (_make(d) for d in DEPTHS)
