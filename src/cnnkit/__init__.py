"""cnnkit: from a folder of images to an accurate, explained, deployable CNN, with a Keras-faithful API on PyTorch.

Tutorial Keras code runs with ``tensorflow.keras`` replaced by ``cnnkit``::

    from cnnkit.models import Sequential
    from cnnkit.layers import Conv2D, MaxPooling2D, Flatten, Dense
"""

import os as _os

# OpenMP threads that wait by spinning make torch ~10x slower when the cores are shared with other processes (measured:
# 20 training steps of the tutorial CNN, 2 threads, load 5 on 2 cores: 10.2 s spinning vs 0.9 s passive). libgomp reads
# this when torch is first imported, so it only takes effect if cnnkit is imported before torch; users can override it.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from cnnkit import (  # noqa: E402
    activations,
    applications,
    backend,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    utils,
)
from cnnkit._version import __version__  # noqa: E402
from cnnkit.common.naming import clear_session  # noqa: E402
from cnnkit.layers import Input  # noqa: E402
from cnnkit.models import Model, Sequential  # noqa: E402

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "__version__",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "clear_session",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "ops",
    "optimizers",
    "random",
    "preprocessing",
    "regularizers",
    "utils",
]
