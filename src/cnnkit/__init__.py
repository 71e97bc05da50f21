"""cnnkit: from a folder of images to an accurate, explained, deployable CNN, with a Keras-faithful API on PyTorch.

Tutorial Keras code runs with ``tensorflow.keras`` replaced by ``cnnkit``::

    from cnnkit.models import Sequential
    from cnnkit.layers import Conv2D, MaxPooling2D, Flatten, Dense
"""

import os as _os

# How OpenMP threads wait between parallel regions. libgomp's default spins 300,000 times, which makes torch 2-10x
# slower when the cores are shared with other processes; not spinning at all (OMP_WAIT_POLICY=PASSIVE) costs a
# quarter of the speed on an idle machine, where a step's many small regions follow each other within microseconds.
# A short spin keeps both (measured on 2 cores: ResNetS fit on Fashion-MNIST, idle, 51.6 ms a batch against 65.2
# passive and 50.1 with the default; 20 tutorial-CNN steps under a load of 5, 2.61 s against 2.54 passive and 6.99
# with the default). Intel's OpenMP (KMP_BLOCKTIME) keeps the passive wait. The runtime reads these when torch is
# first imported, so they only take effect if cnnkit is imported before torch; a user's own setting wins, and a user
# who sets OMP_WAIT_POLICY gets that policy.
_os.environ.setdefault("GOMP_SPINCOUNT", "3000")
_os.environ.setdefault("KMP_BLOCKTIME", "0")

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
