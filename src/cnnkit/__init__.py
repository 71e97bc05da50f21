"""cnnkit: from a folder of images to an accurate, explained, deployable CNN, with a Keras-faithful API on PyTorch.

Tutorial Keras code runs with ``tensorflow.keras`` replaced by ``cnnkit``::

    from cnnkit.models import Sequential
    from cnnkit.layers import Conv2D, MaxPooling2D, Flatten, Dense
"""

__version__ = "0.1.0"

from cnnkit import (  # noqa: E402
    activations,
    applications,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    optimizers,
    regularizers,
    utils,
)
from cnnkit.layers import Input  # noqa: E402
from cnnkit.layers.naming import clear_session  # noqa: E402
from cnnkit.models import Model, Sequential  # noqa: E402

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "__version__",
    "activations",
    "applications",
    "callbacks",
    "clear_session",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "optimizers",
    "regularizers",
    "utils",
]
