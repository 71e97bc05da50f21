"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, "Gradient-based learning applied to document recognition").

Variant: the common modern rendering of the paper's architecture, 61,706 parameters on 32x32x1 with 10 classes:
C1 conv 6@5x5 -> S2 2x2 average pooling -> C3 conv 16@5x5 -> S4 2x2 average pooling -> C5 fully connected 120 ->
F6 84 -> output, tanh activations. Simplifications against the paper (as in most textbooks and tutorials): C3 is
fully connected to S2's six maps (the paper's connection table has 60 kernels instead of 96), S2/S4 have no
trainable coefficient and bias, activations are plain tanh (not 1.7159 tanh(2x/3)), and the output is a Dense
layer with softmax instead of Euclidean RBF units. C5 is a Dense layer on the flattened 5x5x16 map, which on
32x32 inputs is the same as the paper's 5x5 convolution. No pretrained weights.

Example:
    >>> import cnnkit
    >>> model = cnnkit.applications.LeNet5()          # 32x32x1 -> 10 classes
    >>> model.count_params()
    61706
"""

from __future__ import annotations

from typing import Any

from cnnkit.applications import _builder
from cnnkit.applications.registry import register_model
from cnnkit.layers import AveragePooling2D, Conv2D, Dense, Flatten
from cnnkit.models import Model

__all__ = ["LeNet5"]

WEIGHTS: dict = {}


@register_model(
    "LeNet5",
    family="lenet",
    num_params=61_706,
    num_params_source="LeCun et al. 1998 architecture as commonly implemented (see module docstring); 32x32x1, 10",
)
def LeNet5(  # noqa: N802 - Keras-style builder name
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: Any = "softmax",
    name: str = "lenet5",
) -> Any:
    """Builds LeNet-5 (see the module docstring for the exact variant).

    Args:
        include_top: Whether to include the three fully connected layers.
        weights: ``None`` or a path to a cnnkit weights file (there is no published set).
        input_tensor: Optional symbolic tensor to use as input.
        input_shape: ``(height, width, channels)``, default ``(32, 32, 1)``; 28x28 MNIST needs padding to 32.
        pooling: With ``include_top=False``: ``None``, ``'avg'`` or ``'max'`` global pooling of the S4 maps.
        classes: Number of output classes.
        classifier_activation: Activation of the output layer (``None`` for logits).
        name: Model name.
    """
    _builder.check_arguments(weights, WEIGHTS, include_top, classes, pooling)
    inputs = _builder.make_input(input_shape, input_tensor, (32, 32, 1), 12, require_default=False)
    x = Conv2D(6, 5, activation="tanh", name="conv1")(inputs)
    x = AveragePooling2D(2, name="pool1")(x)
    x = Conv2D(16, 5, activation="tanh", name="conv2")(x)
    x = AveragePooling2D(2, name="pool2")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(120, activation="tanh", name="fc1")(x)
        x = Dense(84, activation="tanh", name="fc2")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _builder.apply_pooling(x, pooling)
    model = Model(inputs, x, name=name)
    _builder.load_weights(
        model,
        weights,
        WEIGHTS,
        include_top=include_top,
        top_layers=("fc1", "fc2", "predictions"),
        from_torchvision=None,
        from_keras=None,
    )
    return model
