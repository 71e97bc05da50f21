"""Fast BatchNorm residual networks sized for CPUs: ResNetXS, ResNetS and ResNetM.

The shape of the "ResNet-9" that trains CIFAR-10 to 94% in minutes (D. Page, "How to train your ResNet", 2018;
Myrtle.ai's DAWNBench entry), scaled down for small images on a CPU: a 3x3 stem, then stages of a 3x3 conv that widens
the channels, a 2x2 max pool that halves the map, and one residual block (two 3x3 convs with BatchNorm, identity
shortcut), then global average pooling and the classifier. Pooling early keeps the expensive convolutions on small
maps, so a 28x28 image costs about 16 million multiply-adds in ResNetS. ResNetXS pools right after its stem and has
a single stage, about 7.5 million: half of ResNetS's training time, for the shortest budgets.

========  ===============  ==========  ==================================================
name      stem, stages     parameters  made for
========  ===============  ==========  ==================================================
ResNetXS  32, (64,)            94,122  28-32 px images when minutes are few (pools after the stem)
ResNetS   24, (32, 64)        119,426  28-32 px images (Fashion-MNIST, CIFAR) on 2 cores
ResNetM   32, (64, 128)       464,170  the same images with more minutes, or 48-64 px
========  ===============  ==========  ==================================================

Parameter counts are for the default 32x32x3 input and 10 classes (convs without bias, BatchNorm gamma and beta, the
classifier); they are this module's own figures, derived from the table above. Layer names follow Keras'
applications (``stem_conv``, ``stage1_block_conv1``, ``predictions``) so ``get_layer(...)`` lines read naturally.
BatchNorm uses momentum 0.9 and epsilon 1e-5 (short CPU runs take few steps; 0.99 would leave the moving statistics
behind), convolutions He normal initialisation. No pretrained weights: these are for training from scratch.

Example:
    >>> import cnnkit
    >>> model = cnnkit.applications.ResNetS(input_shape=(28, 28, 1), classes=10)
    >>> model(torch.zeros(1, 28, 28, 1)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

from typing import Any

import torch  # noqa: F401 - the module docstring's example uses it

from cnnkit.applications import _builder
from cnnkit.applications.registry import register_model
from cnnkit.layers import Add, BatchNormalization, Conv2D, Dense, GlobalAveragePooling2D, MaxPooling2D, ReLU
from cnnkit.models import Model

__all__ = ["ResNetM", "ResNetS", "ResNetXS"]

WIDTHS = {"ResNetXS": (32, (64,)), "ResNetS": (24, (32, 64)), "ResNetM": (32, (64, 128))}
STEM_POOL = {"ResNetXS"}  # these halve the map right after the stem
NUM_PARAMS = {"ResNetXS": 94_122, "ResNetS": 119_426, "ResNetM": 464_170}
_SOURCE = "cnnkit's own architecture; counts derived in resnet_small.py (32x32x3 input, 10 classes)"


def _conv_bn_relu(x: Any, filters: int, name: str, relu: bool = True) -> Any:
    x = Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    return ReLU(name=f"{name}_relu")(x) if relu else x


def _small_resnet(
    public: str,
    include_top: bool,
    weights: Any,
    input_tensor: Any,
    input_shape: Any,
    pooling: Any,
    classes: int,
    classifier_activation: Any,
    name: str,
) -> Any:
    _builder.check_arguments(weights, {}, include_top, classes, pooling)
    stem, stages = WIDTHS[public]
    inputs = _builder.make_input(input_shape, input_tensor, (32, 32, 3), 4 * len(stages), require_default=False)
    x = _conv_bn_relu(inputs, stem, "stem")
    if public in STEM_POOL:
        x = MaxPooling2D(2, name="stem_pool")(x)
    for i, filters in enumerate(stages, start=1):
        x = _conv_bn_relu(x, filters, f"stage{i}")
        x = MaxPooling2D(2, name=f"stage{i}_pool")(x)
        y = _conv_bn_relu(x, filters, f"stage{i}_block1")
        y = _conv_bn_relu(y, filters, f"stage{i}_block2", relu=False)
        x = ReLU(name=f"stage{i}_out")(Add(name=f"stage{i}_add")([x, y]))
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model, weights, {}, include_top=include_top, top_layers=("predictions",), from_torchvision=None, from_keras=None
    )
    return model


def _make(public: str):
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
        return _small_resnet(
            public, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name
        )

    builder.__name__ = builder.__qualname__ = public
    builder.__doc__ = f"""Builds {public}, a fast BatchNorm ResNet for CPUs ({NUM_PARAMS[public]:,} parameters).

    Args:
        include_top: Whether to include global average pooling and the ``predictions`` classifier.
        weights: ``None`` or a path to a cnnkit ``.safetensors``/``.cnnkit`` file.
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, channels)``, default 32x32x3; 28x28x1 for Fashion-MNIST.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'``.
        classes: Number of classes (default 10).
        classifier_activation: Activation of ``predictions``; ``None`` returns logits.
        name: Model name.
    """
    return register_model(public, family="resnet_small", num_params=NUM_PARAMS[public], num_params_source=_SOURCE)(
        builder
    )


ResNetXS, ResNetS, ResNetM = (_make(n) for n in WIDTHS)
