"""Test-only access to Keras 3's ``keras.applications`` builders, the reference for cnnkit's Keras-named zoo.

One builder needs a workaround: ``keras.applications.NASNetMobile`` raises on the torch backend before building
anything (keras/src/applications/nasnet.py, ``NASNetMobile``: ``if backend.backend() == "torch": raise
ValueError("NASNetMobile is not available with the torch backend at this time due to an outstanding bug...")``;
Keras' own applications_test.py skips it as "NASNetMobile pretrained incorrect with torch backend", i.e. the
problem Keras saw is with its pretrained file, not the architecture). NASNetLarge has no such guard. So NASNetMobile
is built here by calling Keras' own ``nasnet.NASNet`` with exactly the arguments ``NASNetMobile`` passes it
(penultimate_filters=1056, num_blocks=4, stem_block_filters=32, skip_reduction=False, filter_multiplier=2,
default_size=224, and its 224x224 default input without the top): Keras' architecture, unchanged, and its published
count (5,326,716) comes out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def keras_application(name: str) -> Callable[..., Any]:
    """``keras.applications.<name>``, or for NASNetMobile the equivalent call of Keras' ``nasnet.NASNet``."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if name != "NASNetMobile":
        return getattr(keras.applications, name)
    from keras.src.applications import nasnet

    def nasnet_mobile(input_shape=None, include_top=True, weights=None, input_tensor=None, pooling=None,
                      classes=1000, classifier_activation="softmax", name="nasnet_mobile"):  # fmt: skip
        if not include_top and input_shape is None:
            input_shape = (224, 224, 3)
        return nasnet.NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                             skip_reduction=False, filter_multiplier=2, include_top=include_top, weights=weights,
                             input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=224,
                             classifier_activation=classifier_activation, name=name)  # fmt: skip

    return nasnet_mobile
